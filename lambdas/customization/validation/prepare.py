"""Preparing data Bedrock will accept: plain text into records, and a held-out validation set.

Both are deterministic (same input, same output), so a re-run of the same upload trains on
exactly the same data.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from customization.validation.problems import ProblemLog
from customization.validation.scanner import R_ENCODING, R_LINE, LongLine, max_line_bytes, split_key, wide_encoding
from customization.validation.tokens import BYTES_PER_TOKEN, estimate_tokens

# Chunks stay this far under the model's limit: the estimate is conservative, but the cost
# of a record that is too long is a job that fails hours in.
CHUNK_SAFETY_MARGIN = 0.8
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")  # noqa: RUF001 (CJK sentence ends, on purpose)


@dataclass(frozen=True)
class SplitPlan:
    """Records whose split key is at most `threshold` go to validation."""

    ratio: float
    threshold: int
    train_records: int
    validation_records: int


def plan_split(split_keys: array, ratio: float) -> SplitPlan | None:
    """Hold out about `ratio` of the records, chosen by content hash, not by position.

    Choosing by hash keeps the choice stable when records are reordered or appended, and
    puts identical records on the same side, so none leaks from training into validation.
    """
    total = len(split_keys)
    if total < 2:
        return None
    wanted = min(total - 1, max(1, round(total * ratio)))
    threshold = sorted(split_keys)[wanted - 1]
    held_out = sum(1 for key in split_keys if key <= threshold)
    return SplitPlan(ratio=ratio, threshold=threshold, train_records=total - held_out, validation_records=held_out)


def write_split(lines: Iterable[tuple[int, bytes]], plan: SplitPlan, train: BinaryIO, validation: BinaryIO) -> None:
    for _, raw in lines:
        if raw.strip():
            (validation if split_key(raw) <= plan.threshold else train).write(raw + b"\n")


def write_lines(lines: Iterable[tuple[int, bytes]], out: BinaryIO) -> None:
    for _, raw in lines:
        if raw.strip():
            out.write(raw + b"\n")


def text_to_input_records(
    lines: Iterable[tuple[int, bytes]], token_limit: int, *, log: ProblemLog, file: str
) -> Iterator[tuple[int, bytes]]:
    """Plain text into `{"input": ...}` JSON lines, each under the token limit with a margin.

    Paragraphs (separated by blank lines) are packed together; a paragraph too long for one
    record is cut at sentence ends, then at spaces. Each record is numbered with the text
    line it starts at, so problems point into the `.txt` file. Memory stays bounded: a
    paragraph is handed on in parts of at most `max_line_bytes(token_limit)` (cut at line
    ends), and a single line longer than that is reported, not converted.
    """
    budget = max(1, int(token_limit * CHUNK_SAFETY_MARGIN))
    chunk: list[str] = []
    chunk_tokens, chunk_line = 0, 0
    for start, paragraph in _paragraphs(lines, log, file, max_line_bytes(token_limit)):
        for piece in _pieces(paragraph, budget):
            tokens = estimate_tokens(piece) + 1
            if chunk and chunk_tokens + tokens > budget:
                yield chunk_line, _record("\n\n".join(chunk))
                chunk, chunk_tokens = [], 0
            if not chunk:
                chunk_line = start
            chunk.append(piece)
            chunk_tokens += tokens
    if chunk:
        yield chunk_line, _record("\n\n".join(chunk))


def _record(text: str) -> bytes:
    return json.dumps({"input": text}, ensure_ascii=False).encode("utf-8")


def _paragraphs(
    lines: Iterable[tuple[int, bytes]], log: ProblemLog, file: str, max_bytes: int
) -> Iterator[tuple[int, str]]:
    """(first line, text) of each paragraph; one longer than `max_bytes` comes in parts."""
    current: list[str] = []
    start = size = 0
    for number, raw in lines:
        if number == 1 and (encoding := wide_encoding(raw)):
            # Every line of it would fail: say it once, and convert nothing.
            log.error(file, 1, R_ENCODING, f"the file is {encoding}, not UTF-8: save it as UTF-8")
            return
        if type(raw) is LongLine:
            log.error(
                file,
                number,
                R_LINE,
                f"{raw.size:,} bytes on one line, more than {max_bytes:,}: break it into paragraphs "
                "(a blank line between them)",
            )
            text = ""
        elif b"\x00" in raw:
            log.error(
                file,
                number,
                R_ENCODING,
                f"the line holds a NUL byte (byte {raw.index(0) + 1}): is the file binary, or text saved as "
                "UTF-16? save it as UTF-8 text",
            )
            continue
        else:
            try:
                text = raw.decode("utf-8").removeprefix("\ufeff").rstrip()
            except UnicodeDecodeError as error:
                log.error(
                    file, number, R_ENCODING, f"not UTF-8 (byte {error.start + 1} of the line): save the file as UTF-8"
                )
                continue
        if text.strip():
            if not current:
                start = number
            current.append(text)
            size += len(raw)
            if size > max_bytes:
                yield start, "\n".join(current)
                current, size = [], 0
        elif current:
            yield start, "\n".join(current)
            current, size = [], 0
    if current:
        yield start, "\n".join(current)


def _pieces(paragraph: str, budget: int) -> Iterator[str]:
    if estimate_tokens(paragraph) < budget:
        yield paragraph
        return
    for sentence_group in _pack(_SENTENCE_END.split(paragraph), budget, " "):
        if estimate_tokens(sentence_group) < budget:
            yield sentence_group
        else:
            yield from _pack_words(sentence_group, budget)


def _pack(parts: list[str], budget: int, joiner: str) -> Iterator[str]:
    group: list[str] = []
    size = 0
    for part in parts:
        tokens = estimate_tokens(part) + 1
        if group and size + tokens >= budget:
            yield joiner.join(group)
            group, size = [], 0
        group.append(part)
        size += tokens
    if group:
        yield joiner.join(group)


def _pack_words(text: str, budget: int) -> Iterator[str]:
    for group in _pack(text.split(" "), budget, " "):
        # A "word" longer than the budget (a URL, a base64 blob): cut it into the longest
        # pieces under the budget, measured in bytes as the estimate is (not in characters,
        # which for 4-byte characters would give pieces over it).
        while estimate_tokens(group) >= budget:
            head = group.encode("utf-8")[: (budget - 1) * BYTES_PER_TOKEN].decode("utf-8", "ignore") or group[0]
            group = group[len(head) :]
            yield head
        if group:
            yield group
