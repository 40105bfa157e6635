"""The validator never crashes: whatever a file holds, each problem is reported at its line
with its fix, in linear time and bounded memory (issue 13, part 2)."""

from __future__ import annotations

import json
import time
import tracemalloc

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from validate_dataset import handler

from customization import runtime
from customization.catalog import BEDROCK_CONVERSATION
from customization.evaluation.cases import select_cases
from customization.validation.dataset import LocalFile, check_dataset
from customization.validation.jobspec import JobSettings, apply_job_file
from customization.validation.prepare import text_to_input_records
from customization.validation.problems import MAX_MESSAGE_CHARS, ProblemLog
from customization.validation.records import CHECKERS
from customization.validation.scanner import LongLine, iter_lines, max_line_bytes, wide_encoding
from customization.validation.tokens import estimate_tokens
from customization.validation.upload import DatasetCheckFailedError
from tests.dataset_helpers import (
    LLAMA_31_8B,
    NOVA_LITE,
    NOVA_MICRO,
    TITAN_EXPRESS,
    check,
    claude,
    conversation,
    numbered,
    prompt_completion,
    still_customizable,
    write_jsonl,
)

NOVA_LIMIT = 32_000  # tokens a record may have for Amazon Nova Micro


def _file(tmp_path, raw_line: bytes | str, *, at: int = 3, count: int = 10, name: str = "train.jsonl"):
    """`count` good conversations with line `at` replaced by `raw_line` (bytes kept as they are)."""
    lines = [json.dumps(record).encode() for record in numbered("q", count)]
    lines[at - 1] = raw_line.encode("utf-8", "surrogatepass") if isinstance(raw_line, str) else raw_line
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _only(checked, rule: str):
    """The one problem of `rule`, as (line, message)."""
    found = [(p.line, p.message) for p in checked.result.log.problems if p.rule == rule]
    assert len(found) == 1, checked.result.log.problems
    return found[0]


# --- Lone surrogates: JSON's \ud800 parses, but is not text any model reads ---------------------


def test_a_lone_surrogate_in_a_text_is_an_encoding_problem_at_its_line(tmp_path):
    record = json.dumps(conversation("Is this spam?")).replace("Is this", "Is \\ud800this")
    checked = check(_file(tmp_path, record, at=4))

    line, message = _only(checked, "encoding")

    assert line == 4
    assert message.startswith("messages[0].content[0].text holds a lone surrogate \\ud800")
    assert "not valid Unicode text: Bedrock cannot read it; fix the escape" in message
    assert not checked.result.valid
    assert checked.result.train_records == 9


@pytest.mark.parametrize(
    ("model", "builder", "path"),
    [(LLAMA_31_8B, prompt_completion, "completion"), ("anthropic.claude-3-haiku-20240307-v1:0:200k", claude, "system")],
)
def test_a_lone_surrogate_is_found_in_every_format(tmp_path, model, builder, path):
    records = numbered("q", 120, builder)
    raw = {2: json.dumps(builder()).replace("legitimate" if path == "completion" else "You", "\\udfff")}
    checked = check(write_jsonl(tmp_path / "t.jsonl", records, raw_lines=raw), model, catalog=still_customizable(model))

    line, message = _only(checked, "encoding")

    assert line == 2
    assert message.startswith(f"{path} holds a lone surrogate \\udfff")


def test_a_lone_surrogate_in_a_media_uri_is_refused(tmp_path):
    record = conversation()
    record["messages"][0]["content"].append(
        {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://data/datasets/x/\ud800.png"}}}}
    )
    raw = json.dumps(record)  # ensure_ascii writes the surrogate as its escape
    checked = check(_file(tmp_path, raw, at=2), NOVA_LITE, dataset_bucket="data")

    line, message = _only(checked, "encoding")

    assert line == 2
    assert "s3Location.uri holds a lone surrogate \\ud800" in message


def test_a_surrogate_pair_is_one_character_and_fine(tmp_path):
    record = json.dumps(conversation("Is this spam? \U0001f600"))
    assert "\\ud83d\\ude00" in record

    assert check(_file(tmp_path, record)).result.valid


# --- Numbers Python reads differently from Bedrock ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9" * 5000, "the number 9999999999...999999 (5,000 characters) is beyond the range JSON parsers agree on"),
        ("-" + "1" * 400, "the number -111111111...111111 (401 characters) is beyond the range"),
        ("1e400", "the number 1e400 is beyond the range JSON parsers agree on"),
        ("NaN", "NaN is not a JSON value: Python's parser reads it, Bedrock's refuses it"),
        ("Infinity", "Infinity is not a JSON value"),
        ("-Infinity", "-Infinity is not a JSON value"),
    ],
)
def test_numbers_json_parsers_disagree_on_are_json_problems_at_their_line(tmp_path, value, expected):
    raw = json.dumps(conversation())[:-1] + f', "weight": {value}}}'

    line, message = _only(check(_file(tmp_path, raw, at=5)), "json")

    assert line == 5
    assert message.startswith(f"not valid JSON ({expected}")
    assert "expected one object per line like" in message


def test_an_ordinary_number_is_a_type_problem_not_a_json_one(tmp_path):
    raw = json.dumps(conversation()).replace('"legitimate"', "1e300")

    line, message = _only(check(_file(tmp_path, raw)), "field-type")

    assert (line, message) == (3, "messages[1].content[0].text must be a string, got float")


# --- Nesting ------------------------------------------------------------------------------------


def test_nesting_deeper_than_the_parser_goes_is_a_json_problem(tmp_path):
    raw = '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}"

    line, message = _only(check(_file(tmp_path, raw, at=2)), "json")

    assert line == 2
    assert message.startswith("not valid JSON (nested too deeply); expected one object per line")


def test_nesting_the_parser_takes_is_quoted_shortened_in_messages(tmp_path):
    # Deep enough that the built-in repr() of the value, from inside the checks, would overflow.
    deep = "[" * 900 + "]" * 900
    raw = f'{{"schemaVersion": {deep}, "messages": [{{"role": {deep}, "content": [{{"text": "x"}}]}}]}}'

    checked = check(_file(tmp_path, raw, at=2))

    assert _only(checked, "schema-version") == (2, "schemaVersion must be 'bedrock-conversation-2024', got [[[[...]]]]")
    assert checked.messages("role-order") == [
        f"{tmp_path / 'train.jsonl'}:2: role-order: messages[0].role is [[[[...]]]]: only 'user' and 'assistant' "
        "are allowed"
    ]


def test_a_media_source_of_the_wrong_shape_is_a_problem(tmp_path):
    record = conversation()
    record["messages"][0]["content"].append({"image": {"format": "png", "source": {"s3Location": ["s3://b/k"]}}})

    line, message = _only(check(_file(tmp_path, json.dumps(record), at=6), NOVA_LITE), "media-uri")

    assert line == 6
    assert message.startswith('messages[0].content[1].image.source must be {"s3Location": {"uri": "s3://bucket/key"}}')


# --- Bytes that are not UTF-8 JSON lines -------------------------------------------------------------


def test_a_nul_byte_says_so(tmp_path):
    raw = json.dumps(conversation()).encode()
    line, message = _only(check(_file(tmp_path, raw[:20] + b"\x00" + raw[20:], at=7)), "json")

    assert line == 7
    assert "not valid JSON (Invalid control character at column 21): the line holds a NUL byte (byte 21)" in message
    assert "is the file binary, or text saved as UTF-16? save it as UTF-8 text" in message


@pytest.mark.parametrize(
    ("encoding", "bom", "described"),
    [
        ("utf-16", b"", "UTF-16 (little-endian) with a byte-order mark"),
        ("utf-16-le", b"", "UTF-16 (little-endian, no byte-order mark)"),
        ("utf-16-be", b"", "UTF-16 (big-endian, no byte-order mark)"),
        ("utf-16-be", b"\xfe\xff", "UTF-16 (big-endian) with a byte-order mark"),
        ("utf-32", b"", "UTF-32 (little-endian) with a byte-order mark"),
        ("utf-32-le", b"", "UTF-32 (little-endian, no byte-order mark)"),
        ("utf-32-be", b"", "UTF-32 (big-endian, no byte-order mark)"),
    ],
)
def test_a_utf16_or_utf32_file_is_said_once_at_line_1(tmp_path, encoding, bom, described):
    text = "\n".join(json.dumps(record, ensure_ascii=False) for record in numbered("qué", 10)) + "\n"
    path = tmp_path / "train.jsonl"
    path.write_bytes(bom + text.encode(encoding))

    checked = check(path)

    assert _only(checked, "encoding") == (1, f"the file is {described}, not UTF-8: save it as UTF-8")
    assert [p.rule for p in checked.result.log.problems if p.line is not None] == ["encoding"]


def test_utf8_text_binary_data_and_short_lines_are_not_taken_for_utf16():
    assert wide_encoding(json.dumps(conversation("día")).encode()) is None
    assert wide_encoding(bytes(range(1, 200))) is None
    assert wide_encoding(b'{"a": "b\x00c"}') is None
    assert wide_encoding(b"{\x00}\x00") is None  # too short to tell


def test_a_byte_order_mark_inside_the_file_is_named(tmp_path):
    raw = b"\xef\xbb\xbf" + json.dumps(conversation()).encode()

    line, message = _only(check(_file(tmp_path, raw, at=4)), "json")

    assert line == 4
    assert "a byte-order mark starts this line (were files joined together?); remove it" in message


def test_cr_only_line_ends_are_named(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", numbered("q", 10))
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))

    line, message = _only(check(path), "json")

    assert line == 1
    assert "the line holds a carriage return (CR) with no line feed after it" in message
    assert "save it with LF line ends" in message


def test_a_lone_cr_inside_a_record_is_a_warning(tmp_path):
    raw = json.dumps(conversation()).replace('"messages": ', '"messages":\r', 1)

    checked = check(_file(tmp_path, raw, at=6))

    line, message = _only(checked, "carriage-return")
    assert line == 6
    assert message.startswith(f"a carriage return (CR) at byte {raw.index(chr(13)) + 1} of the line, with no line feed")
    assert checked.result.valid  # JSON reads it as a space


def test_mixed_crlf_and_lf_line_ends_are_fine(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", numbered("q", 10))
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 4))

    assert check(path).result.valid


def test_a_binary_file_gives_problems_at_lines(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(bytes(range(256)) * 64)

    checked = check(path)

    assert not checked.result.valid
    lines = [p.line for p in checked.result.log.problems if p.rule in ("json", "encoding")]
    assert lines == list(range(1, 66))


def test_a_file_of_only_newlines_reports_each_blank_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n\n\r\n")

    assert check(path).lines("blank-line") == [1, 2, 3]


# --- Keys written twice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "doubled", "key"),
    [
        ('"role": "user"', '"role": "assistant", "role": "user"', "role"),
        ('"schemaVersion"', '"system": [], "schemaVersion"', "system"),
        ('"text": "Is this spam?"', '"text": "x: y", "text": "Is this spam?"', "text"),  # ':' in text
        ('"text": "Is this spam?"', '"text": "x\\u003a y", "text": "Is this spam?"', "text"),  # escaped ':'
    ],
)
def test_a_key_written_twice_is_a_warning(tmp_path, original, doubled, key):
    raw = json.dumps(conversation()).replace(original, doubled, 1)

    checked = check(_file(tmp_path, raw, at=8))

    line, message = _only(checked, "duplicate-key")
    assert line == 8
    assert message.startswith(f"the key '{key}' appears twice in one object: JSON parsers differ on which value")
    assert checked.result.valid  # a warning


def test_a_key_written_twice_in_a_media_record_or_a_broken_one_is_found(tmp_path):
    media = conversation()
    media["messages"][0]["content"].append(
        {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://data/datasets/x/a.png"}}}}
    )
    doubled_media = json.dumps(media).replace('"format": "png"', '"format": "gif", "format": "png"')
    broken = json.dumps(conversation(answer="")).replace('"role": "user"', '"role": "user", "role": "user"')
    records = [json.dumps(r) for r in numbered("q", 8)] + [doubled_media, broken]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(records) + "\n")

    checked = check(path, NOVA_LITE, dataset_bucket="data")

    assert checked.lines("duplicate-key") == [9, 10]
    assert checked.lines("empty-text") == [10]


def test_colons_in_text_alone_are_no_warning(tmp_path):
    records = [conversation(f"Subject: offer {n} at 10:30", "Label: spam") for n in range(10)]
    records.append(prompt_completion())  # wrong format: an error, and no key written twice

    checked = check(write_jsonl(tmp_path / "train.jsonl", records))

    assert checked.warnings == set()


# --- Lines longer than any record ------------------------------------------------------------------


def test_a_line_longer_than_any_record_is_reported_with_its_size_and_not_held(tmp_path):
    bound = max_line_bytes(NOVA_LIMIT)
    assert bound == 32_000 * 3 * 16
    records = [json.dumps(r) for r in numbered("q", 10)]
    huge = json.dumps(conversation("x" * (3 * bound)))
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([*records[:4], huge, *records[4:]]) + "\n")

    checked = check(path, validation_split=0.2)

    line, message = _only(checked, "line-too-long")
    assert line == 5
    assert message.startswith(f"{len(huge):,} bytes on one line, more than {bound:,}: no record within the 32,000")
    assert message.endswith("shorten or split this record")
    assert checked.result.train.lines == 11
    assert checked.result.train.bytes == path.stat().st_size


def test_a_whole_file_with_cr_line_ends_is_one_long_line_and_says_why(tmp_path):
    lines = [json.dumps(conversation("y" * 2_000, f"answer {n}")) for n in range(300)]
    path = tmp_path / "train.jsonl"
    path.write_text("\r".join(lines))  # about 650 KB: over the bound for Titan Express

    checked = check(path, TITAN_EXPRESS, catalog=still_customizable(TITAN_EXPRESS))

    line, message = _only(checked, "line-too-long")
    assert line == 1
    assert "It holds 299 carriage return(s) and no line feed: if the file has CR line ends" in message


def test_long_lines_are_never_written_to_prepared_files(tmp_path):
    from customization.validation.prepare import write_lines

    out = tmp_path / "out.jsonl"
    with open(out, "wb") as stream:
        write_lines(iter_lines([b'{"a": 1}\n', b"x" * 100, b"\n", b'{"b": 2}\n'], max_line_bytes=50), stream)

    assert out.read_bytes() == b'{"a": 1}\n{"b": 2}\n'


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"bb", b"\r", b"\n", b"\r\n", b"x" * 7, b"\n\n"]), max_size=40).map(b"".join),
    chunk=st.integers(1, 20),
    bound=st.integers(0, 12),
)
def test_long_lines_do_not_depend_on_chunk_size(data, chunk, bound):
    def described(lines):
        return [
            (n, type(raw).__name__, bytes(raw), getattr(raw, "size", len(raw)), raw.count(b"\r")) for n, raw in lines
        ]

    whole = list(iter_lines([data], max_line_bytes=bound))
    pieces = list(iter_lines((data[i : i + chunk] for i in range(0, len(data), chunk)), max_line_bytes=bound))
    unbounded = list(iter_lines([data]))

    assert described(whole) == described(pieces)
    assert [n for n, _ in whole] == [n for n, _ in unbounded]
    for (_, kept), (_, raw) in zip(whole, unbounded, strict=True):
        if type(kept) is LongLine:
            assert (kept.size, kept.carriage_returns) == (len(raw), raw.count(b"\r")) and len(raw) > bound
        else:
            assert kept == raw and len(raw) <= bound


def test_a_long_line_is_read_in_linear_time_and_bounded_memory():
    line = b"x" * (1 << 20)
    chunks = 64  # a 64 MB line in 1 MB chunks

    tracemalloc.start()
    started = time.perf_counter()
    lines = list(iter_lines((line for _ in range(chunks)), max_line_bytes=100_000))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert [(n, raw.size) for n, raw in lines] == [(1, chunks << 20)]
    assert peak < 3 << 20  # the chunk in hand and a kept piece, not the line
    assert elapsed < 5  # joined once: the old re-join copied the line at every chunk


def test_an_unbounded_line_across_many_chunks_is_joined_once():
    data = b"y" * (8 << 20) + b"\nz"

    started = time.perf_counter()
    lines = list(iter_lines(data[i : i + 1024] for i in range(0, len(data), 1024)))

    assert time.perf_counter() - started < 5  # quadratic: 8,192 chunks, each copying megabytes
    assert [(n, len(raw)) for n, raw in lines] == [(1, 8 << 20), (2, 1)]


# --- Plain text for continued pre-training ----------------------------------------------------------


def _text_check(tmp_path, content: bytes):
    path = tmp_path / "train.txt"
    path.write_bytes(content)
    return check(
        path, TITAN_EXPRESS, customization_type="CONTINUED_PRE_TRAINING", catalog=still_customizable(TITAN_EXPRESS)
    )


def test_a_text_line_too_long_to_hold_is_reported_and_says_to_break_it(tmp_path):
    bound = max_line_bytes(4096)  # Titan Express's limit at its default batch size
    content = b"First paragraph.\n\n" + b"word " * (bound // 4) + b"\n\nLast paragraph.\n"

    checked = _text_check(tmp_path, content)

    assert checked.result.token_limit == 4096
    line, message = _only(checked, "line-too-long")
    assert line == 3
    assert message == f"{5 * (bound // 4):,} bytes on one line, more than {bound:,}: break it into paragraphs " + (
        "(a blank line between them)"
    )
    assert checked.result.train.records == 1  # the two short paragraphs, packed together


def test_a_long_paragraph_of_short_lines_is_converted_in_bounded_parts(tmp_path):
    lines = [f"Line {n} of one long paragraph." for n in range(20_000)]
    log = ProblemLog()

    records = list(text_to_input_records(iter_lines([("\n".join(lines) + "\n").encode()]), 2048, log=log, file="t.txt"))

    assert log.problems == []
    texts = [json.loads(raw)["input"] for _, raw in records]
    assert all(estimate_tokens(text) <= 0.8 * 2048 for text in texts)
    assert "".join("".join(texts).split()) == "".join("".join(lines).split())


def test_a_utf16_text_file_is_said_once(tmp_path):
    checked = _text_check(tmp_path, "A paragraph.\n\nAnother one.\n".encode("utf-16"))

    assert _only(checked, "encoding") == (
        1,
        "the file is UTF-16 (little-endian) with a byte-order mark, not UTF-8: " + "save it as UTF-8",
    )
    assert checked.result.train.records == 0


def test_a_nul_byte_in_text_is_reported_at_its_line(tmp_path):
    checked = _text_check(tmp_path, b"A paragraph.\n\nBinary \x00 here.\n")

    line, message = _only(checked, "encoding")
    assert line == 3
    assert message.startswith("the line holds a NUL byte (byte 8): is the file binary")


def test_a_word_of_four_byte_characters_is_cut_under_the_budget():
    emoji = "\U0001f600" * 3000  # 12,000 bytes, no space to cut at
    log = ProblemLog()

    records = list(text_to_input_records(iter_lines([emoji.encode()]), 500, log=log, file="t.txt"))

    texts = [json.loads(raw)["input"] for _, raw in records]
    assert all(estimate_tokens(text) <= 400 for text in texts)
    assert "".join(texts).replace("\n", "") == emoji


# --- job.json ---------------------------------------------------------------------------------------


def _job(text: str) -> tuple[JobSettings, ProblemLog]:
    log = ProblemLog()
    return apply_job_file(JobSettings(NOVA_MICRO), text, log, file="job.json"), log


def _said(log: ProblemLog) -> list[tuple[str, int | None, str, str]]:
    return [(p.file, p.line, p.severity, p.message) for p in log.problems]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"validationSplit": ' + "9" * 5000 + "}",
            "validationSplit is Infinity, or beyond the range of a JSON number",
        ),
        ('{"hyperParameters": {"epochCount": ' + "9" * 400 + "}}", "hyperParameters.epochCount is Infinity, or"),
        ('{"hyperParameters": {"epochCount": NaN}}', "hyperParameters.epochCount is NaN: write a finite number"),
        ('{"baseModel": "\\ud800"}', "baseModel holds a lone surrogate \\ud800, which is not valid Unicode text"),
        ('{"hyperParameters": {"\\udc00": "1"}}', "a key of hyperParameters holds a lone surrogate \\udc00"),
        ("[" * 50_000 + "]" * 50_000, "not valid JSON (nested too deeply)"),
        (
            '{"hyperParameters": {"x": [[[[[[[[[[1]]]]]]]]]]}}',
            "nested more than 8 levels deep: settings take two at most",
        ),
    ],
)
def test_a_job_file_json_cannot_read_right_is_a_problem_of_the_file(text, message):
    settings, log = _job(text)

    ((file, line, severity, said),) = _said(log)
    assert (file, line, severity) == ("job.json", None, "error")
    assert said.startswith(message)
    assert settings.base_model == NOVA_MICRO  # what could not be read is not applied


def test_a_job_file_key_written_twice_is_a_warning_and_the_last_wins():
    settings, log = _job('{"validationSplit": 0.3, "validationSplit": 0.1}')

    assert settings.validation_split == 0.1
    assert _said(log) == [
        (
            "job.json",
            None,
            "warning",
            "the key 'validationSplit' appears twice in one object: the last one is used; keep one",
        )
    ]


def test_a_job_file_with_a_utf8_byte_order_mark_is_read():
    settings, log = _job('\ufeff{"validationSplit": 0.2}')

    assert (settings.validation_split, log.problems) == (0.2, [])


def test_settings_of_the_wrong_type_are_problems_not_crashes(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", numbered("q", 10))
    settings, log = _job('{"customizationType": ["FINE_TUNING"]}')

    result = check_dataset(LocalFile(path), settings, log=log, settings_origin="job.json")

    assert not result.valid
    assert [(p.rule, p.message) for p in log.problems] == [
        (
            "job-settings",
            "customizationType ['FINE_TUNING'] is not one of FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION, "
            "REINFORCEMENT_FINE_TUNING",
        ),
        ("customization-type", "customizationType must be a string"),
    ]


# --- The evaluation step reads validation files too ----------------------------------------------------


def test_evaluation_leaves_out_what_it_cannot_read_and_says_where():
    good = [json.dumps(conversation(f"mail {n}", "spam")).encode() for n in range(3)]
    surrogate = json.dumps(conversation("mail \ud800", "spam")).encode()
    bad = [
        b'{"prompt": ' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schemaVersion": NaN, "messages": [{"role": "user", "content": [{"text": 5}]}, '
        b'{"role": "assistant", "content": [{"text": "x"}]}]}',
    ]

    selection = select_cases([*good, surrogate, *bad], BEDROCK_CONVERSATION, size=10)

    assert sorted(case.prompt for case in selection.cases) == ["mail 0", "mail 1", "mail 2"]
    assert selection.skipped == {
        "a lone surrogate escape (such as \\ud800) in the text, which is not Unicode": 1,
        "not a record of the run's data format (the first at line 5)": 3,
    }


# --- Messages stay small -------------------------------------------------------------------------------------


def test_a_message_quoting_a_huge_value_is_cut():
    log = ProblemLog()
    log.error("f", 1, "r", "x" * (MAX_MESSAGE_CHARS + 500))

    assert log.problems[0].message == "x" * MAX_MESSAGE_CHARS + "... (500 more characters)"


def test_a_huge_key_is_quoted_shortened(tmp_path):
    raw = json.dumps({**conversation(), "k" * 1_000_000: 1})

    line, message = _only(check(_file(tmp_path, raw, at=2)), "unexpected-field")

    assert line == 2
    assert len(message) < 300 and "'kkkk" in message and "...k" in message


# --- The Lambda: an unexpected error still leaves a report that says what happened -------------------------------

BUCKET = "data-bucket"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "dev")
    monkeypatch.setenv(
        "DEFAULT_JOB_SETTINGS", json.dumps({"baseModel": NOVA_MICRO, "customizationType": "FINE_TUNING"})
    )
    monkeypatch.setenv("SERVING", json.dumps({"mode": "none"}))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime.reset()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
    runtime.reset()


def test_an_unexpected_error_in_the_check_writes_the_report_and_names_it(s3, monkeypatch):
    checker = CHECKERS[BEDROCK_CONVERSATION]

    def failing_on_line_4(record, line, context):
        if line == 4:
            raise KeyError("a bug")
        return checker(record, line, context)

    monkeypatch.setitem(CHECKERS, BEDROCK_CONVERSATION, failing_on_line_4)
    key = "datasets/spam/train.jsonl"
    body = ("\n".join(json.dumps(r) for r in numbered("q", 10)) + "\n").encode()
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]

    with pytest.raises(DatasetCheckFailedError) as raised:
        handler.lambda_handler({"bucket": BUCKET, "key": key, "versionId": version}, None, s3=s3)

    reports = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/")["Contents"]]
    assert len(reports) == 1
    uri = f"s3://{BUCKET}/{reports[0]}"
    message = str(raised.value)
    assert message == (
        f"the dataset check failed at s3://{BUCKET}/{key}:4 with an unexpected KeyError: 'a bug'; nothing was "
        f"started. Report: {uri}"
    )
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=reports[0])["Body"].read())
    assert report["valid"] is False
    assert report["fault"] == {"type": "KeyError", "message": "'a bug'", "file": f"s3://{BUCKET}/{key}", "line": 4}
    assert report["dataset"]["versionId"] == version
    assert isinstance(raised.value.__cause__, KeyError)
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix="prepared/").get("Contents")


def test_an_unexpected_error_before_any_line_is_reported_without_one(s3, monkeypatch):
    from customization.validation import upload

    def broken(*args, **kwargs):
        raise RuntimeError("catalog unreadable \ud800")

    monkeypatch.setattr(upload, "check_dataset", broken)
    key = "datasets/spam/train.jsonl"
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")["VersionId"]

    with pytest.raises(
        DatasetCheckFailedError, match=r"failed with an unexpected RuntimeError: catalog unreadable \\ud800"
    ):
        handler.lambda_handler({"bucket": BUCKET, "key": key, "versionId": version}, None, s3=s3)

    (report_key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/")["Contents"]]
    fault = json.loads(s3.get_object(Bucket=BUCKET, Key=report_key)["Body"].read())["fault"]
    assert fault == {"type": "RuntimeError", "message": "catalog unreadable \\ud800", "file": None, "line": None}
