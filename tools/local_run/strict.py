r"""Request validation as strict as AWS's, for the offline emulation.

AWS checks every request against its service model: string lengths and `pattern`s, numeric
ranges, `enum` values and the number of entries in lists and maps. botocore checks much less
before it sends a request (`botocore.validate.ParamValidator`): required members, unknown
members, types, and only the `min` of strings, lists and numbers. A request that botocore lets
through can therefore still be refused by AWS, e.g. a training data URI with a space, a job
name one character too long or `customizationType="FINETUNING"`. An emulation that is to catch
those mistakes before a real account does must refuse what AWS refuses; this module adds the
missing checks, in botocore's own error style:

    Invalid pattern for parameter trainingDataConfig.s3Uri, value: s3://data-bucket/Spam Filter (v2)/train.jsonl,
    valid pattern: s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?

`install()` (or `with strict_validation():`) makes every botocore client created from then on
validate this way; `validate(service, operation, params)` checks one request without a client,
e.g. in a server-side emulation.

The models' patterns are Java regular expressions, and AWS matches them against the whole value.
They are translated to Python's `re` (`translate_java_pattern`) and matched with `fullmatch`.
A pattern that cannot be translated faithfully is not guessed at: it is recorded in
`UNCHECKED_PATTERNS` and values are not checked against it. When written (botocore 1.44), every
one of the 4,994 distinct patterns of botocore's models translated, and on about 277,000 values
the translations matched exactly what java.util.regex (JDK 25) matched, except `\p{IsAlphabetic}`
(see `_binary_property`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import botocore.serialize
import botocore.session
from botocore.validate import ParamValidationDecorator, ParamValidator, ValidationErrors

__all__ = [
    "UNCHECKED_PATTERNS",
    "StrictParamValidator",
    "StrictValidationErrors",
    "UntranslatablePattern",
    "compile_java_pattern",
    "install",
    "installed",
    "strict_validation",
    "translate_java_pattern",
    "uninstall",
    "validate",
]

# Patterns of the service models that could not be translated to Python: values are not
# checked against them. Filled as patterns are first used (or compiled by `compile_java_pattern`).
UNCHECKED_PATTERNS: set[str] = set()

# Values longer than this are shortened in error messages (a state machine definition can be 1 MB).
_SHOWN_VALUE_CHARACTERS = 200


# ---------------------------------------------------------------------------------------------
# Error reports in botocore's style
# ---------------------------------------------------------------------------------------------


class StrictValidationErrors(ValidationErrors):
    """botocore's error collection, with the reasons that only the strict checks report."""

    def _format_error(self, error: tuple) -> str:
        reason, name, details = error
        name = self._get_name(name)
        if reason == "invalid pattern":
            return (
                f"Invalid pattern for parameter {name}, value: {_shown(details['param'])}, "
                f"valid pattern: {details['pattern']}"
            )
        if reason == "invalid enum value":
            valid_values = ", ".join(details["valid_values"])
            return (
                f"Invalid value for parameter {name}, value: {_shown(details['param'])}, valid values: {valid_values}"
            )
        if reason == "invalid max length":
            return (
                f"Invalid length for parameter {name}, value: {_shown(details['param'])}, "
                f"length: {details['length']} {details['unit']}, valid max length: {details['max_allowed']}"
            )
        if reason == "invalid documented limit":
            return f"Invalid value for parameter {name}, value: {_shown(details['param'])}: {details['problem']}"
        if reason == "invalid max range":
            return f"Invalid value for parameter {name}, value: {details['param']}, valid max value: {details['max_allowed']}"
        return super()._format_error(error)

    def messages(self) -> list[str]:
        """One message per problem, as `generate_report()` joins them."""
        return [self._format_error(error) for error in self._errors]


def _shown(value: object) -> str:
    text = str(value)
    if len(text) <= _SHOWN_VALUE_CHARACTERS:
        return text
    return f"{text[:_SHOWN_VALUE_CHARACTERS]}... ({len(text)} characters)"


# ---------------------------------------------------------------------------------------------
# The validator
# ---------------------------------------------------------------------------------------------


class StrictParamValidator(ParamValidator):
    """botocore's ParamValidator, plus the constraints AWS checks and botocore does not.

    botocore's checks run first and unchanged (required and unknown members, types, the `min`
    of strings, lists and numbers); then, for each value of the expected type, this adds:
    strings: `max` length, `pattern` (whole value), `enum`; integers, longs, floats and doubles:
    `max`; lists: `max` entries; maps: `min` and `max` entries; blobs: `min` and `max` bytes.
    """

    # botocore skips items of a list of scalars unless their shape has one of these
    # (`_shape_has_constraints`); the strict checks must reach such items too.
    VALIDATED_METADATA_ATTRS = ParamValidator.VALIDATED_METADATA_ATTRS | {"max", "pattern", "enum"}

    def validate(self, params: object, shape: object) -> StrictValidationErrors:
        errors = StrictValidationErrors()
        self._validate(params, shape, errors, name="")
        return errors

    def _validate(self, params, shape, errors, name) -> None:
        # botocore's structure, list and map validators call self._validate for each member,
        # so this override sees every nested value exactly where botocore does.
        super()._validate(params, shape, errors, name)
        if self._check_special_validation_cases(shape):
            return  # JSON-valued headers and documents: free-form values with no constraints
        check = _CONSTRAINT_CHECKS.get(shape.type_name)
        if check is not None:
            check(params, shape, errors, name)
        documented = DOCUMENTED_LIMITS.get(shape.name)
        if documented is not None and isinstance(params, str):
            problem = documented(params)
            if problem:
                errors.report(name, "invalid documented limit", param=params, problem=problem)


def _s3_key(key: str) -> str | None:
    # "The name for a key is a sequence of Unicode characters whose UTF-8 encoding is at most
    # 1,024 bytes long" (S3 User Guide, object-keys.html, checked 2026-11-29).
    size = len(key.encode("utf-8"))
    return f"{size:,} bytes of UTF-8, over S3's 1,024" if size > 1024 else None


def _sns_subject(subject: str) -> str | None:
    # "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100
    # characters long" (SNS API reference, Publish, checked 2026-11-29).
    if len(subject) >= 100:
        return f"{len(subject)} characters; SNS takes fewer than 100"
    if any(unicodedata.category(character) == "Cc" for character in subject):
        return "a line break or control character, which SNS refuses"
    return None


# Limits AWS documents and enforces that the botocore models do not carry (S3's key length,
# SNS's subject), by shape name: the emulation refuses what AWS refuses, these included.
DOCUMENTED_LIMITS: dict[str, Callable[[str], str | None]] = {"ObjectKey": _s3_key, "subject": _sns_subject}


def _check_string(value: object, shape, errors: ValidationErrors, name: str) -> None:
    if not isinstance(value, str):
        return  # botocore reported the type
    maximum = shape.metadata.get("max")
    if maximum is not None and _java_length(value) > maximum:
        # Services written in Java count UTF-16 code units, Smithy-generated ones code points;
        # the larger count refuses whatever either refuses.
        unit = "characters" if _java_length(value) == len(value) else "UTF-16 code units"
        errors.report(
            name, "invalid max length", param=value, length=_java_length(value), unit=unit, max_allowed=maximum
        )
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        errors.report(name, "invalid enum value", param=value, valid_values=enum)
    pattern = shape.metadata.get("pattern")
    if pattern is not None:
        compiled = compile_java_pattern(pattern)
        if compiled is not None and compiled.fullmatch(value) is None:
            errors.report(name, "invalid pattern", param=value, pattern=pattern)


def _java_length(text: str) -> int:
    """The length of `text` in UTF-16 code units, as Java's String.length() counts it."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _check_number(value: object, shape, errors: ValidationErrors, name: str) -> None:
    if not isinstance(value, ParamValidator.SCALAR_TYPES[shape.type_name]):
        return
    maximum = shape.metadata.get("max")
    if maximum is not None and value > maximum:
        errors.report(name, "invalid max range", param=value, max_allowed=maximum)


def _check_list(value: object, shape, errors: ValidationErrors, name: str) -> None:
    if not isinstance(value, list | tuple):
        return
    _check_entries(value, shape, errors, name, check_min=False)  # botocore checks a list's min


def _check_map(value: object, shape, errors: ValidationErrors, name: str) -> None:
    if not isinstance(value, dict):
        return
    _check_entries(value, shape, errors, name, check_min=True)


def _check_entries(value: list | tuple | dict, shape, errors: ValidationErrors, name: str, *, check_min: bool) -> None:
    minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
    if check_min and minimum is not None and len(value) < minimum:
        # botocore's own reason and message, as for a list that is too short
        errors.report(name, "invalid length", param=len(value), min_allowed=minimum)
    if maximum is not None and len(value) > maximum:
        errors.report(name, "invalid max length", param=value, length=len(value), unit="entries", max_allowed=maximum)


def _check_blob(value: object, shape, errors: ValidationErrors, name: str) -> None:
    if isinstance(value, str):
        size = len(value.encode("utf-8"))  # botocore sends a str blob as its UTF-8 bytes
    elif isinstance(value, bytes | bytearray):
        size = len(value)
    else:
        return  # a file-like object: measuring it would mean reading it; not checked
    minimum, maximum = shape.metadata.get("min"), shape.metadata.get("max")
    if minimum is not None and size < minimum:
        errors.report(name, "invalid length", param=size, min_allowed=minimum)
    if maximum is not None and size > maximum:
        errors.report(
            name, "invalid max length", param=_shown_blob(value), length=size, unit="bytes", max_allowed=maximum
        )


def _shown_blob(value: str | bytes | bytearray) -> str:
    return value if isinstance(value, str) else repr(bytes(value[:_SHOWN_VALUE_CHARACTERS]))


_CONSTRAINT_CHECKS: dict[str, Callable[[object, object, ValidationErrors, str], None]] = {
    "string": _check_string,
    "integer": _check_number,
    "long": _check_number,
    "float": _check_number,
    "double": _check_number,
    "list": _check_list,
    "map": _check_map,
    "blob": _check_blob,
}


# ---------------------------------------------------------------------------------------------
# Clients and requests
# ---------------------------------------------------------------------------------------------

# botocore.args.ClientArgsCreator calls `botocore.serialize.create_serializer(protocol,
# parameter_validation, ...)` once per client, and that wraps the serializer with
# `validate.ParamValidationDecorator(validate.ParamValidator(), serializer)`. Replacing the
# module attribute `create_serializer` changes the validator of clients created afterwards
# only. Replacing `botocore.validate.ParamValidator` instead would also make botocore's Stubber
# validate stubbed *responses* strictly (`validate_parameters`), which is not what AWS does.
_original_create_serializer: Callable | None = None


def install() -> None:
    """Make every botocore (and boto3) client created from now on validate strictly.

    Clients created before keep botocore's validation: each client builds its serializer once,
    when it is created. Clients created with `Config(parameter_validation=False)` validate
    nothing, as with botocore. Calling install() twice is harmless.
    """
    global _original_create_serializer
    if _original_create_serializer is not None:
        return
    original = botocore.serialize.create_serializer
    if "include_validation" not in inspect.signature(original).parameters:
        # Fail loudly rather than let clients silently skip validation on a botocore upgrade.
        raise RuntimeError("botocore.serialize.create_serializer no longer takes include_validation")

    @functools.wraps(original)
    def create_strictly_validating_serializer(protocol_name, include_validation=True, *args, **kwargs):
        serializer = original(protocol_name, False, *args, **kwargs)
        if include_validation:
            serializer = ParamValidationDecorator(StrictParamValidator(), serializer)
        return serializer

    _original_create_serializer = original
    botocore.serialize.create_serializer = create_strictly_validating_serializer


def installed() -> bool:
    return _original_create_serializer is not None


def uninstall() -> None:
    """Give clients created from now on botocore's own validation again (those created while
    installed keep validating strictly). Harmless when not installed."""
    global _original_create_serializer
    if _original_create_serializer is None:
        return
    botocore.serialize.create_serializer = _original_create_serializer
    _original_create_serializer = None


@contextlib.contextmanager
def strict_validation() -> Iterator[None]:
    """`install()` for the clients created inside the block; leaves an outer install() in place."""
    already_installed = _original_create_serializer is not None
    install()
    try:
        yield
    finally:
        if not already_installed:
            uninstall()


def validate(service: str, operation: str, params: dict) -> list[str]:
    """The problems AWS would find in this request, one message each; empty when it is valid.

    `params` are the operation's parameters as they reach AWS (after botocore's handlers, e.g.
    with `clientRequestToken` filled in). Raises botocore's OperationNotFoundError or
    UnknownServiceError for names the models do not have.
    """
    input_shape = _service_model(service).operation_model(operation).input_shape
    if input_shape is None:
        return []
    return StrictParamValidator().validate(params, input_shape).messages()


@functools.cache
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


# ---------------------------------------------------------------------------------------------
# Java patterns in Python
# ---------------------------------------------------------------------------------------------


class UntranslatablePattern(ValueError):
    """A Java regular expression that Python's `re` cannot match with the same meaning."""


def compile_java_pattern(pattern: str) -> re.Pattern[str] | None:
    """The Python regex for a service model's pattern, or None (and the pattern recorded in
    UNCHECKED_PATTERNS) when it cannot be translated. Use with `fullmatch`."""
    compiled = _compile_java_pattern(pattern)
    if compiled is None:
        UNCHECKED_PATTERNS.add(pattern)
    return compiled


@functools.cache
def _compile_java_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        # re.ASCII: in Java, \w, \d, \s and \b are ASCII-only unless a flag says otherwise.
        return re.compile(translate_java_pattern(pattern), re.ASCII)
    except (UntranslatablePattern, re.error, OverflowError, RecursionError):
        return None


def translate_java_pattern(pattern: str) -> str:
    r"""Python `re` syntax (to compile with re.ASCII) for a `java.util.regex` pattern.

    Translated: Unicode and POSIX properties (`\p{L}`, `\P{C}`, `\p{Punct}`, `\p{IsAlphabetic}`,
    ...) into explicit ranges; `.` (which excludes all of Java's line terminators); surrogate
    pairs written as two `\u` escapes; `\x{...}`, `\z`, `\Z`, `\h`, `\v`, `\R`, `\Q...\E`,
    `\k<name>`, `(?<name>...)`; inline flags in the middle of a pattern; a `-` next to a class
    escape (`[\w-.]`), nested classes and `&&` intersections in character classes; quantified
    anchors (`${2,64}`) and a repetition directly after a quantifier (ignored, as Java does).
    Possessive quantifiers and atomic groups are Python 3.11 syntax already.

    Raises UntranslatablePattern for what has no faithful translation (scripts and blocks,
    `\G`, `\X`, the d, u, U and x flags, negated classes with nested classes, ...).
    """
    return _JavaPatternTranslator(pattern).translate()


# Code point sets are tuples of inclusive (first, last) ranges, sorted and disjoint.
_Ranges = tuple[tuple[int, int], ...]
_ALL_CODE_POINTS: _Ranges = ((0, sys.maxunicode),)

_DOT_WITHOUT_DOTALL = "[^\\n\\r\\x85\\u2028\\u2029]"  # Java's `.` matches no line terminator
_LINEBREAK = "(?:\\r\\n|[\\n\\x0b\\x0c\\r\\x85\\u2028\\u2029])"  # Java's \R
_HORIZONTAL_WHITESPACE: _Ranges = (
    (0x09, 0x09),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200A),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_VERTICAL_WHITESPACE: _Ranges = ((0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029))
_WHITE_SPACE: _Ranges = (  # the Unicode White_Space property
    (0x09, 0x0D),
    (0x20, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)

# Java's POSIX classes are ASCII-only (without the UNICODE_CHARACTER_CLASS flag).
_POSIX_CLASSES: dict[str, _Ranges] = {
    "Lower": ((0x61, 0x7A),),
    "Upper": ((0x41, 0x5A),),
    "ASCII": ((0x00, 0x7F),),
    "Alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "Digit": ((0x30, 0x39),),
    "Alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "Punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "Graph": ((0x21, 0x7E),),
    "Print": ((0x20, 0x7E),),
    "Blank": ((0x09, 0x09), (0x20, 0x20)),
    "Cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "XDigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "Space": ((0x09, 0x0D), (0x20, 0x20)),
}


def _normalized(ranges) -> _Ranges:
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


def _union(*sets: _Ranges) -> _Ranges:
    return _normalized([code_range for ranges in sets for code_range in ranges])


def _complement(ranges: _Ranges) -> _Ranges:
    gaps, next_first = [], 0
    for first, last in ranges:
        if first > next_first:
            gaps.append((next_first, first - 1))
        next_first = last + 1
    if next_first <= sys.maxunicode:
        gaps.append((next_first, sys.maxunicode))
    return tuple(gaps)


@functools.cache
def _general_categories() -> dict[str, _Ranges]:
    r"""Each Unicode general category (`Lu`, `Nd`, ...) as ranges: one pass over all code points,
    done once, the first time a pattern needs a Unicode property (about a third of a second).

    Python's Unicode version can be older than the JDK's behind AWS: characters it does not know
    yet count as unassigned (`Cn`), so `\p{L}` refuses them, the stricter side."""
    categories: dict[str, list[tuple[int, int]]] = {}
    category_of = unicodedata.category
    run_start, run_category = 0, category_of("\0")
    for code_point in range(1, sys.maxunicode + 2):
        category = category_of(chr(code_point)) if code_point <= sys.maxunicode else None
        if category != run_category:
            categories.setdefault(run_category, []).append((run_start, code_point - 1))
            run_start, run_category = code_point, category
    return {name: tuple(ranges) for name, ranges in categories.items()}


def _category(name: str) -> _Ranges | None:
    """A general category (`Lu`) or a group of them (`L`), as Java names them."""
    categories = _general_categories()
    if len(name) == 2:
        return categories.get(name)
    if len(name) == 1 and name in "LMNPSZC":
        return _union(*(ranges for category, ranges in categories.items() if category[0] == name))
    return None


@functools.cache
def _matching(predicate_name: str) -> _Ranges:
    predicate = {"lowercase": str.islower, "uppercase": str.isupper}[predicate_name]
    return _normalized(
        (code_point, code_point) for code_point in range(sys.maxunicode + 1) if predicate(chr(code_point))
    )


def _binary_property(name: str) -> _Ranges | None:
    """Java's `\\p{IsXxx}` Unicode properties (case-insensitive), those unicodedata can give."""
    name = name.upper()
    name = {"WHITESPACE": "WHITE_SPACE", "HEXDIGIT": "HEX_DIGIT", "JOINCONTROL": "JOIN_CONTROL"}.get(name, name)
    if name == "ALPHABETIC":
        # Letters and letter numbers. Java's Alphabetic also has Other_Alphabetic (some combining
        # marks of Indic scripts), which unicodedata does not expose: stricter than AWS there.
        return _union(_category("L"), _category("Nl"))
    if name == "ALNUM":
        return _union(_binary_property("ALPHABETIC"), _category("Nd"))
    simple = {
        "LETTER": lambda: _category("L"),
        "LOWERCASE": lambda: _matching("lowercase"),
        "UPPERCASE": lambda: _matching("uppercase"),
        "TITLECASE": lambda: _category("Lt"),
        "WHITE_SPACE": lambda: _WHITE_SPACE,
        "CONTROL": lambda: _category("Cc"),
        "PUNCTUATION": lambda: _category("P"),
        "DIGIT": lambda: _category("Nd"),
        "ASSIGNED": lambda: _complement(_category("Cn")),
        "BLANK": lambda: _union(_category("Zs"), ((0x09, 0x09),)),
        "JOIN_CONTROL": lambda: ((0x200C, 0x200D),),
        "HEX_DIGIT": lambda: (
            (0x30, 0x39),
            (0x41, 0x46),
            (0x61, 0x66),
            (0xFF10, 0xFF19),
            (0xFF21, 0xFF26),
            (0xFF41, 0xFF46),
        ),
    }.get(name)
    return simple() if simple else None


def _property(name: str) -> _Ranges | None:
    """Java's `forProperty`: general categories, POSIX classes and a few Java extras."""
    for prefix in ("general_category=", "gc="):
        if name.startswith(prefix):
            return _category(name.removeprefix(prefix))
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    extras = {
        "all": lambda: _ALL_CODE_POINTS,
        "L1": lambda: ((0x00, 0xFF),),
        "LC": lambda: _union(_category("Lu"), _category("Ll"), _category("Lt")),
        "LD": lambda: _union(_category("L"), _category("Nd")),
    }.get(name)
    return extras() if extras else _category(name)


def _named_set(name: str) -> _Ranges:
    """`\\p{name}`, resolved in the order java.util.regex.Pattern resolves it."""
    if name.startswith("Is"):
        ranges = _binary_property(name[2:])
        if ranges is None:
            ranges = _property(name[2:])
    elif name.startswith("In") or name.startswith(("script=", "sc=", "block=", "blk=")):
        ranges = None  # Unicode blocks and scripts: unicodedata does not have them
    else:
        ranges = _property(name)
    if ranges is None:
        raise UntranslatablePattern(f"\\p{{{name}}}")
    return ranges


def _literal(code_point: int) -> str:
    """One code point, written so that it means itself inside and outside a class."""
    if code_point < 0x80 and chr(code_point).isalnum():
        return chr(code_point)
    if code_point < 0x100:
        return f"\\x{code_point:02x}"
    if code_point < 0x10000:
        return f"\\u{code_point:04x}"
    return f"\\U{code_point:08x}"


def _class_body(ranges: _Ranges) -> str:
    return "".join(
        _literal(first) if first == last else f"{_literal(first)}-{_literal(last)}" for first, last in ranges
    )


def _set_regex(body: str) -> str:
    return f"[{body}]" if body else "(?!)"  # an empty set matches nothing


# What an escape sequence stands for.
@dataclass(frozen=True)
class _Characters:
    code_points: tuple[int, ...]


@dataclass(frozen=True)
class _CharacterSet:
    body: str  # Python class contents


@dataclass(frozen=True)
class _Expression:
    regex: str
    zero_width: bool


@dataclass
class _Group:
    start: int  # index of the group's first output piece
    zero_width: bool
    dotall: bool
    inline_flags: list[str] = field(default_factory=list)  # `(?i)`-style flags, open as `(?i:`


@dataclass
class _ClassOperand:
    body: list[str] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)

    def regex(self, *, negated: bool) -> str:
        body = "".join(self.body)
        if not self.nested:
            if negated:
                return f"[^{body}]" if body else "[\\s\\S]"
            return _set_regex(body)
        if negated:
            raise UntranslatablePattern("a negated class with nested classes")
        alternatives = ([f"[{body}]"] if body else []) + self.nested
        return "(?:" + "|".join(alternatives) + ")"


_QUANTIFIER = re.compile(r"(?:[*+?]|\{[0-9]+(?:,[0-9]*)?\})[?+]?")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_GROUP_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]*")


class _JavaPatternTranslator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.position = 0
        self.pieces: list[str] = []
        self.groups = [_Group(start=0, zero_width=False, dotall=False)]
        self._forget_atom()

    def translate(self) -> str:
        while self.position < len(self.pattern):
            self._translate_next()
        if len(self.groups) > 1:
            raise UntranslatablePattern("unclosed group")
        self._close_inline_flags(self.groups[0])
        return "".join(self.pieces)

    # What a following quantifier applies to.
    def _forget_atom(self) -> None:
        self.atom_start: int | None = None
        self.atom_zero_width = False
        self.atom_quantified = False

    def _emit_atom(self, regex: str, *, zero_width: bool = False) -> None:
        self.atom_start = len(self.pieces)
        self.pieces.append(regex)
        self.atom_zero_width, self.atom_quantified = zero_width, False

    def _translate_next(self) -> None:
        char = self.pattern[self.position]
        if char == "(":
            self._open_group()
        elif char == ")":
            self._close_group()
        elif char == "|":
            group = self.groups[-1]
            self._close_inline_flags(group)
            self.pieces.append("|")
            self.pieces.extend(group.inline_flags)  # Java's inline flags hold across `|`
            self.position += 1
            self._forget_atom()
        elif char in "*+?{":
            self._quantifier()
        elif char == "[":
            self._emit_atom(self._character_class())
        elif char == "\\":
            self._escape()
        elif char == ".":
            self.position += 1
            self._emit_atom("." if self.groups[-1].dotall else _DOT_WITHOUT_DOTALL)
        elif char in "^$":
            self.position += 1
            self._emit_atom(char, zero_width=True)
        else:
            self.position += 1
            self._emit_atom(_literal(ord(char)))

    def _quantifier(self) -> None:
        match = _QUANTIFIER.match(self.pattern, self.position)
        if match is None or self.atom_start is None:
            raise UntranslatablePattern(f"dangling {self.pattern[self.position]!r} at {self.position}")
        self.position = match.end()
        if self.atom_quantified:
            if match.group().startswith("{"):
                return  # Java applies a second {n,m} to nothing: `a{2}{3}` matches "aa" only
            raise UntranslatablePattern("a quantifier after a quantifier")
        if self.atom_zero_width:
            # Java repeats anchors and lookarounds; Python wants them in a group first.
            self.pieces[self.atom_start :] = ["(?:" + "".join(self.pieces[self.atom_start :]) + ")"]
        self.pieces.append(match.group())
        self.atom_quantified, self.atom_zero_width = True, False

    def _open_group(self) -> None:
        parent = self.groups[-1]
        rest = self.pattern[self.position :]
        start = len(self.pieces)
        zero_width = False
        dotall = parent.dotall
        if rest.startswith(("(?:", "(?>")):
            opening = rest[:3]
        elif rest.startswith(("(?=", "(?!")):
            opening, zero_width = rest[:3], True
        elif rest.startswith(("(?<=", "(?<!")):
            opening, zero_width = rest[:4], True
        elif rest.startswith("(?<"):
            name = _GROUP_NAME.match(rest, 3)
            if name is None or rest[name.end() : name.end() + 1] != ">":
                raise UntranslatablePattern("a malformed group name")
            self.position += name.end() + 1
            self.pieces.append(f"(?P<{name.group()}>")
            self.groups.append(_Group(start=start, zero_width=False, dotall=dotall))
            self._forget_atom()
            return
        elif rest.startswith("(?"):
            flags = _INLINE_FLAGS.match(rest)
            if flags is None:
                raise UntranslatablePattern(f"group {rest[:4]!r}")
            turned_on, turned_off, end = flags.group(1), flags.group(2) or "", flags.group(3)
            if set(turned_on + turned_off) - set("ims") or not turned_on + turned_off:
                raise UntranslatablePattern(f"flags {flags.group()!r}")  # d, u, U, x change more than Python can
            scoped = f"(?{turned_on}{'-' + turned_off if turned_off else ''}:"
            dotall = ("s" in turned_on or parent.dotall) and "s" not in turned_off
            self.position += flags.end()
            self._forget_atom()
            if end == ")":
                # Java: the flags hold to the end of the enclosing group. Python allows global
                # flags only at the very start, so they become a scoped group closed with it.
                self.pieces.append(scoped)
                parent.inline_flags.append(scoped)
                parent.dotall = dotall
            else:
                self.pieces.append(scoped)
                self.groups.append(_Group(start=start, zero_width=False, dotall=dotall))
            return
        else:
            opening = "("
        self.position += len(opening)
        self.pieces.append(opening)
        self.groups.append(_Group(start=start, zero_width=zero_width, dotall=dotall))
        self._forget_atom()

    def _close_group(self) -> None:
        if len(self.groups) == 1:
            raise UntranslatablePattern("unbalanced ')'")
        group = self.groups.pop()
        self._close_inline_flags(group)
        self.pieces.append(")")
        self.position += 1
        self.atom_start, self.atom_zero_width, self.atom_quantified = group.start, group.zero_width, False

    def _close_inline_flags(self, group: _Group) -> None:
        self.pieces.append(")" * len(group.inline_flags))

    def _escape(self) -> None:
        meaning = self._read_escape(in_class=False)
        if isinstance(meaning, _Characters):
            for code_point in meaning.code_points:  # a quantifier after \Q...\E applies to the last one
                self._emit_atom(_literal(code_point))
        elif isinstance(meaning, _CharacterSet):
            self._emit_atom(_set_regex(meaning.body))
        else:
            self._emit_atom(meaning.regex, zero_width=meaning.zero_width)

    def _read_escape(self, *, in_class: bool) -> _Characters | _CharacterSet | _Expression:
        if self.position + 1 >= len(self.pattern):
            raise UntranslatablePattern("a trailing backslash")
        letter = self.pattern[self.position + 1]
        self.position += 2
        if letter in "dDwWsS":
            return _CharacterSet("\\" + letter)  # same meaning with re.ASCII
        if letter in "pP":
            ranges = _named_set(self._read_property_name())
            return _CharacterSet(_class_body(_complement(ranges) if letter == "P" else ranges))
        if letter in "hHvV":
            ranges = _HORIZONTAL_WHITESPACE if letter in "hH" else _VERTICAL_WHITESPACE
            return _CharacterSet(_class_body(ranges if letter.islower() else _complement(ranges)))
        simple_characters = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}
        if letter in simple_characters:
            return _Characters((simple_characters[letter],))
        if letter == "x":
            return _Characters((self._read_hex_escape(),))
        if letter == "u":
            return _Characters((self._read_utf16_escape(),))
        if letter == "0":
            octal = re.match(r"[0-3]?[0-7]{1,2}", self.pattern[self.position :])
            if octal is None:
                raise UntranslatablePattern("\\0 without octal digits")
            self.position += octal.end()
            return _Characters((int(octal.group(), 8),))
        if letter == "c" and self.position < len(self.pattern):
            self.position += 1
            return _Characters((ord(self.pattern[self.position - 1]) ^ 0x40,))
        if letter == "Q":
            end = self.pattern.find("\\E", self.position)
            end = len(self.pattern) if end == -1 else end
            quoted = self.pattern[self.position : end]
            self.position = min(end + 2, len(self.pattern))
            return _Characters(tuple(ord(char) for char in quoted))
        if letter == "N":
            name = re.match(r"\{([^}]*)\}", self.pattern[self.position :])
            if name is None:
                raise UntranslatablePattern("\\N without a name")
            self.position += name.end()
            try:
                return _Characters((ord(unicodedata.lookup(name.group(1))),))
            except KeyError as unknown:
                raise UntranslatablePattern(f"\\N{{{name.group(1)}}}") from unknown
        if not in_class:
            anchors = {
                "b": "\\b",
                "B": "\\B",
                "A": "\\A",
                "z": "\\Z",  # Python's \Z is Java's \z: the very end
                "Z": f"(?={_LINEBREAK}?\\Z)",  # Java's \Z: the end, or before a final line break
            }
            if letter in anchors:
                return _Expression(anchors[letter], zero_width=True)
            if letter == "R":
                return _Expression(_LINEBREAK, zero_width=False)
            if letter in "123456789":
                return _Expression(f"(?:\\{letter})", zero_width=False)
            if letter == "k":
                name = re.match(r"<([a-zA-Z][a-zA-Z0-9]*)>", self.pattern[self.position :])
                if name is None:
                    raise UntranslatablePattern("\\k without a group name")
                self.position += name.end()
                return _Expression(f"(?P={name.group(1)})", zero_width=False)
        if letter.isascii() and letter.isalnum():
            raise UntranslatablePattern(f"\\{letter}")  # \G, \X and Java's errors
        return _Characters((ord(letter),))  # an escaped symbol stands for itself

    def _read_property_name(self) -> str:
        if self.pattern.startswith("{", self.position):
            end = self.pattern.find("}", self.position)
            if end == -1:
                raise UntranslatablePattern("an unclosed \\p{")
            name, self.position = self.pattern[self.position + 1 : end], end + 1
            return name
        if self.position >= len(self.pattern):
            raise UntranslatablePattern("\\p without a name")
        self.position += 1
        return self.pattern[self.position - 1]  # \pL

    def _read_hex_escape(self) -> int:
        if self.pattern.startswith("{", self.position):
            digits = re.match(r"\{([0-9a-fA-F]{1,8})\}", self.pattern[self.position :])
        else:
            digits = re.match(r"()([0-9a-fA-F]{2})", self.pattern[self.position :])
        if digits is None:
            raise UntranslatablePattern("a malformed \\x escape")
        self.position += digits.end()
        code_point = int(digits.group(digits.lastindex), 16)
        if code_point > sys.maxunicode:
            raise UntranslatablePattern("a code point beyond Unicode")
        return code_point

    def _read_utf16_escape(self) -> int:
        units = re.match(r"[0-9a-fA-F]{4}", self.pattern[self.position :])
        if units is None:
            raise UntranslatablePattern("a malformed \\u escape")
        self.position += 4
        high = int(units.group(), 16)
        # Java patterns are UTF-16: `\uD83D\uDE00` is one code point (U+1F600), not two.
        low = re.match(r"\\u([dD][c-fC-F][0-9a-fA-F]{2})", self.pattern[self.position :])
        if 0xD800 <= high <= 0xDBFF and low is not None:
            self.position += 6
            return 0x10000 + ((high - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        return high

    def _character_class(self) -> str:
        """A Java class `[...]` at the current position, as a Python regex for one code point."""
        self.position += 1
        negated = self.pattern.startswith("^", self.position)
        if negated:
            self.position += 1
        operands = [_ClassOperand()]
        first = True
        while True:
            if self.position >= len(self.pattern):
                raise UntranslatablePattern("an unclosed character class")
            char = self.pattern[self.position]
            if char == "]" and not first:
                self.position += 1
                break
            first = False
            if self.pattern.startswith("&&", self.position):
                self.position += 2
                operands.append(_ClassOperand())
                continue
            self._class_item(operands[-1])
        operands = [operand for operand in operands if operand.body or operand.nested]  # Java ignores `[a&&]`
        if len(operands) <= 1:
            return (operands[0] if operands else _ClassOperand()).regex(negated=negated)
        if negated:
            raise UntranslatablePattern("a negated intersection")
        # One code point in every operand: lookaheads for all but the last, which consumes it.
        regexes = [operand.regex(negated=False) for operand in operands]
        return "(?:" + "".join(f"(?={regex})" for regex in regexes[:-1]) + regexes[-1] + ")"

    def _class_item(self, operand: _ClassOperand) -> None:
        item = self._class_atom()
        if isinstance(item, str):
            operand.nested.append(item)
            return
        if isinstance(item, _CharacterSet):
            operand.body.append(item.body)
            return
        code_points = item.code_points
        operand.body.extend(_literal(code_point) for code_point in code_points[:-1])
        if not code_points:
            return
        low = code_points[-1]
        is_range = (
            len(code_points) == 1
            and self.pattern.startswith("-", self.position)
            and self.position + 1 < len(self.pattern)
            and self.pattern[self.position + 1] not in "[]"
            and not self.pattern.startswith("&&", self.position + 1)
        )
        if not is_range:
            operand.body.append(_literal(low))
            return
        self.position += 1
        high_item = self._class_atom()
        if isinstance(high_item, _Characters) and len(high_item.code_points) == 1:
            high = high_item.code_points[0]
            if high < low:
                raise UntranslatablePattern("a reversed range")
            operand.body.append(f"{_literal(low)}-{_literal(high)}")
            return
        # Java reads `[\w-_]` and `[a-\d]` as a literal hyphen next to the other items.
        operand.body.extend([_literal(low), _literal(ord("-"))])
        if isinstance(high_item, _CharacterSet):
            operand.body.append(high_item.body)
        elif isinstance(high_item, str):
            operand.nested.append(high_item)
        else:
            operand.body.extend(_literal(code_point) for code_point in high_item.code_points)

    def _class_atom(self) -> _Characters | _CharacterSet | str:
        char = self.pattern[self.position]
        if char == "\\":
            meaning = self._read_escape(in_class=True)
            assert not isinstance(meaning, _Expression)  # only read outside classes
            return meaning
        if char == "[":
            return self._character_class()  # a nested class, a union in Java
        self.position += 1
        return _Characters((ord(char),))
