"""The streaming dataset validator: one pass, constant memory, every problem with its line.

Input is any iterable of byte chunks (a local file read in blocks, or an S3 object body),
so the CLI and the Lambda run exactly the same code. Memory does not grow with the file:
lines are handled one at a time, problems beyond a cap are counted but not kept, and the
duplicate check keeps a bounded number of fingerprints.
"""

from __future__ import annotations

import codecs
import json
import math
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain

from customization.catalog import ModelSpec
from customization.validation.problems import ProblemLog
from customization.validation.records import (
    CHECKERS,
    EXAMPLES,
    FORMAT_NAMES,
    MIN_KEYS,
    R_ENCODING,
    SAME_SHAPE,
    RecordContext,
    find_lone_surrogate,
    record_format,
    show,
)
from customization.validation.tokens import BYTES_PER_TOKEN, estimate_tokens

CHUNK_BYTES = 1 << 20
# Fingerprints kept for duplicate and overlap warnings (about 100 bytes each). Far above
# every model's record quota, so only files that already fail the record count go past it.
DUPLICATE_TRACKING_LIMIT = 250_000
# Role markers and separators the model sees around each message, on top of its text.
TOKENS_PER_TEXT_OVERHEAD = 4
# Bytes of line allowed per byte of text a record may hold (see `max_line_bytes`).
LINE_BYTES_PER_TEXT_BYTE = 16
# How far `peek_format` reads ahead to tell the format a file's records are in: its first
# records, within a few lines and bytes, so the look costs nothing whatever the file holds.
FORMAT_SAMPLE_RECORDS = 20
FORMAT_SAMPLE_LINES = 100
FORMAT_SAMPLE_BYTES = 1 << 20

R_BOM = "byte-order-mark"
R_BLANK = "blank-line"
R_JSON = "json"
R_OBJECT = "record-type"
R_TOKENS = "token-limit"
R_LINE = "line-too-long"
R_CARRIAGE_RETURN = "carriage-return"
R_DUPLICATE = "duplicate"
R_DUPLICATE_KEY = "duplicate-key"
R_OVERLAP = "train-validation-overlap"
R_FORMAT = "data-format"


class NonStandardJson(ValueError):
    """JSON that Python's parser reads but Bedrock's does not (or not as the same value)."""


def _refuse_constant(name: str) -> float:
    raise NonStandardJson(f"{name} is not a JSON value: Python's parser reads it, Bedrock's refuses it")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NonStandardJson(_too_large(text))
    return value


def _bounded_int(text: str) -> int:
    # Checked before int(), which refuses more than 4,300 digits with a ValueError of its own.
    if len(text) > 300 and math.isinf(float(text)):
        raise NonStandardJson(_too_large(text))
    return int(text)


def _too_large(text: str) -> str:
    shown = text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text):,} characters)"
    return (
        f"the number {shown} is beyond the range JSON parsers agree on (RFC 8259: about 1.8e308); "
        "Python reads it as infinity, or not at all"
    )


# Parses a record as Bedrock would read it: NaN and Infinity, which Python takes and Bedrock
# refuses, and numbers beyond a double's range fail here too. Records hold no numbers, so the
# hooks cost nothing on good data; the object hook is left out (it would slow every record).
RECORD_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)


def json_problem(error: ValueError | RecursionError) -> str:
    """What is wrong, for a message: `... (Expecting ',' delimiter at column 12)`."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg.removesuffix(' at')} at column {error.colno}"  # "Invalid control character at"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)


def repeated_key(text: str) -> str | None:
    """The first key that appears twice in one object of the JSON `text`, if any.

    A second parse, for the few lines where the cheap count in `DatasetScanner.scan` cannot
    rule a repeated key out: which value a parser keeps is its own choice (Python keeps the
    last), so the record Bedrock reads may not be the one checked.
    """
    found: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        obj = dict(items)
        if len(obj) != len(items) and not found:
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    found.append(key)
                    break
                seen.add(key)
        return obj

    try:
        json.JSONDecoder(object_pairs_hook=pairs).decode(text)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32 (little-endian)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (little-endian)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (big-endian)"),
)


def wide_encoding(start: bytes) -> str | None:
    """How a file is encoded when its first line, `start`, is UTF-16 or UTF-32 text, else None.

    With a byte-order mark that says it. Without one, text that is mostly ASCII (as JSON is)
    has a NUL in every other byte (UTF-16) or in three bytes of four (UTF-32), which UTF-8
    text and binary data do not: NULs in one position of most units and almost never in the
    other. A line split at a 0x0A byte of such a file is still one of its lines, give or
    take a NUL.
    """
    for bom, name in _WIDE_BOMS:
        if start.startswith(bom):
            return f"{name} with a byte-order mark"
    sample = start[:256]
    units = len(sample) // 4
    if units < 2:
        return None
    for width, name in ((4, "UTF-32"), (2, "UTF-16")):
        count = len(sample) // width
        for order, offsets in (("little-endian", range(1, width)), ("big-endian", range(width - 1))):
            value_byte = 0 if order == "little-endian" else width - 1
            zero_high = sum(all(sample[i * width + o] == 0 for o in offsets) for i in range(count))
            zero_low = sum(sample[i * width + value_byte] == 0 for i in range(count))
            if zero_high * 4 >= count * 3 and zero_low * 8 <= count:
                return f"{name} ({order}, no byte-order mark)"
    return None


def max_line_bytes(token_limit: int) -> int:
    """The longest line a record within `token_limit` tokens could plausibly be.

    The estimate counts one token per 3 bytes of UTF-8 text, so a record within the limit has
    at most token_limit * 3 bytes of text. Written as JSON, one byte of text takes at most 6
    (`\\u0001`; a 2-byte character as `\\u00e9` takes 3 a byte, a 4-byte one as a surrogate pair
    12), and each text costs TOKENS_PER_TEXT_OVERHEAD tokens for about 50 bytes of keys and
    brackets: at most about 18 bytes of line a token. The factor of 16 a byte of text (48 a
    token) leaves more than twice that for media blocks (S3 URIs of up to 1 KB) and spacing,
    so only a line no one meant as one record is refused unread; the check of its text
    against the limit stays the token estimate's.
    """
    return token_limit * BYTES_PER_TOKEN * LINE_BYTES_PER_TEXT_BYTE


class LongLine(bytes):
    """A line longer than `iter_lines`' bound, counted but not kept: it stands in as an empty
    line, so code that writes lines skips it, and carries the real size for the report."""

    size: int  # bytes, without the end of line
    carriage_returns: int  # CR bytes in it: a file with CR-only line ends is one long line

    def __new__(cls, size: int, carriage_returns: int = 0) -> LongLine:
        line = super().__new__(cls)
        line.size, line.carriage_returns = size, carriage_returns
        return line

    def __repr__(self) -> str:
        return f"LongLine(size={self.size}, carriage_returns={self.carriage_returns})"


def iter_lines(chunks: Iterable[bytes], max_line_bytes: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its end-of-line) from a stream of byte chunks.

    Linear in the input and bounded in memory however long a line is: a line that spans
    chunks is kept as a list of pieces and joined once, and a line longer than
    `max_line_bytes` is yielded as a `LongLine`, its pieces dropped as soon as it is too long.
    """
    limit = sys.maxsize if max_line_bytes is None else max_line_bytes
    number = 0
    pieces: list[bytes] = []  # the start of a line that began in an earlier chunk
    pending = 0  # its size in bytes; the pieces are dropped once it passes the limit
    carriage_returns = 0  # CRs in a dropped line
    ends_with_cr = False  # whether its last byte so far is a CR (part of a CRLF, not of the line)
    for chunk in chunks:
        if not chunk:
            continue
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines and pending:
            # The line that began in an earlier chunk ends in this one: joined once, here.
            head = lines[0]
            if pending <= limit + 1:
                pieces.append(head)
                lines[0] = b"".join(pieces)
            else:
                cr = head.endswith(b"\r") if head else ends_with_cr
                lines[0] = LongLine(pending + len(head) - cr, carriage_returns + head.count(b"\r") - cr)
            pieces, pending, carriage_returns = [], 0, 0
        for line in lines:
            number += 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > limit:
                line = LongLine(len(line), line.count(b"\r"))
            yield number, line
        if tail:
            if pending <= limit + 1:
                pieces.append(tail)
            else:
                carriage_returns += tail.count(b"\r")
            pending += len(tail)
            ends_with_cr = tail.endswith(b"\r")
            if pieces and pending > limit + 1:  # too long even without a final CR: count it, keep nothing
                carriage_returns = sum(piece.count(b"\r") for piece in pieces)
                pieces = []
    if pending:
        if pieces:
            line = b"".join(pieces)
            line = line[:-1] if line.endswith(b"\r") else line
            yield number + 1, line if len(line) <= limit else LongLine(len(line), line.count(b"\r"))
        else:
            yield number + 1, LongLine(pending - ends_with_cr, carriage_returns - ends_with_cr)


def peek_format(lines: Iterable[tuple[int, bytes]]) -> tuple[str | None, Iterator[tuple[int, bytes]]]:
    """The data format the first records of `lines` are clearly in, and the lines, from the first.

    Clearly: more than half of the first FORMAT_SAMPLE_RECORDS JSON objects have that shape
    (`record_format`), so a few broken or stray records do not hide it, and a file of records
    broken in every way has none. Lines that are not JSON objects are passed over; their
    problems are reported when they are checked. At most FORMAT_SAMPLE_LINES lines and about
    FORMAT_SAMPLE_BYTES are held, and parsed again when checked: a few records' worth of time,
    whatever the file's size.
    """
    lines = iter(lines)
    held: list[tuple[int, bytes]] = []
    formats: Counter[str | None] = Counter()
    size = 0
    for number, raw in lines:
        held.append((number, raw))
        size += len(raw)
        record = _parse_quietly(number, raw)
        if type(record) is dict:
            formats[record_format(record)] += 1
        if formats.total() >= FORMAT_SAMPLE_RECORDS or len(held) >= FORMAT_SAMPLE_LINES or size >= FORMAT_SAMPLE_BYTES:
            break
    objects = formats.total()
    del formats[None]
    found, count = formats.most_common(1)[0] if formats else (None, 0)
    return found if count * 2 > objects else None, chain(held, lines)


def _parse_quietly(number: int, raw: bytes) -> object:
    """The JSON value of a line, or None when it has none (its problem is reported elsewhere)."""
    try:
        text = raw.decode("utf-8")
        return RECORD_DECODER.decode(text[1:] if number == 1 and text.startswith("\ufeff") else text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


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
        record_check: Callable[[dict], str | None] | None = None,
    ) -> None:
        self.model = model
        self.record_check = record_check
        self.data_format = data_format
        self.log = log
        self.token_limit = token_limit
        self.dataset_bucket = dataset_bucket
        self._checker = CHECKERS[data_format]
        self._min_keys = MIN_KEYS[data_format]
        self.training_fingerprints: dict[int, int] = {}

    @property
    def max_line_bytes(self) -> int:
        """The bound to read lines with (`iter_lines`): longer ones cannot hold a record."""
        return max_line_bytes(self.token_limit)

    def scan(self, name: str, lines: Iterable[tuple[int, bytes]], *, is_validation: bool = False) -> FileScan:
        """Check every line of `name`; for the validation file, also warn on records shared with training."""
        scan = FileScan(name)
        log, checker, limit, decode = self.log, self._checker, self.token_limit, RECORD_DECODER.decode
        min_keys = self._min_keys
        context = RecordContext(
            file=name, log=log, model=self.model, dataset_bucket=self.dataset_bucket, record_check=self.record_check
        )
        seen: dict[int, int] = {}
        training = self.training_fingerprints if is_validation else None
        keys = scan.split_keys
        lines = iter(lines)
        first = next(lines, None)
        if first is not None and (encoding := wide_encoding(first[1])):
            # Every line of it would fail: say it once.
            log.error(name, 1, R_ENCODING, f"the file is {encoding}, not UTF-8: save it as UTF-8")
            scan.lines, scan.bytes = _count(chain([first], lines))
            return scan
        # Counted in locals, not on `scan`: this loop runs once a record, at JSON-parsing speed.
        number = size = records = total_tokens = largest = duplicates = 0
        try:
            found, lines = peek_format(chain([first], lines) if first is not None else ())
            if found is not None and found in SAME_SHAPE.get(self.data_format, ()):
                pass  # the method's own format, which record_format names by its shape
            elif found is not None and self.data_format in SAME_SHAPE:
                # No conversion exists into a method's prompts: one problem for the file, then
                # each record gets the method's own checks.
                log.error(
                    name,
                    None,
                    R_FORMAT,
                    f"judging by its first records, the file holds {FORMAT_NAMES[found]}, not the "
                    f"{FORMAT_NAMES[self.data_format]} this method takes, e.g. {EXAMPLES[self.data_format]}",
                )
            elif found is not None and found != self.data_format:
                # Records in another format: one problem for the file that names the conversion,
                # rather than the same few at every line; each record is then checked as that
                # conversion reads it, so what is left at a line is what stops the conversion.
                from customization.validation import convert  # it builds on this module

                message = convert.mismatch_message(name, found, self.data_format, self.model.name)
                log.error(name, None, R_FORMAT, message)
                checker, min_keys = convert.mismatch_checks(found, self.data_format)
            for number, raw in lines:
                size += len(raw) + 1
                if not raw or raw.isspace():
                    if type(raw) is LongLine:
                        size += raw.size
                        log.error(name, number, R_LINE, self._too_long(raw))
                    else:
                        log.error(name, number, R_BLANK, "blank line: every line must hold one JSON record; delete it")
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    log.error(
                        name,
                        number,
                        R_ENCODING,
                        f"not UTF-8 (byte {error.start + 1} of the line): save the file as UTF-8",
                    )
                    continue
                if number == 1 and text.startswith("\ufeff"):
                    log.error(
                        name, number, R_BOM, "the file starts with a byte-order mark: save it as UTF-8 without BOM"
                    )
                    text = text[1:]
                try:
                    record = decode(text)
                except (ValueError, RecursionError) as error:
                    log.error(
                        name,
                        number,
                        R_JSON,
                        f"not valid JSON ({json_problem(error)}){_hints(raw, text)}; {_expected(self.data_format)}",
                    )
                    continue
                if "\r" in text:  # JSON takes a CR for a space; a line reader may take it for a line end
                    log.warning(
                        name,
                        number,
                        R_CARRIAGE_RETURN,
                        f"a carriage return (CR) at byte {raw.index(13) + 1} of the line, with no line feed after "
                        "it: readers that take a CR for a line end (Python's text files, for one) see two lines "
                        "here; remove it",
                    )
                if type(record) is not dict:
                    log.error(name, number, R_OBJECT, f"a line must be one JSON object; {_expected(self.data_format)}")
                    continue
                texts = checker(record, number, context)
                if texts is None:
                    self._repeated_key(name, number, text)
                    continue
                joined = "\x00".join(texts)
                try:
                    tokens = estimate_tokens(joined) + TOKENS_PER_TEXT_OVERHEAD * len(texts)
                except UnicodeEncodeError:
                    log.error(name, number, R_ENCODING, _lone_surrogate_message(record))
                    continue
                # A repeated key: each key/value pair has one ':' outside strings, so a line
                # with as many ':' as keys has none. Only lines with more (':' in text, media
                # URIs) are looked at again; see _may_repeat_keys.
                colons = raw.count(b":")
                expected_keys = min_keys(record, texts)
                if colons != expected_keys and _may_repeat_keys(raw, joined, colons, expected_keys):
                    self._repeated_key(name, number, text)
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
                first_line = seen.get(fingerprint)
                if first_line is not None:
                    duplicates += 1
                    log.warning(
                        name, number, R_DUPLICATE, f"same text as line {first_line}: duplicates weigh one example twice"
                    )
                elif len(seen) < DUPLICATE_TRACKING_LIMIT:
                    seen[fingerprint] = number
                if training is not None and fingerprint in training:
                    log.warning(
                        name,
                        number,
                        R_OVERLAP,
                        f"same text as training line {training[fingerprint]}: validation loss on seen examples "
                        "flatters the model; remove it from one of the files",
                    )
        except Exception as error:
            # Not a problem of the data but a fault of this code (or of the reading): whoever
            # reports it can say where it happened.
            log.interrupted_at = (name, number or None)
            error.add_note(f"while checking {name}, line {number}")
            raise
        scan.lines, scan.bytes, scan.records = number, size, records
        scan.tokens, scan.max_record_tokens, scan.duplicates = total_tokens, largest, duplicates
        if not is_validation:
            self.training_fingerprints = seen
        return scan

    def _too_long(self, line: LongLine) -> str:
        message = (
            f"{line.size:,} bytes on one line, more than {self.max_line_bytes:,}: no record within the "
            f"{self.token_limit:,} tokens {self.model.name} allows is that long (at one token per "
            f"{BYTES_PER_TOKEN} bytes of text, even with every character escaped); shorten or split this record"
        )
        if line.carriage_returns:
            message += (
                f". It holds {line.carriage_returns:,} carriage return(s) and no line feed: if the file has "
                "CR line ends (old Mac style), save it with LF line ends"
            )
        return message

    def _repeated_key(self, name: str, number: int, text: str) -> None:
        key = repeated_key(text)
        if key is not None:
            self.log.warning(
                name,
                number,
                R_DUPLICATE_KEY,
                f"the key {show(key)} appears twice in one object: JSON parsers differ on which value they "
                "keep (this check read the last), so Bedrock may not read the record checked; keep one",
            )


def _may_repeat_keys(raw: bytes, joined: str, colons: int, expected_keys: int) -> bool:
    """Whether a line a checker accepted may hold a key twice, when its ':' count alone cannot say.

    `expected_keys` is the fewest keys the record has (`MIN_KEYS`), exact for text-only
    records, whose only strings that may hold a ':' are their texts. A line has one ':' per
    key/value pair and one per ':' written as such in a string; a ':' in a text written as
    the escape `\\u003a` is in the text but not in the line.
    """
    text_colons = joined.count(":")
    return colons - text_colons != expected_keys or (text_colons > 0 and b"\\u003" in raw)


def _count(lines: Iterable[tuple[int, bytes]]) -> tuple[int, int]:
    """(lines, bytes) of the rest of a file that is not read record by record."""
    last = size = 0
    for last, raw in lines:  # noqa: B007 (the last line's number is the count)
        size += (raw.size if type(raw) is LongLine else len(raw)) + 1
    return last, size


def _hints(raw: bytes, text: str) -> str:
    """Why a line that is not JSON may not be: what a person would not see in an editor."""
    if b"\x00" in raw:
        return (
            f": the line holds a NUL byte (byte {raw.index(0) + 1}); is the file binary, or text saved "
            "as UTF-16? save it as UTF-8 text"
        )
    if text.startswith("\ufeff"):
        return ": a byte-order mark starts this line (were files joined together?); remove it"
    if b"\r" in raw:
        return (
            ": the line holds a carriage return (CR) with no line feed after it; if the file has CR "
            "line ends (old Mac style), save it with LF line ends"
        )
    return ""


def _lone_surrogate_message(record: dict) -> str:
    found = find_lone_surrogate(record)
    path, char = found if found else ("a text", "\ud800")
    return (
        f"{path} holds a lone surrogate \\u{ord(char):04x}, which is not valid Unicode text: Bedrock cannot "
        "read it; fix the escape (a character beyond U+FFFF is written as a pair, e.g. \\ud83d\\ude00)"
    )


def _expected(data_format: str) -> str:
    return f"expected one object per line like {EXAMPLES[data_format]}"
