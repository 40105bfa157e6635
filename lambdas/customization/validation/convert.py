"""Records from the format a tutorial made into the one a model takes (`python -m tools convert`).

Each record is read in the format its shape says (`record_format`: Bedrock conversation,
Claude messages, OpenAI chat, prompt/completion; a record whose shape says nothing is read
in the format of the file's first records), into a `Conversation`, and written in the
target format. A record that cannot be written without losing or inventing something (an
image into prompt/completion, several exchanges into one prompt, roles out of order, a
field the target has no place for) is refused with its line and the reason: nothing is
guessed, and a file converts whole or not at all.

It streams like the validator (`scanner`): one line at a time, memory bounded whatever the
file holds, every problem at its line, never a traceback. When the validator finds a file
in another format than its model's, it checks the records with this same reading
(`mismatch_checks`), so validate and convert agree on which lines stop the conversion.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import BinaryIO

from customization.catalog import BEDROCK_CONVERSATION, CLAUDE_MESSAGES, INPUT_TEXT, PROMPT_COMPLETION, load_catalog
from customization.validation.problems import ProblemLog
from customization.validation.records import (
    CHECKERS,
    EXAMPLES,
    FORMAT_NAMES,
    MIN_KEYS,
    OPENAI_CHAT,
    R_EMPTY,
    R_ENCODING,
    R_REQUIRED,
    R_ROLE,
    R_SCHEMA,
    R_TYPE,
    R_UNEXPECTED,
    ROLES,
    SCHEMA_VERSION,
    SYSTEM_ROLES,
    RecordContext,
    find_lone_surrogate,
    record_format,
    show,
)
from customization.validation.scanner import (
    R_JSON,
    R_LINE,
    R_OBJECT,
    RECORD_DECODER,
    LongLine,
    iter_lines,
    json_problem,
    max_line_bytes,
    peek_format,
    wide_encoding,
)

# `--to` names, as people type them.
TARGETS = {
    "bedrock-conversation": BEDROCK_CONVERSATION,
    "claude": CLAUDE_MESSAGES,
    "prompt-completion": PROMPT_COMPLETION,
}
TARGET_NAMES = {data_format: name for name, data_format in TARGETS.items()}

R_CONVERT = "not-convertible"

# Media and reasoning blocks are copied as they are between conversations: the validator
# checks them against the model (formats, counts, S3 URIs) once the records are converted.
_BLOCK_KINDS = ("text", "image", "video", "reasoningContent")
_BLOCK_NAMES = {"image": "an image", "video": "a video", "reasoningContent": "reasoning content"}
_MISSING = object()


class Refused(ValueError):
    """A record that cannot be converted; `rule` names the problem as validation does."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: tuple[dict, ...]  # Converse content blocks: {"text": ...}, {"image": ...}, ...
    path: str  # where it is in the record read, for messages: "messages[3]", "prompt"


@dataclass(frozen=True)
class Conversation:
    """What a record says, whichever format it was written in."""

    system: tuple[str, ...]
    turns: tuple[Turn, ...]

    @property
    def texts(self) -> list[str]:
        """Its texts, one a text block, as the validator's checkers count them."""
        return [*self.system, *(block["text"] for turn in self.turns for block in turn.content if "text" in block)]


# --- Reading -------------------------------------------------------------------------------------------------


def read_record(record: dict, data_format: str) -> Conversation:
    """The conversation a parsed record in `data_format` holds; Refused when it holds none."""
    reader = _READERS.get(data_format)
    if reader is None:
        raise Refused(
            R_CONVERT,
            f"{FORMAT_NAMES[data_format]} ({EXAMPLES[data_format]}) holds no question and answer to convert: "
            "fine-tuning records need a user question and the assistant's answer",
        )
    return reader(record)


def _read_chat(record: dict) -> Conversation:
    """Claude messages and OpenAI chat: content a plain string, the system prompt a top-level
    string (Claude) or the messages before the first user message (OpenAI)."""
    _allowed(record, frozenset({"system", "messages"}), "record")
    opening = _system_text(record.get("system", _MISSING), "system")
    system = [opening] if opening else []
    turns = []
    for index, message in enumerate(_messages(record)):
        path = f"messages[{index}]"
        role, content = _message(message, path)
        if role in SYSTEM_ROLES:
            if turns:
                raise Refused(
                    R_ROLE,
                    f"{path} is a {role!r} message after the conversation started: Bedrock's formats hold one "
                    "system prompt, before the first user message; move it first, or drop it",
                )
            if text := _system_text(content, f"{path}.content"):
                system.append(text)
            continue
        turns.append(Turn(role, ({"text": _text(content, f"{path}.content")},), path))
    return Conversation(tuple(system), _in_order(turns))


def _read_conversation(record: dict) -> Conversation:
    """Bedrock's conversation format; a missing schemaVersion is added on writing."""
    _allowed(record, frozenset({"schemaVersion", "system", "messages"}), "record")
    version = record.get("schemaVersion", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise Refused(R_SCHEMA, f"schemaVersion is {show(version)}: set it to {SCHEMA_VERSION!r}, or drop it")
    blocks = record.get("system", [])
    if not isinstance(blocks, list):
        raise Refused(R_TYPE, f'system must be a list of {{"text": "..."}} blocks, got {show(blocks)}')
    system = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or block.keys() != {"text"}:
            raise Refused(R_TYPE, f'system[{index}] must be {{"text": "..."}}, got {show(block)}')
        if text := _system_text(block["text"], f"system[{index}].text"):
            system.append(text)
    turns = []
    for index, message in enumerate(_messages(record)):
        path = f"messages[{index}]"
        role, content = _message(message, path)
        if not isinstance(content, list) or not content:
            raise Refused(R_TYPE, f'{path}.content must be a non-empty list of blocks like {{"text": "..."}}')
        turns.append(Turn(role, tuple(_block(block, f"{path}.content[{i}]") for i, block in enumerate(content)), path))
    return Conversation(tuple(system), _in_order(turns))


def _read_prompt_completion(record: dict) -> Conversation:
    _allowed(record, frozenset({"prompt", "completion"}), "record")
    prompt = _text(record.get("prompt", _MISSING), "prompt")
    completion = _text(record.get("completion", _MISSING), "completion")
    return Conversation(
        (), (Turn("user", ({"text": prompt},), "prompt"), Turn("assistant", ({"text": completion},), "completion"))
    )


_READERS: dict[str, Callable[[dict], Conversation]] = {
    BEDROCK_CONVERSATION: _read_conversation,
    CLAUDE_MESSAGES: _read_chat,
    OPENAI_CHAT: _read_chat,
    PROMPT_COMPLETION: _read_prompt_completion,
}


def _allowed(record: dict, allowed: frozenset[str], path: str) -> None:
    extra = record.keys() - allowed
    if extra:
        raise Refused(
            R_UNEXPECTED,
            f"{path} has field(s) {', '.join(sorted(map(show, extra)))} that no Bedrock format has a place for "
            f"(allowed: {', '.join(sorted(allowed))}): remove them",
        )


def _messages(record: dict) -> list:
    messages = record.get("messages", _MISSING)
    if messages is _MISSING:
        raise Refused(R_REQUIRED, "messages is missing")
    if not isinstance(messages, list) or not messages:
        raise Refused(R_TYPE, f"messages must be a non-empty list, got {show(messages)}")
    return messages


def _message(message: object, path: str) -> tuple[object, object]:
    if not isinstance(message, dict):
        raise Refused(R_TYPE, f"{path} must be an object with role and content, got {show(message)}")
    _allowed(message, frozenset({"role", "content"}), path)
    for name in ("role", "content"):
        if name not in message:
            raise Refused(R_REQUIRED, f"{path}.{name} is missing")
    return message["role"], message["content"]


def _text(value: object, path: str) -> str:
    if value is _MISSING:
        raise Refused(R_REQUIRED, f"{path} is missing")
    if not isinstance(value, str):
        raise Refused(R_TYPE, f"{path} must be a string, got {show(value)}")
    if not value or value.isspace():
        raise Refused(R_EMPTY, f"{path} is empty: give it text, or drop the record")
    return value


def _system_text(value: object, path: str) -> str | None:
    """A system prompt's text; None when there is none. An empty one says nothing, so it is left out."""
    if value is _MISSING or (isinstance(value, str) and (not value or value.isspace())):
        return None
    return _text(value, path)


def _block(block: object, path: str) -> dict:
    if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in _BLOCK_KINDS:
        raise Refused(R_TYPE, f'{path} must hold exactly one of "text", "image", "video", got {show(block)}')
    if "text" in block:
        return {"text": _text(block["text"], f"{path}.text")}
    return block


def _in_order(turns: list[Turn]) -> tuple[Turn, ...]:
    """The turns, if they alternate user, assistant, ... from a user question to an answer."""
    for index, turn in enumerate(turns):
        expected = ROLES[index % 2]
        if turn.role not in ROLES:
            raise Refused(
                R_ROLE,
                f"{turn.path}.role is {show(turn.role)}: only 'user' and 'assistant' (and a system prompt first) "
                "are allowed; tool and function calls have no place in Bedrock's fine-tuning formats",
            )
        if turn.role != expected:
            raise Refused(
                R_ROLE,
                f"{turn.path}.role is {show(turn.role)} where {expected!r} was expected: roles must alternate "
                "user, assistant, user, ... starting with user",
            )
    if not turns:
        raise Refused(R_ROLE, "no user or assistant message: a record needs a question and its answer")
    if turns[-1].role != "assistant":
        raise Refused(
            R_ROLE,
            f"the last message ({turns[-1].path}) must be from the assistant: it is the answer the model learns; "
            "add the answer, or drop the question left unanswered",
        )
    return tuple(turns)


# --- Writing -------------------------------------------------------------------------------------------------


def _write_conversation(conversation: Conversation) -> dict:
    record: dict = {"schemaVersion": SCHEMA_VERSION}
    if conversation.system:
        record["system"] = [{"text": text} for text in conversation.system]
    record["messages"] = [{"role": turn.role, "content": list(turn.content)} for turn in conversation.turns]
    return record


def _write_claude(conversation: Conversation) -> dict:
    record: dict = {}
    if conversation.system:
        record["system"] = "\n\n".join(conversation.system)
    record["messages"] = [
        {"role": turn.role, "content": _plain_text(turn, "Claude messages")} for turn in conversation.turns
    ]
    return record


def _write_prompt_completion(conversation: Conversation) -> dict:
    if len(conversation.turns) != 2:
        raise Refused(
            R_CONVERT,
            f"{len(conversation.turns)} messages: a prompt/completion record holds one question and its answer; "
            "split the conversation into records of one exchange each, or train a model that takes conversations",
        )
    question, answer = (_plain_text(turn, "prompt/completion records") for turn in conversation.turns)
    # No system field here: its text opens the prompt, as the evaluation asks such a model.
    return {"prompt": "\n\n".join([*conversation.system, question]), "completion": answer}


def _plain_text(turn: Turn, target: str) -> str:
    for index, block in enumerate(turn.content):
        if "text" not in block:
            kind = next(iter(block))
            raise Refused(
                R_CONVERT,
                f"{turn.path}.content[{index}] is {_BLOCK_NAMES.get(kind, kind)}: {target} hold text only; "
                "drop it, or keep the records as Bedrock conversations for a model that takes it",
            )
    return "\n".join(block["text"] for block in turn.content)


_WRITERS: dict[str, Callable[[Conversation], dict]] = {
    BEDROCK_CONVERSATION: _write_conversation,
    CLAUDE_MESSAGES: _write_claude,
    PROMPT_COMPLETION: _write_prompt_completion,
}


def convert_record(record: dict, target: str, *, system: str | None = None, fallback: str | None = None) -> dict:
    """`record` written in `target` (a value of TARGETS); Refused with the reason when it cannot be.

    `system` replaces the record's system prompt ("" removes it); `fallback` is the format to
    read a record in when its shape names none (the file's, see `peek_format`).
    """
    source = record_format(record) or fallback
    if source is None:
        raise Refused(
            R_CONVERT,
            f"not a record of a known format; expected {', '.join(FORMAT_NAMES[f] for f in _READERS)}",
        )
    conversation = read_record(record, source)
    if system is not None:
        conversation = replace(conversation, system=(system,) if system else ())
    return _WRITERS[target](conversation)


# --- Files ---------------------------------------------------------------------------------------------------


@dataclass
class Conversion:
    """What converting one file did. The refusals are in `log`, one a refused line."""

    file: str
    target: str
    log: ProblemLog
    file_format: str | None = None  # the format its first records are in (`peek_format`)
    converted: int = 0
    refused: int = 0
    blank_lines: int = 0  # left out: they hold no record
    source_formats: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """Every record converted: the output is whole."""
        return self.log.error_count == 0


def longest_line() -> int:
    """The longest line a record of any model could be: longer ones are refused unread."""
    return max_line_bytes(max(model.token_limit() for model in load_catalog().models.values()))


def convert_stream(
    file: str,
    chunks: Iterable[bytes],
    target: str,
    out: BinaryIO,
    *,
    system: str | None = None,
    log: ProblemLog | None = None,
) -> Conversion:
    """Convert the records of `file` (its bytes in `chunks`) into `target`, one JSON line each to `out`.

    `out` gets records only while none has been refused; after a refusal the rest is still
    read, so that every refusal is reported, but nothing more is written. Whoever owns `out`
    keeps it only when `Conversion.ok`.
    """
    conversion = Conversion(file, target, log or ProblemLog())
    lines = iter_lines(chunks, longest_line())
    first = next(lines, None)
    if first is not None and (encoding := wide_encoding(first[1])):
        # Every line of it would be refused: said once, for the file.
        conversion.log.error(file, 1, R_ENCODING, f"the file is {encoding}, not UTF-8: save it as UTF-8")
        return conversion
    conversion.file_format, lines = peek_format(chain([first], lines) if first is not None else ())
    for number, raw in lines:
        converted = _convert_line(conversion, number, raw, system)
        if converted is not None and conversion.ok:
            out.write(converted)
    if conversion.converted == 0 and conversion.ok:
        conversion.log.error(file, None, R_CONVERT, "no records: the file is empty")
    return conversion


def _convert_line(conversion: Conversion, number: int, raw: bytes, system: str | None) -> bytes | None:
    """The converted line for `raw` (with its line end), or None when it holds no record or is refused."""
    if type(raw) is LongLine:
        return _refuse(conversion, number, R_LINE, _too_long(raw))
    if not raw or raw.isspace():
        conversion.blank_lines += 1
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _refuse(
            conversion, number, R_ENCODING, f"not UTF-8 (byte {error.start + 1} of the line): save the file as UTF-8"
        )
    if number == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark some editors write: not part of the record
    try:
        record = RECORD_DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        return _refuse(conversion, number, R_JSON, f"not valid JSON ({json_problem(error)}): fix the line, or drop it")
    if type(record) is not dict:
        return _refuse(conversion, number, R_OBJECT, f"a line must be one JSON object (a record), got {show(record)}")
    try:
        converted = convert_record(record, conversion.target, system=system, fallback=conversion.file_format)
        line = json.dumps(converted, ensure_ascii=False).encode("utf-8") + b"\n"
    except Refused as refusal:
        return _refuse(conversion, number, refusal.rule, str(refusal))
    except UnicodeEncodeError:
        return _refuse(conversion, number, R_ENCODING, _lone_surrogate(record))
    except RecursionError:  # a media block nested as deep as the parser went
        return _refuse(conversion, number, R_JSON, "nested too deeply to write back: simplify the record")
    conversion.converted += 1
    conversion.source_formats[record_format(record) or conversion.file_format] += 1
    return line


def _refuse(conversion: Conversion, number: int, rule: str, message: str) -> None:
    conversion.refused += 1
    conversion.log.error(conversion.file, number, rule, message)


def _too_long(line: LongLine) -> str:
    message = (
        f"{line.size:,} bytes on one line, more than {longest_line():,}: no record any Bedrock model takes is that "
        "long; shorten or split this record"
    )
    if line.carriage_returns:
        message += ". It holds carriage returns and no line feed: save the file with LF line ends"
    return message


def _lone_surrogate(record: dict) -> str:
    path, char = find_lone_surrogate(record) or ("a text", "\ud800")
    return (
        f"{path} holds a lone surrogate \\u{ord(char):04x}, which is not valid Unicode text: fix the escape "
        "(a character beyond U+FFFF is written as a pair, e.g. \\ud83d\\ude00)"
    )


# --- The validator's view of a file in another format (see `scanner.DatasetScanner.scan`) --------------------


def mismatch_message(file: str, found: str, expected: str, model_name: str) -> str:
    """One problem for a file whose records are in `found` format where the model takes `expected`."""
    wanted = f"the {FORMAT_NAMES[expected]} {model_name} takes ({EXAMPLES[expected]})"
    judged = f"judging by its first records, the file holds {FORMAT_NAMES[found]}, not {wanted}"
    if found == INPUT_TEXT:
        return f"{judged}: such text holds no question and answer; write records of a user question and its answer"
    target = TARGET_NAMES.get(expected)
    if target is None:
        return f"{judged}: give plain text (a .txt file) or {EXAMPLES[INPUT_TEXT]} records"
    local = file.rsplit("/", 1)[-1] if file.startswith("s3://") else file  # the copy on the user's disk
    out = f"{local.removesuffix('.jsonl')}.{target}.jsonl"
    command = f"python -m tools convert {shlex.quote(local)} --to {target} --out {shlex.quote(out)}"
    return f"{judged}: convert them with `{command}`, then validate {shlex.quote(out)}"


def mismatch_checks(found: str, expected: str) -> tuple[Callable, Callable]:
    """The checker and key count (see records.CHECKERS and MIN_KEYS) for the records of a file
    in `found` format, for a model that takes `expected`.

    A record is read in its own format (the file's when its shape says none) and, when a
    conversion to `expected` exists, converted: a refusal is its problem, and the texts read
    count towards the token estimate. A record already in `expected` gets the model's checks.
    """
    if found == INPUT_TEXT:  # nothing converts from it: it is only counted, by its own rules
        return CHECKERS[INPUT_TEXT], MIN_KEYS[INPUT_TEXT]
    convertible = expected in _WRITERS

    def source_of(record: dict) -> str:
        return record_format(record) or found

    def check(record: dict, line: int, context: RecordContext) -> list[str] | None:
        source = source_of(record)
        if source == expected:
            return CHECKERS[expected](record, line, context)
        try:
            conversation = read_record(record, source)
            if convertible:
                _WRITERS[expected](conversation)
        except Refused as refusal:
            context.log.error(context.file, line, refusal.rule, str(refusal))
            return None
        return conversation.texts

    def min_keys(record: dict, texts: list[str]) -> int:
        source = source_of(record)
        return MIN_KEYS[CLAUDE_MESSAGES if source == OPENAI_CHAT else source](record, texts)

    return check, min_keys
