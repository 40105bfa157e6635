"""One checker per data format: every rule Bedrock applies to a record, said with the fix.

A checker gets a parsed JSON object and reports problems for its line. It returns the
record's text (for duplicate detection and the token estimate), or None when the record
is too broken to say more. Field paths in messages (`messages[2].content[0].text`) are
the ones a person would type to find the spot in an editor.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass

from customization.catalog import (
    BEDROCK_CONVERSATION,
    CLAUDE_MESSAGES,
    DISTILLATION,
    DISTILLATION_PROMPTS,
    INPUT_TEXT,
    PROMPT_COMPLETION,
    RFT_PROMPTS,
    ModelSpec,
)
from customization.layout import BEDROCK_READABLE_PREFIXES
from customization.validation.problems import ProblemLog

SCHEMA_VERSION = "bedrock-conversation-2024"
ROLES = ("user", "assistant")
# Not a Bedrock format: the chat records other services' tutorials produce, recognised so
# that a file of them gets one problem naming its conversion instead of one a record.
OPENAI_CHAT = "openai-chat"
SYSTEM_ROLES = ("system", "developer")  # OpenAI's roles for the system prompt, inside messages

# Strings that make an Amazon Nova customization job fail when they appear in any text.
NOVA_RESERVED = (
    "System:",
    "SYSTEM:",
    "User:",
    "USER:",
    "Bot:",
    "BOT:",
    "Assistant:",
    "ASSISTANT:",
    "Thought:",
    "[EOS]",
    "<image>",
    "<video>",
)
_RESERVED_BEFORE_COLON = tuple(s[:-1] for s in NOVA_RESERVED if s.endswith(":"))
_RESERVED_ELSEWHERE = tuple(s for s in NOVA_RESERVED if not s.endswith(":"))


def find_reserved(text: str) -> str | None:
    """The first reserved string in `text`, if any.

    Hand-written rather than one regex alternation: scanning for ':' and looking back is
    about twice as fast on real text, and this runs on every record.
    """
    if "<" in text or "[" in text:  # one memchr each, before the longer searches
        for reserved in _RESERVED_ELSEWHERE:
            if reserved in text:
                return reserved
    colon = text.find(":")
    while colon != -1:
        for word in _RESERVED_BEFORE_COLON:
            if text.endswith(word, 0, colon):
                return word + ":"
        colon = text.find(":", colon + 1)
    return None


# Values quoted in messages are cut short: a message must not grow with the data (a key of a
# megabyte, a role nested a thousand lists deep, which the built-in repr would recurse into).
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlevel = 80, 80, 3


def show(value: object) -> str:
    """`value` as a message quotes it: repr() for what is short, shortened otherwise."""
    return _SHORT.repr(value)


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text` (JSON's `\\ud800` escape gives one), if any: such a
    string is not Unicode text, and encoding it as UTF-8 fails."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return text[error.start]
    return None


def find_lone_surrogate(value: object) -> tuple[str, str] | None:
    """(path, surrogate) of the first string or key in a parsed JSON `value` that holds a lone
    surrogate, in document order. Iterative: parsed JSON may be nested as deep as the parser
    allowed, deeper than a recursive walk could go from here."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            char = lone_surrogate(item)
            if char:
                return path or "the value", char
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                char = lone_surrogate(key)
                if char:
                    return f"a key of {path or 'the record'}", char
                children.append((f"{path}.{key}" if path else key, child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))
    return None


# Rule IDs, as printed in reports (`FILE:LINE: rule: message`).
R_UNEXPECTED = "unexpected-field"
R_REQUIRED = "required-field"
R_TYPE = "field-type"
R_EMPTY = "empty-text"
R_ROLE = "role-order"
R_SCHEMA = "schema-version"
R_RESERVED = "reserved-string"
R_MEDIA = "media"
R_MEDIA_URI = "media-uri"
R_ENCODING = "encoding"
R_GRADER = "grader-fields"


@dataclass
class RecordContext:
    file: str
    log: ProblemLog
    model: ModelSpec
    dataset_bucket: str | None = None  # media must live in the dataset's own bucket
    # Reinforcement fine-tuning: what the chosen grader says of a record it could not score
    # (None: it can), from the grader module's own check (graders.record_problem).
    record_check: Callable[[dict], str | None] | None = None

    @property
    def nova(self) -> bool:
        return self.model.family == "nova"


class _Record:
    """Problems of one line, with the file and line filled in."""

    __slots__ = ("context", "line", "valid")

    def __init__(self, context: RecordContext, line: int) -> None:
        self.context, self.line, self.valid = context, line, True

    def error(self, rule: str, message: str) -> None:
        self.valid = False
        self.context.log.error(self.context.file, self.line, rule, message)

    def text(self, value: object, path: str, texts: list[str]) -> None:
        if not isinstance(value, str):
            self.error(R_TYPE, f"{path} must be a string, got {_kind(value)}")
        elif not value or value.isspace():
            self.error(R_EMPTY, f"{path} is empty: give it text, or drop the record")
        else:
            texts.append(value)

    def fields(self, record: dict, allowed: frozenset[str], path: str = "") -> None:
        extra = record.keys() - allowed
        if extra:
            self.error(
                R_UNEXPECTED,
                f"{path or 'record'} has unexpected field(s) {', '.join(sorted(map(show, extra)))}; "
                f"allowed: {', '.join(sorted(allowed))}",
            )

    def message(self, message: object, path: str, allowed: frozenset[str]) -> bool:
        """A chat message is an object of the format's fields; False (said) when it is not an object."""
        if not isinstance(message, dict):
            self.error(R_TYPE, f"{path} must be an object with role and content, got {_kind(message)}")
            return False
        self.fields(message, allowed, path)
        return True

    def required(self, record: dict, name: str, path: str = "") -> object:
        if name not in record:
            self.error(R_REQUIRED, f"{path + '.' if path else ''}{name} is missing")
        return record.get(name)


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _roles(record: _Record, roles: list[object]) -> None:
    """Roles alternate user, assistant, ...; first user, last assistant."""
    for index, role in enumerate(roles):
        expected = ROLES[index % 2]
        if role not in ROLES:
            record.error(R_ROLE, f"messages[{index}].role is {show(role)}: only 'user' and 'assistant' are allowed")
            return
        if role != expected:
            record.error(
                R_ROLE,
                f"messages[{index}].role is {show(role)} where {expected!r} was expected: roles must alternate "
                "user, assistant, user, ... starting with user",
            )
            return
    if roles and roles[-1] != "assistant":
        record.error(
            R_ROLE,
            f"the last message (messages[{len(roles) - 1}]) must be from the assistant: "
            "it is the answer the model learns",
        )


def _reserved(record: _Record, texts: list[str]) -> None:
    found = find_reserved("\x00".join(texts))
    if found:
        record.error(
            R_RESERVED,
            f"contains {found!r}, which Amazon Nova reserves: reword it (reserved: {' '.join(NOVA_RESERVED)})",
        )


_PROMPT_COMPLETION_FIELDS = frozenset({"prompt", "completion"})


def check_prompt_completion(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    record, texts = _Record(context, line), []
    record.fields(obj, _PROMPT_COMPLETION_FIELDS)
    for name in ("prompt", "completion"):
        if name in obj:
            record.text(obj[name], name, texts)
        else:
            record.error(R_REQUIRED, f'{name} is missing: each line is {{"prompt": "...", "completion": "..."}}')
    return texts if record.valid else None


_INPUT_FIELDS = frozenset({"input"})


def check_input_text(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    record, texts = _Record(context, line), []
    record.fields(obj, _INPUT_FIELDS)
    if "input" in obj:
        record.text(obj["input"], "input", texts)
    else:
        record.error(R_REQUIRED, 'input is missing: continued pre-training takes {"input": "..."} per line')
    return texts if record.valid else None


_CLAUDE_FIELDS = frozenset({"system", "messages"})
_CLAUDE_MESSAGE_FIELDS = frozenset({"role", "content"})


def check_claude_messages(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    record, texts = _Record(context, line), []
    record.fields(obj, _CLAUDE_FIELDS)
    if "system" in obj:
        record.text(obj["system"], "system", texts)
    messages = record.required(obj, "messages")
    if messages is None:
        return None
    if not isinstance(messages, list) or not messages:
        record.error(R_TYPE, f"messages must be a non-empty list, got {_kind(messages)}")
        return None
    roles = []
    for index, message in enumerate(messages):
        path = f"messages[{index}]"
        if not record.message(message, path, _CLAUDE_MESSAGE_FIELDS):
            return None
        roles.append(record.required(message, "role", path))
        if "content" in message:
            record.text(message["content"], f"{path}.content", texts)
        else:
            record.error(R_REQUIRED, f"{path}.content is missing")
    _roles(record, roles)
    return texts if record.valid else None


_CONVERSATION_FIELDS = frozenset({"schemaVersion", "system", "messages"})
_CONVERSATION_MESSAGE_FIELDS = frozenset({"role", "content"})
_MEDIA_FIELDS = frozenset({"format", "source"})


def check_conversation(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    texts = _well_formed_conversation_texts(obj)
    if texts is not None:
        if context.nova and find_reserved("\x00".join(texts)):
            _reserved(_Record(context, line), texts)
            return None
        return texts
    return _check_conversation(obj, line, context)


def _well_formed_conversation_texts(obj: dict) -> list[str] | None:
    """The texts of a plain text-only conversation with no problem, else None.

    The fast path for the common case (validation runs at the speed of JSON parsing, see
    `make bench`): it only ever accepts; anything unusual, media included, goes to
    `_check_conversation`, which names the problem. A property test holds the two together.
    Wrong types surface as KeyError/TypeError from the lookups, which is cheaper than
    checking each type first.
    """
    if obj.get("schemaVersion") != SCHEMA_VERSION or not obj.keys() <= _CONVERSATION_FIELDS:
        return None
    texts: list[str] = []
    append = texts.append
    try:
        system = obj.get("system", ())
        if type(system) is not list:
            return None
        for block in system:
            if len(block) != 1:
                return None
            text = block["text"]
            if type(text) is not str or not text or text.isspace():
                return None
            append(text)
        messages = obj["messages"]
        if type(messages) is not list or not messages or len(messages) % 2:
            return None
        expected, other = "user", "assistant"
        for message in messages:
            if len(message) != 2 or message["role"] != expected:
                return None
            content = message["content"]
            if type(content) is not list or not content:
                return None
            for block in content:
                if len(block) != 1:
                    return None
                text = block["text"]
                if type(text) is not str or not text or text.isspace():
                    return None
                append(text)
            expected, other = other, expected
    except (KeyError, TypeError):
        return None
    return texts


def _conversation_messages(record: _Record, obj: dict, texts: list[str]) -> list | None:
    """What every bedrock-conversation-2024 record shares: its fields, schemaVersion and system
    blocks (their text into `texts`); its messages, or None when there is no list to check."""
    record.fields(obj, _CONVERSATION_FIELDS)
    version = obj.get("schemaVersion")
    if version != SCHEMA_VERSION:
        record.error(R_SCHEMA, f"schemaVersion must be {SCHEMA_VERSION!r}, got {show(version)}")
    system = obj.get("system", [])
    if not isinstance(system, list):
        record.error(R_TYPE, f'system must be a list of {{"text": "..."}} blocks, got {_kind(system)}')
    else:
        for index, block in enumerate(system):
            if not isinstance(block, dict) or block.keys() != {"text"}:
                record.error(R_TYPE, f'system[{index}] must be {{"text": "..."}}, got {_kind(block)}')
            else:
                record.text(block["text"], f"system[{index}].text", texts)
    messages = record.required(obj, "messages")
    if messages is None:
        return None
    if not isinstance(messages, list) or not messages:
        record.error(R_TYPE, f"messages must be a non-empty list, got {_kind(messages)}")
        return None
    return messages


def _check_conversation(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    record, texts = _Record(context, line), []
    messages = _conversation_messages(record, obj, texts)
    if messages is None:
        return None
    roles, media = [], _MediaCount()
    for index, message in enumerate(messages):
        path = f"messages[{index}]"
        if not record.message(message, path, _CONVERSATION_MESSAGE_FIELDS):
            return None
        role = record.required(message, "role", path)
        roles.append(role)
        content = message.get("content")
        if not isinstance(content, list) or not content:
            record.error(R_TYPE, f'{path}.content must be a non-empty list of blocks like {{"text": "..."}}')
            continue
        for block_index, block in enumerate(content):
            _content_block(record, block, f"{path}.content[{block_index}]", role, texts, media)
    _roles(record, roles)
    media.check(record)
    if context.nova:
        _reserved(record, texts)
    return texts if record.valid else None


class _MediaCount:
    __slots__ = ("images", "videos")

    def __init__(self) -> None:
        self.images = self.videos = 0

    def check(self, record: _Record) -> None:
        limit = record.context.model.media.max_images_per_record
        if limit is not None and self.images > limit:
            record.error(
                R_MEDIA, f"{self.images} images in one record; {record.context.model.name} takes at most {limit}"
            )
        if self.videos > 1:
            record.error(R_MEDIA, f"{self.videos} videos in one record; at most one is allowed")
        if self.images and self.videos:
            record.error(R_MEDIA, "a record may hold images or one video, not both")


def _content_block(record: _Record, block: object, path: str, role: object, texts: list[str], media: _MediaCount):
    if not isinstance(block, dict) or len(block) != 1:
        record.error(R_TYPE, f'{path} must hold exactly one of "text", "image" or "video", got {_kind(block)}')
        return
    ((kind, value),) = block.items()
    if kind == "text":
        record.text(value, f"{path}.text", texts)
        return
    if kind == "reasoningContent":
        _reasoning(record, value, path, role, texts)
        return
    if kind not in ("image", "video"):
        record.error(R_UNEXPECTED, f'{path} has {show(kind)}; a content block is "text", "image" or "video"')
        return
    model = record.context.model
    supported, formats = (
        (model.media.images, model.media.image_formats)
        if kind == "image"
        else (model.media.video, model.media.video_formats)
    )
    if not supported:
        record.error(
            R_MEDIA, f"{path}: {model.name} is trained on text only; remove the {kind} or pick a multimodal model"
        )
        return
    if role != "user":
        record.error(R_MEDIA, f"{path}: {kind}s are allowed in user messages only")
    if kind == "image":
        media.images += 1
    else:
        media.videos += 1
    if not isinstance(value, dict):
        record.error(R_TYPE, f"{path}.{kind} must be an object with format and source")
        return
    record.fields(value, _MEDIA_FIELDS, f"{path}.{kind}")
    if value.get("format") not in formats:
        record.error(R_MEDIA, f"{path}.{kind}.format is {show(value.get('format'))}; allowed: {', '.join(formats)}")
    _media_uri(record, value.get("source"), f"{path}.{kind}.source")


def _reasoning(record: _Record, value: object, path: str, role: object, texts: list[str]) -> None:
    """Nova 2: an assistant turn may show its reasoning, {"reasoningText": {"text": ...}} only."""
    model = record.context.model
    if not model.reasoning_content:
        record.error(R_UNEXPECTED, f"{path}: {model.name} takes no reasoningContent (Amazon Nova 2 models do)")
        return
    if role != "assistant":
        record.error(R_TYPE, f"{path}: reasoningContent belongs in assistant messages only")
        return
    reasoning = value.get("reasoningText") if isinstance(value, dict) and value.keys() == {"reasoningText"} else None
    if not isinstance(reasoning, dict) or reasoning.keys() != {"text"}:
        record.error(
            R_TYPE,
            f'{path}.reasoningContent must be {{"reasoningText": {{"text": "..."}}}} (only reasoningText is supported)',
        )
        return
    record.text(reasoning["text"], f"{path}.reasoningContent.reasoningText.text", texts)


def _media_uri(record: _Record, source: object, path: str) -> None:
    location = source.get("s3Location") if isinstance(source, dict) else None
    uri = location.get("uri") if isinstance(location, dict) else None
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        record.error(R_MEDIA_URI, f'{path} must be {{"s3Location": {{"uri": "s3://bucket/key"}}}}, got {show(source)}')
        return
    surrogate = lone_surrogate(uri)
    if surrogate:
        record.error(
            R_ENCODING,
            f"{path}.s3Location.uri holds a lone surrogate \\u{ord(surrogate):04x}, which is not valid Unicode "
            "text: Bedrock cannot read it; fix the escape",
        )
        return
    bucket, _, key = uri[5:].partition("/")
    expected = record.context.dataset_bucket
    if expected is not None and bucket != expected:
        record.error(
            R_MEDIA_URI,
            f"{path}: {uri} is in bucket {bucket!r}; media must be in the dataset's own bucket {expected!r}",
        )
    elif not key.startswith(BEDROCK_READABLE_PREFIXES):
        # The role Bedrock assumes may read these prefixes only (see layout.py).
        record.error(
            R_MEDIA_URI,
            f"{path}: {uri} is outside {' and '.join(BEDROCK_READABLE_PREFIXES)}, which Bedrock cannot read: "
            "put media beside the dataset, e.g. datasets/<name>/images/",
        )


_DISTILLATION_ROLES = ("user", "assistant")


def check_distillation_prompts(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    """Distillation: a bedrock-conversation-2024 record whose assistant turn is optional (the
    teacher answers a prompt without one); text only; one user turn, and at most its answer,
    where the student takes single-turn records only (Llama)."""
    record, texts = _Record(context, line), []
    messages = _conversation_messages(record, obj, texts)
    if messages is None:
        return None
    for index, message in enumerate(messages):
        path = f"messages[{index}]"
        if not record.message(message, path, _CONVERSATION_MESSAGE_FIELDS):
            return None
        role, expected = message.get("role"), _DISTILLATION_ROLES[index % 2]
        if role != expected:
            record.error(
                R_ROLE,
                f"{path}.role is {show(role)} where {expected!r} was expected: a user prompt first, then "
                "(optionally) the answer you want, alternating",
            )
            return None
        content = message.get("content")
        if not isinstance(content, list) or not content:
            record.error(R_TYPE, f'{path}.content must be a non-empty list of blocks like {{"text": "..."}}')
            continue
        for block_index, block in enumerate(content):
            where = f"{path}.content[{block_index}]"
            if isinstance(block, dict) and block.keys() == {"text"}:
                record.text(block["text"], f"{where}.text", texts)
            else:
                record.error(R_MEDIA, f'{where} must be {{"text": "..."}}: distillation takes text only')
    method = context.model.methods.get(DISTILLATION)
    if method is not None and method.single_turn and len(messages) > 2:
        record.error(
            R_ROLE,
            f"{len(messages)} messages: distillation of {context.model.name} takes one user prompt and at most "
            "its answer per record (single turn)",
        )
    if context.nova:
        _reserved(record, texts)
    return texts if record.valid else None


_RFT_ROLES = ("system", "user", "assistant")


def check_rft_prompts(obj: dict, line: int, context: RecordContext) -> list[str] | None:
    """Reinforcement fine-tuning: an OpenAI chat-completions prompt, `{"messages": [{"role":
    "system", "content": "..."}, {"role": "user", "content": "..."}], "reference_answer": ...,
    <other fields>}`; the last message is the user's (the model answers it, the grader scores
    the answer). Other fields reach the grader in `metadata`, so any are allowed; what the
    chosen grader needs of them is its own check (`RecordContext.record_check`)."""
    record, texts = _Record(context, line), []
    messages = record.required(obj, "messages")
    if messages is None:
        return None
    if not isinstance(messages, list) or not messages:
        record.error(R_TYPE, f"messages must be a non-empty list, got {_kind(messages)}")
        return None
    for index, message in enumerate(messages):
        path = f"messages[{index}]"
        if not record.message(message, path, _CLAUDE_MESSAGE_FIELDS):
            return None
        role = message.get("role")
        if role not in _RFT_ROLES:
            record.error(R_ROLE, f"{path}.role is {show(role)}; allowed: {', '.join(_RFT_ROLES)}")
        elif role == "system" and index:
            record.error(R_ROLE, f"{path}: a system message goes first, before the user's")
        if "content" in message:
            record.text(message["content"], f"{path}.content", texts)
        else:
            record.error(R_REQUIRED, f"{path}.content is missing")
    if isinstance(messages[-1], dict) and messages[-1].get("role") != "user":
        record.error(
            R_ROLE,
            f"the last message (messages[{len(messages) - 1}]) must be the user's prompt: the model answers it "
            "during training and the grader scores the answer",
        )
    if record.valid and context.record_check is not None:
        problem = context.record_check(obj)
        if problem:
            record.error(R_GRADER, problem)
    return texts if record.valid else None


CHECKERS: dict[str, Callable[[dict, int, RecordContext], list[str] | None]] = {
    DISTILLATION_PROMPTS: check_distillation_prompts,
    RFT_PROMPTS: check_rft_prompts,
    BEDROCK_CONVERSATION: check_conversation,
    CLAUDE_MESSAGES: check_claude_messages,
    PROMPT_COMPLETION: check_prompt_completion,
    INPUT_TEXT: check_input_text,
}


def _conversation_keys(obj: dict, texts: list[str]) -> int:
    # The record's own keys, one a text block (system or content), role and content a message.
    return len(obj) + len(texts) + 2 * len(obj["messages"])


def _claude_keys(obj: dict, texts: list[str]) -> int:
    return len(obj) + 2 * len(obj["messages"])


def _flat_keys(obj: dict, texts: list[str]) -> int:
    return len(obj)


# The fewest keys a record its checker accepted can hold (exact for text-only records), for
# the scanner's cheap test for a key written twice.
def _unknown_keys(obj: dict, texts: list[str]) -> int:
    # RFT records carry any fields for the grader: no count is exact, so a line with ':' is
    # always parsed again for a repeated key.
    return 0


MIN_KEYS: dict[str, Callable[[dict, list[str]], int]] = {
    DISTILLATION_PROMPTS: _conversation_keys,
    RFT_PROMPTS: _unknown_keys,
    BEDROCK_CONVERSATION: _conversation_keys,
    CLAUDE_MESSAGES: _claude_keys,
    PROMPT_COMPLETION: _flat_keys,
    INPUT_TEXT: _flat_keys,
}


def record_format(record: dict) -> str | None:
    """The data format a parsed record is written in, judged by its shape alone (whether it is
    valid in that format is its checker's business), or None when it looks like none of them.

    Chat records are told apart by their messages' content: a list of blocks is Bedrock's
    conversation format, a plain string Claude's, or OpenAI's chat format when a system
    message sits among the messages. Never raises, whatever the record holds.
    """
    if "schemaVersion" in record:
        return BEDROCK_CONVERSATION
    if "messages" in record:
        return _chat_format(record)
    if "prompt" in record and "completion" in record:
        return PROMPT_COMPLETION
    if "input" in record:
        return INPUT_TEXT
    return None


def _chat_format(record: dict) -> str | None:
    messages = record["messages"]
    if not isinstance(messages, list):
        return None
    if isinstance(record.get("system"), list):
        return BEDROCK_CONVERSATION
    strings = system_message = False
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            return BEDROCK_CONVERSATION
        strings = strings or isinstance(content, str)
        system_message = system_message or message.get("role") in SYSTEM_ROLES
    if not strings:
        return None
    return OPENAI_CHAT if system_message else CLAUDE_MESSAGES


# What each format is called in messages, with the shape that tells it.
FORMAT_NAMES: dict[str, str] = {
    DISTILLATION_PROMPTS: "distillation prompts (Bedrock conversation records, the assistant turn optional)",
    RFT_PROMPTS: "reinforcement fine-tuning prompts (OpenAI chat records with reference_answer)",
    BEDROCK_CONVERSATION: "Bedrock conversation records",
    CLAUDE_MESSAGES: "Claude messages (content a plain string)",
    OPENAI_CHAT: "OpenAI chat records (a system role inside messages)",
    PROMPT_COMPLETION: "prompt/completion records",
    INPUT_TEXT: "continued pre-training text",
}

# Formats whose records `record_format` calls by another name: the same shape, other rules.
SAME_SHAPE: dict[str, tuple[str, ...]] = {
    DISTILLATION_PROMPTS: (BEDROCK_CONVERSATION,),
    RFT_PROMPTS: (OPENAI_CHAT, CLAUDE_MESSAGES),
}

EXAMPLES: dict[str, str] = {
    DISTILLATION_PROMPTS: '{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "..."}], '
    '"messages": [{"role": "user", "content": [{"text": "..."}]}]}',
    RFT_PROMPTS: '{"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}], '
    '"reference_answer": "..."}',
    BEDROCK_CONVERSATION: '{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "..."}], '
    '"messages": [{"role": "user", "content": [{"text": "..."}]}, {"role": "assistant", "content": [{"text": "..."}]}]}',
    CLAUDE_MESSAGES: '{"system": "...", "messages": [{"role": "user", "content": "..."}, '
    '{"role": "assistant", "content": "..."}]}',
    PROMPT_COMPLETION: '{"prompt": "...", "completion": "..."}',
    INPUT_TEXT: '{"input": "..."}',
}
