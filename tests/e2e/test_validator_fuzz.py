"""A regression fuzz of `python -m tools validate`: malformed files, through the real entry point.

Each case is a valid file (Nova conversations, Llama 3.1 prompt/completion, or plain text
for Titan continued pre-training) with one to three mutations, generated from a fixed seed:
the same cases on every run, each named by its mutations. Whatever the file holds, the
command must print one JSON report and exit 0, 1 or 2, with every problem at its file and,
for a line, a 1-based line of that file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from customization.validation.scanner import max_line_bytes
from tests.dataset_helpers import LLAMA_31_8B, NOVA_MICRO, TITAN_EXPRESS
from tools.__main__ import main

SEED = 20261113
CASES_PER_KIND = {"conversation": 300, "prompt-completion": 30, "text": 30}
# Problems about one line of a file: these must say which.
LINE_RULES = {
    "blank-line",
    "carriage-return",
    "byte-order-mark",
    "duplicate-key",
    "json",
    "line-too-long",
    "record-type",
    "token-limit",
    "role-order",
    "field-type",
    "required-field",
    "unexpected-field",
    "empty-text",
    "schema-version",
}
WORDS = ["invoice", "refund", "meeting", "café", "naïve", "東京", "😀", "winner", "urgent", "verify"]


@dataclass(frozen=True)
class Kind:
    model: str
    suffix: str
    extra_args: tuple[str, ...]
    record: Callable[[random.Random], dict] | None  # None: plain text
    token_limit: int


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30)))


def _conversation(rng: random.Random) -> dict:
    turns = []
    for _ in range(rng.randint(1, 3)):
        turns += [
            {"role": "user", "content": [{"text": _text(rng)}]},
            {"role": "assistant", "content": [{"text": _text(rng)}]},
        ]
    return {"schemaVersion": "bedrock-conversation-2024", "system": [{"text": _text(rng)}], "messages": turns}


def _prompt_completion(rng: random.Random) -> dict:
    return {"prompt": _text(rng), "completion": _text(rng)}


KINDS = {
    "conversation": Kind(NOVA_MICRO, ".jsonl", (), _conversation, 32_000),
    "prompt-completion": Kind(LLAMA_31_8B, ".jsonl", (), _prompt_completion, 16_000),
    "text": Kind(TITAN_EXPRESS, ".txt", ("--customization-type", "CONTINUED_PRE_TRAINING"), None, 4_096),
}


# --- Mutations of the lines (before they are joined) -----------------------------------------------------


def _any_line(rng: random.Random, lines: list[bytes]) -> int:
    return rng.randrange(len(lines))


def lone_surrogate(rng, lines, kind):
    index = _any_line(rng, lines)
    escape = f"\\u{rng.randint(0xD800, 0xDFFF):04x}".encode()
    marker = b'"text": "' if b'"text": "' in lines[index] else b'": "'
    lines[index] = lines[index].replace(marker, marker + escape, 1) if marker in lines[index] else escape + lines[index]


def huge_number(rng, lines, kind):
    number = rng.choice(
        [b"9" * 5000, b"-" + b"1" * 4400, b"1e400", b"-1e999", b"NaN", b"Infinity", b"-Infinity", b"1e-400", b"7" * 350]
    )
    index = _any_line(rng, lines)
    line = lines[index]
    if line.endswith(b"}"):
        lines[index] = line[:-1] + b', "n": ' + number + b"}"
    else:
        lines[index] = line + b" " + number


def deep_nesting(rng, lines, kind):
    depth = rng.choice([50, 900, 5000, 100_000])
    index = _any_line(rng, lines)
    nested = b"[" * depth + b"1" + b"]" * depth
    if rng.random() < 0.5:
        lines[index] = b'{"messages": ' + nested + b"}"
    else:
        lines[index] = nested


def wrong_type(rng, lines, kind):
    index = _any_line(rng, lines)
    try:
        record = json.loads(lines[index])
    except ValueError:
        return
    replacement = rng.choice([0, 1.5, -7, None, True, [], ["x"], {}, {"text": 1}, "", "  ", "user", [[["deep"]]]])
    parents = [record]
    target = record
    for _ in range(rng.randint(1, 5)):
        children = list(target.items()) if isinstance(target, dict) else list(enumerate(target))
        containers = [(key, value) for key, value in children if isinstance(value, dict | list) and value]
        if not containers or rng.random() < 0.3:
            break
        _, target = rng.choice(containers)
        parents.append(target)
    if isinstance(target, dict) and target:
        target[rng.choice(list(target))] = replacement
    elif isinstance(target, list) and target:
        target[rng.randrange(len(target))] = replacement
    lines[index] = json.dumps(parents[0], ensure_ascii=rng.random() < 0.5).encode()


def duplicate_key(rng, lines, kind):
    index = _any_line(rng, lines)
    line = lines[index]
    for key in (b'"role": ', b'"text": ', b'"prompt": ', b'"schemaVersion": ', b'"messages": '):
        if key in line:
            lines[index] = line.replace(key, key + b'"first", ' + key, 1)
            return


def long_line(rng, lines, kind):
    bound = max_line_bytes(kind.token_limit)
    size = bound + rng.randint(1, 50_000)
    filler = rng.choice([b"x", b"word ", b"\xc3\xa9", b"\\u00e9"])
    body = (filler * (size // len(filler) + 1))[:size]
    if kind.record is None:
        lines.insert(_any_line(rng, lines), body)
    else:
        lines.insert(_any_line(rng, lines), b'{"prompt": "' + body + b'", "completion": "x"}')


def empty_lines(rng, lines, kind):
    for _ in range(rng.randint(1, 4)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice([b"", b" ", b"\t", b"  \t "]))


LINE_MUTATIONS = [lone_surrogate, huge_number, deep_nesting, wrong_type, duplicate_key, long_line, empty_lines]


# --- Mutations of the file's bytes (after) -----------------------------------------------------------------


def byte_flips(rng, data: bytes) -> bytes:
    if not data:
        return data
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer)


def truncation(rng, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def inserted_nuls(rng, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(data) + 1)
        data = data[:at] + b"\x00" * rng.randint(1, 3) + data[at:]
    return data


def wide_reencoding(rng, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    encoding = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
    return text.encode(encoding)


def byte_order_marks(rng, data: bytes) -> bytes:
    bom = b"\xef\xbb\xbf"
    if rng.random() < 0.5:
        return bom + data
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    at = rng.choice(starts)
    return data[:at] + bom + data[at:]


def line_end_mixes(rng, data: bytes) -> bytes:
    style = rng.choice(["cr", "crlf", "mixed"])
    if style == "cr":
        return data.replace(b"\n", b"\r")
    if style == "crlf":
        return data.replace(b"\n", b"\r\n")
    return b"".join(part + rng.choice([b"\n", b"\r\n", b"\r", b"\n\r"]) for part in data.split(b"\n"))


def binary(rng, data: bytes) -> bytes:
    return rng.randbytes(rng.randint(1, 20_000))


def emptiness(rng, data: bytes) -> bytes:
    return rng.choice([b"", b"\n", b"\n" * rng.randint(2, 50), b"\r\n" * 3, b" \n\t\n"])


FILE_MUTATIONS = [byte_flips, truncation, inserted_nuls, wide_reencoding, byte_order_marks, line_end_mixes]
WHOLE_FILE_MUTATIONS = [binary, emptiness]  # replace the file: rarer


# --- Cases --------------------------------------------------------------------------------------------------


def _plan(kind_name: str, number: int) -> tuple[str, int, list[str]]:
    rng = random.Random(f"{SEED}-{kind_name}-{number}")
    if rng.random() < 0.05:
        names = [rng.choice(WHOLE_FILE_MUTATIONS).__name__]
    else:
        mutations = rng.sample(LINE_MUTATIONS + FILE_MUTATIONS, rng.randint(1, 3))
        # Line mutations first, file mutations after: the order they are applied in.
        names = [m.__name__ for m in mutations if m in LINE_MUTATIONS]
        names += [m.__name__ for m in mutations if m in FILE_MUTATIONS]
    return kind_name, number, names


CASES = [_plan(kind, number) for kind, count in CASES_PER_KIND.items() for number in range(count)]
_BY_NAME = {m.__name__: m for m in LINE_MUTATIONS + FILE_MUTATIONS + WHOLE_FILE_MUTATIONS}


def _generate(kind_name: str, number: int, names: list[str]) -> bytes:
    rng = random.Random(f"{SEED}-{kind_name}-{number}-data")
    kind = KINDS[kind_name]
    if kind.record is None:
        lines = []
        for _ in range(rng.randint(1, 6)):
            lines += [_text(rng).encode() for _ in range(rng.randint(1, 4))] + [b""]
    else:
        lines = [
            json.dumps(kind.record(rng), ensure_ascii=rng.random() < 0.3).encode() for _ in range(rng.randint(8, 14))
        ]
    data = b""
    for name in names:
        mutation = _BY_NAME[name]
        if mutation in LINE_MUTATIONS:
            mutation(rng, lines, kind)
            data = b"\n".join(lines) + rng.choice([b"\n", b""])
        else:
            data = mutation(rng, data or b"\n".join(lines) + b"\n")
    return data


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


@pytest.mark.parametrize(
    ("kind_name", "number", "names"), CASES, ids=[f"{kind}-{n}-{'+'.join(names)}" for kind, n, names in CASES]
)
def test_a_malformed_file_gets_a_report_never_a_traceback(tmp_path, capsys, kind_name, number, names):
    kind = KINDS[kind_name]
    data = _generate(kind_name, number, names)
    path = tmp_path / f"train{kind.suffix}"
    path.write_bytes(data)

    code = main(["validate", str(path), "--base-model", kind.model, *kind.extra_args, "--json"])
    out = capsys.readouterr().out

    assert code in (0, 1, 2)
    out.encode("utf-8")  # a terminal could print it: no lone surrogate got through
    report = json.loads(out)
    assert isinstance(report, dict) and {"valid", "problems"} <= report.keys()
    assert report["valid"] is (code == 0) is (report["errors"] == 0)
    lines = _line_count(data)
    for problem in report["problems"]:
        assert isinstance(problem["file"], str) and problem["file"]
        if problem["file"] == str(path) and problem["rule"] in LINE_RULES:
            assert problem["line"] is not None, problem
        if problem["line"] is not None:
            assert problem["file"] == str(path), problem
            assert 1 <= problem["line"] <= max(lines, 1), (problem, lines)


def test_the_fuzz_covers_every_mutation_and_enough_files():
    used = {name for _, _, names in CASES for name in names}

    assert len(CASES) >= 300
    assert used == set(_BY_NAME)


def test_the_cases_are_the_same_on_every_run():
    kind, number, names = CASES[17]

    assert _generate(kind, number, names) == _generate(kind, number, names)
    assert [_plan(kind, number) for kind, count in CASES_PER_KIND.items() for number in range(count)] == CASES
