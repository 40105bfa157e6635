"""The streaming dataset validator: one pass, constant memory, every problem with its line.

Input is any iterable of byte chunks (a local file read in blocks, or an S3 object body),
so the CLI and the Lambda run exactly the same code. Memory does not grow with the file:
lines are handled one at a time, problems beyond a cap are counted but not kept, and the
duplicate check keeps a bounded number of fingerprints.
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from customization.catalog import ModelSpec
from customization.validation.problems import ProblemLog
from customization.validation.records import CHECKERS, EXAMPLES, RecordContext
from customization.validation.tokens import estimate_tokens

CHUNK_BYTES = 1 << 20
# Fingerprints kept for duplicate and overlap warnings (about 100 bytes each). Far above
# every model's record quota, so only files that already fail the record count go past it.
DUPLICATE_TRACKING_LIMIT = 250_000
# Role markers and separators the model sees around each message, on top of its text.
TOKENS_PER_TEXT_OVERHEAD = 4

R_ENCODING = "encoding"
R_BOM = "byte-order-mark"
R_BLANK = "blank-line"
R_JSON = "json"
R_OBJECT = "record-type"
R_TOKENS = "token-limit"
R_DUPLICATE = "duplicate"
R_OVERLAP = "train-validation-overlap"


def iter_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its end-of-line) from a stream of byte chunks."""
    number, pending = 0, b""
    for chunk in chunks:
        if not chunk:
            continue
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            number += 1
            yield number, line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield number + 1, pending[:-1] if pending.endswith(b"\r") else pending


def read_chunks(stream, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Blocks of a binary file object or a botocore StreamingBody, until it is exhausted."""
    while chunk := stream.read(size):
        yield chunk


def split_key(line: bytes) -> int:
    """A stable 64-bit fingerprint of a line: the same record lands on the same side of a split.

    CRC-32 and Adler-32 rather than a cryptographic hash: the split needs an even spread
    that never changes between runs or Python versions, not secrecy, and this runs on
    every record at twice the speed of blake2b.
    """
    return zlib.crc32(line) << 32 | zlib.adler32(line)


@dataclass
class FileScan:
    """What one pass over a file found."""

    name: str
    bytes: int = 0
    lines: int = 0
    records: int = 0  # well-formed records
    tokens: int = 0  # conservative estimate over well-formed records
    max_record_tokens: int = 0
    duplicates: int = 0
    split_keys: array = field(default_factory=lambda: array("Q"))  # one per well-formed record


class DatasetScanner:
    """Validates the records of one or more files of one dataset against one model."""

    def __init__(
        self,
        model: ModelSpec,
        data_format: str,
        log: ProblemLog,
        *,
        token_limit: int,
        dataset_bucket: str | None = None,
    ) -> None:
        self.model = model
        self.data_format = data_format
        self.log = log
        self.token_limit = token_limit
        self.dataset_bucket = dataset_bucket
        self._checker = CHECKERS[data_format]
        self.training_fingerprints: dict[int, int] = {}

    def scan(self, name: str, lines: Iterable[tuple[int, bytes]], *, is_validation: bool = False) -> FileScan:
        """Check every line of `name`; for the validation file, also warn on records shared with training."""
        scan = FileScan(name)
        log, checker, limit, loads = self.log, self._checker, self.token_limit, json.loads
        context = RecordContext(file=name, log=log, model=self.model, dataset_bucket=self.dataset_bucket)
        seen: dict[int, int] = {}
        training = self.training_fingerprints if is_validation else None
        keys = scan.split_keys
        # Counted in locals, not on `scan`: this loop runs once a record, at JSON-parsing speed.
        number = size = records = total_tokens = largest = duplicates = 0
        for number, raw in lines:
            size += len(raw) + 1
            if not raw or raw.isspace():
                log.error(name, number, R_BLANK, "blank line: every line must hold one JSON record; delete it")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                log.error(
                    name, number, R_ENCODING, f"not UTF-8 (byte {error.start + 1} of the line): save the file as UTF-8"
                )
                continue
            if number == 1 and text.startswith("\ufeff"):
                log.error(name, number, R_BOM, "the file starts with a byte-order mark: save it as UTF-8 without BOM")
                text = text[1:]
            try:
                record = loads(text)
            except (json.JSONDecodeError, RecursionError) as error:
                log.error(
                    name, number, R_JSON, f"not valid JSON ({_json_problem(error)}); {_expected(self.data_format)}"
                )
                continue
            if type(record) is not dict:
                log.error(name, number, R_OBJECT, f"a line must be one JSON object; {_expected(self.data_format)}")
                continue
            texts = checker(record, number, context)
            if texts is None:
                continue
            joined = "\x00".join(texts)
            tokens = estimate_tokens(joined) + TOKENS_PER_TEXT_OVERHEAD * len(texts)
            if tokens > limit:
                log.error(
                    name,
                    number,
                    R_TOKENS,
                    f"about {tokens:,} tokens (conservative estimate), over the {limit:,} a record may have for "
                    f"{self.model.name}: shorten or split this record",
                )
                continue
            records += 1
            total_tokens += tokens
            if tokens > largest:
                largest = tokens
            keys.append(split_key(raw))
            fingerprint = hash(joined)
            first = seen.get(fingerprint)
            if first is not None:
                duplicates += 1
                log.warning(name, number, R_DUPLICATE, f"same text as line {first}: duplicates weigh one example twice")
            elif len(seen) < DUPLICATE_TRACKING_LIMIT:
                seen[fingerprint] = number
            if training is not None and fingerprint in training:
                log.warning(
                    name,
                    number,
                    R_OVERLAP,
                    f"same text as training line {training[fingerprint]}: validation loss on seen examples flatters "
                    "the model; remove it from one of the files",
                )
        scan.lines, scan.bytes, scan.records = number, size, records
        scan.tokens, scan.max_record_tokens, scan.duplicates = total_tokens, largest, duplicates
        if not is_validation:
            self.training_fingerprints = seen
        return scan


def _json_problem(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"
    return "nested too deeply"


def _expected(data_format: str) -> str:
    return f"expected one object per line like {EXAMPLES[data_format]}"
