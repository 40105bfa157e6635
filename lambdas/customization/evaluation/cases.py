"""Validation records turned into questions with known answers, for the Evaluate step.

A record's last assistant turn (or completion) is the expected answer; everything before
it is what both models are asked, as a Converse request. Records the comparison cannot be
fair on are left out, and counted: media blocks (the base-model call would need the same
S3 access the job had) and continued pre-training text, which has no answer at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from customization.catalog import BEDROCK_CONVERSATION, CLAUDE_MESSAGES, INPUT_TEXT, PROMPT_COMPLETION
from customization.evaluation.metrics import sample


@dataclass(frozen=True)
class Case:
    line: int  # 1-based line in the validation file
    system: tuple[str, ...]
    messages: tuple[dict, ...]  # Converse messages: {"role": ..., "content": [{"text": ...}]}
    reference: str

    @property
    def prompt(self) -> str:
        """The last question asked, for reports."""
        return self.messages[-1]["content"][0]["text"]

    def converse_request(self, system_prompts: bool) -> dict:
        """`system` and `messages` for Converse; without system prompts (Titan) the system
        text opens the first user turn, which is how such a model saw it in training."""
        if not self.system:
            return {"messages": [dict(m) for m in self.messages]}
        if system_prompts:
            return {"system": [{"text": text} for text in self.system], "messages": [dict(m) for m in self.messages]}
        first, *rest = self.messages
        opening = "\n\n".join([*self.system, first["content"][0]["text"]])
        return {"messages": [{"role": first["role"], "content": [{"text": opening}]}, *(dict(m) for m in rest)]}


@dataclass
class CaseSelection:
    cases: list[Case]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records left out of the sample


class _Unusable(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def select_cases(lines: Iterable[bytes], data_format: str, size: int) -> CaseSelection:
    """The deterministic sample (see `evaluation.sample`) of usable records, parsed.

    `skipped` counts the records the sample drew but could not use, by reason; their
    places went to the next records in checksum order.
    """
    skipped: dict[str, int] = {}
    malformed: dict[str, int] = {}

    def usable(numbered: tuple[int, bytes]) -> Case | None:
        number, line = numbered
        try:
            return _checked(to_case(json.loads(line), data_format, line=number))
        except _Unusable as unusable:
            reason = unusable.reason
        # ValueError covers JSON errors and integers longer than Python reads (4,300 digits);
        # RecursionError, nesting deeper than it reads.
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
            # Validation passed this file, so this is rare: say where, and go on.
            first = malformed.setdefault("line", number)
            reason = f"not a record of the run's data format (the first at line {first})"
        skipped[reason] = skipped.get(reason, 0) + 1
        return None

    # A byte-order mark opens the first line of files saved by some editors: not part of the record.
    stripped = (line.strip().removeprefix(b"\xef\xbb\xbf") for line in lines)
    numbered = ((number, line) for number, line in enumerate(stripped, start=1) if line)
    chosen = sample(numbered, size, usable, content=lambda item: item[1])
    return CaseSelection(cases=[case for _, case in chosen], skipped=skipped)


def to_case(record: dict, data_format: str, line: int) -> Case:
    if data_format == INPUT_TEXT:
        raise _Unusable("continued pre-training text has no expected answer")
    if data_format == PROMPT_COMPLETION:
        return Case(line, (), ({"role": "user", "content": [{"text": record["prompt"]}]},), record["completion"])
    if data_format == CLAUDE_MESSAGES:
        system = (record["system"],) if record.get("system") else ()
        turns = [(m["role"], m["content"]) for m in record["messages"]]
    elif data_format == BEDROCK_CONVERSATION:
        system = tuple(block["text"] for block in record.get("system") or [] if block.get("text"))
        turns = [(m["role"], _text_of(m["content"])) for m in record["messages"]]
    else:
        raise ValueError(f"unknown data format {data_format!r}")
    if len(turns) < 2 or turns[-1][0] != "assistant":
        raise _Unusable("no final assistant turn to compare with")
    *asked, (_, reference) = turns
    messages = tuple({"role": role, "content": [{"text": text}]} for role, text in asked)
    return Case(line, system, messages, reference)


def _checked(case: Case) -> Case:
    """`case`, if every text in it is a string Bedrock can read (the run's validation passed
    the file, but this step reads it on its own)."""
    texts = [*case.system, *(m["content"][0]["text"] for m in case.messages), case.reference]
    if not all(isinstance(text, str) for text in texts):
        raise TypeError("a text is not a string")
    for text in texts:
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _Unusable("a lone surrogate escape (such as \\ud800) in the text, which is not Unicode") from None
    return case


def _text_of(content: list[dict]) -> str:
    if any("text" not in block for block in content):
        raise _Unusable("image or video content (evaluated on text-only records)")
    return "\n".join(block["text"] for block in content)
