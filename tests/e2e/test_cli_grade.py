"""`python -m tools grade`, as users type it: the example's self-check, answers by line and by
id, records the grader cannot score (exit 1, FILE:LINE), and usage errors (exit 2, one line)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tools.__main__ import main

EXAMPLE = ROOT / "examples" / "rft-support-triage"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_jsonl(path, rows) -> str:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return str(path)


def record(reference=None, **fields) -> dict:
    prompt = {
        "messages": [{"role": "system", "content": "Triage."}, {"role": "user", "content": "Card charged twice."}]
    }
    return {**prompt, **({} if reference is None else {"reference_answer": reference}), **fields}


def test_the_example_gets_full_marks_from_its_own_references(capsys):
    code, out, err = _run(capsys, "grade", "--grader", "exact-match", str(EXAMPLE / "train.jsonl"))

    rows = [line.split() for line in out.splitlines()[1:121]]
    assert code == 0, err
    assert out.splitlines()[0].split() == ["LINE", "SCORE", "METRICS"]
    assert rows[0] == ["1", "1.00", "exact=1"] and len(rows) == 120
    assert all(row[1] == "1.00" for row in rows)
    assert "120 answer(s), 120 scored" in out
    assert "mean score: 1.000" in out
    assert out.rstrip().endswith("every answer scored")


def test_answers_by_line_and_by_id_are_graded_as_bedrock_would_send_them(tmp_path, capsys):
    code, out, _ = _run(
        capsys,
        "grade",
        "--grader",
        "exact-match",
        str(EXAMPLE / "train.jsonl"),
        "--answers",
        str(EXAMPLE / "sample-answers.jsonl"),
        "--id-field",
        "ticket_id",
        "--json",
    )

    report = json.loads(out)
    assert code == 1  # sample-answers.jsonl's last line answers a record that does not exist
    assert [(r["line"], r["answersLine"], r["score"]) for r in report["results"]] == [
        (1, 1, 1.0),
        (2, 2, 0.5),
        (3, 3, 0.0),
        (4, 4, 1.0),
        (4, 5, 1.0),
        (5, 6, 0.0),
        (None, 7, None),
    ]
    assert report["results"][2]["metrics"] == {"exact": 0.0, "contains_label": 1.0, "hedged": 1.0}
    assert report["withoutAnswer"] == 115
    assert report["distribution"] == {
        "0": 2,
        "(0, 0.25)": 0,
        "[0.25, 0.5)": 0,
        "[0.5, 0.75)": 1,
        "[0.75, 1)": 0,
        "1": 3,
    }
    assert report["notScored"] == [
        {"where": f"{EXAMPLE / 'sample-answers.jsonl'}:7", "reason": "no record with line 999"}
    ]


def test_records_the_grader_cannot_score_are_listed_with_file_line_and_reason(tmp_path, capsys):
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [record("billing"), record(), "", record({"category": "billing"}), record("?!")],
    )

    code, out, _ = _run(capsys, "grade", "--grader", "exact-match", train)

    lines = out.splitlines()
    assert code == 1
    assert lines[1].split() == ["1", "1.00", "exact=1"]
    assert (
        lines[2]
        == "2       -       not scored: no-reference: the record has no reference_answer (metadata.reference_answer)"
    )
    assert "could not score 3:" in lines
    assert lines[-3:] == [
        f"  {train}:2: no-reference: the record has no reference_answer (metadata.reference_answer)",
        f"  {train}:4: bad-reference: reference_answer is an object without any of the keys label, answer",
        f"  {train}:5: bad-reference: reference_answer is empty once punctuation and spaces are removed",
    ]


def test_the_json_schema_and_regex_graders_self_check_their_records(tmp_path, capsys):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [record({"n": 1}, schema=schema, pattern=r"\{.*\}"), record({"n": "one"}, schema=schema, pattern=r"(\{.*)+\}")],
    )

    schema_code, schema_out, _ = _run(capsys, "grade", "--grader", "json-schema", train, "--json")
    regex_code, regex_out, _ = _run(capsys, "grade", "--grader", "regex", train, "--json")

    assert schema_code == 0
    assert [r["score"] for r in json.loads(schema_out)["results"]] == [1.0, 2 / 3]  # type, required: n; n type
    assert json.loads(schema_out)["results"][1]["metrics"]["failed $.n type"] == 0.0
    assert regex_code == 1
    regex = json.loads(regex_out)
    assert regex["results"][0]["score"] == 1.0
    assert regex["notScored"][0]["where"] == f"{train}:2"
    assert regex["notScored"][0]["reason"].startswith("bad-pattern: pattern repeats a group that holds a quantifier")


def test_a_grader_of_your_own_is_run_and_held_to_the_contract(tmp_path, capsys, monkeypatch):
    (tmp_path / "shouty.py").write_text(
        "from graders import Score\ndef grade(item):\n    return Score(1.0 if item.answer.isupper() else 0.0)\n"
    )
    (tmp_path / "broken.py").write_text(
        "def grade(item):\n    return None\n"
        "def handler(event, context):\n    return [{'id': i['id'], 'aggregate_reward_score': 2} for i in event]\n"
    )
    (tmp_path / "crashing.py").write_text("def grade(item):\n    raise KeyError('reference')\n")
    train = write_jsonl(tmp_path / "train.jsonl", [record("BILLING"), record("billing")])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])

    own, own_out, _ = _run(capsys, "grade", "--grader", "shouty", "--module", "shouty=shouty", train)
    bad, bad_out, _ = _run(capsys, "grade", "--grader", "broken", "--module", "broken=broken", train)
    crash, crash_out, _ = _run(capsys, "grade", "--grader", "crashing", "--module", "crashing=crashing", train)

    assert own == 0 and [line.split()[1] for line in own_out.splitlines()[1:3]] == ["1.00", "0.00"]
    assert bad == 1 and f"{train}:1: aggregate_reward_score 2 is not a number from 0 to 1" in bad_out
    assert crash == 1 and f"{train}:2: the grader raised KeyError: 'reference'" in crash_out


@pytest.mark.parametrize(
    ("rows", "argv", "message"),
    [
        (None, ["--grader", "fuzzy"], "error: unknown grader 'fuzzy'; known: exact-match, json-schema, regex"),
        (None, ["--grader", "exact-match", "--answers", "missing.jsonl"], "error: no such file: missing.jsonl"),
        (
            [record("a"), '{"messages": ['],
            ["--grader", "regex"],
            "error: {train}:2: not JSON (Expecting value at column 15)",
        ),
        ([record("a"), "[1, 2]"], ["--grader", "regex"], "error: {train}:2: a line must be a JSON object, not list"),
        (
            None,
            ["--grader", "x", "--module", "x"],
            "error: --module takes NAME=MODULE (e.g. ticket-router=my_graders.ticket_router), not 'x'",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys, rows, argv, message):
    train = write_jsonl(tmp_path / "train.jsonl", rows or [record("a")])

    code, _, err = _run(capsys, "grade", train, *argv)

    assert code == 2
    assert err == message.format(train=train) + "\n"


def test_a_missing_file_and_a_bad_answers_line_are_usage_errors(tmp_path, capsys):
    answers = write_jsonl(tmp_path / "answers.jsonl", [{"line": 1, "answer": "a"}, {"answer": "b"}])
    train = write_jsonl(tmp_path / "train.jsonl", [record("a")])

    missing, _, missing_err = _run(capsys, "grade", "--grader", "regex", str(tmp_path / "nope.jsonl"))
    bad, _, bad_err = _run(capsys, "grade", "--grader", "regex", train, "--answers", answers)

    assert (missing, missing_err) == (2, f"error: no such file: {tmp_path / 'nope.jsonl'}\n")
    assert bad == 2
    assert bad_err == f'error: {answers}:2: an answer needs "line" (the record\'s line number) or "id" (its id field)\n'


def test_python_m_tools_grade_runs_as_typed():
    completed = subprocess.run(
        [sys.executable, "-m", "tools", "grade", "--grader", "exact-match", "examples/rft-support-triage/train.jsonl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.rstrip().endswith("every answer scored")
    assert "mean score: 1.000" in completed.stdout


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def grade(item)\n    return None\n", "module 'mine_broken' failed to import (SyntaxError: "),
        ("raise RuntimeError('no API key')\n", "module 'mine_broken' failed to import (RuntimeError: no API key)"),
    ],
)
def test_a_grader_module_that_fails_to_import_is_one_error_line_and_exit_2(
    tmp_path, capsys, monkeypatch, source, message
):
    (tmp_path / "mine_broken.py").write_text(source)
    train = write_jsonl(tmp_path / "train.jsonl", [record("a")])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mine_broken", raising=False)

    code, out, err = _run(capsys, "grade", "--grader", "mine", "--module", "mine=mine_broken", train)

    assert code == 2 and out == ""
    assert err.startswith(f"error: grader 'mine': {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_answer_from_reference_that_raises_is_that_records_could_not_score_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "mine_fussy.py").write_text(
        "from graders import Score\n"
        "def grade(item):\n    return Score(1.0)\n"
        "def answer_from_reference(reference):\n"
        "    if not isinstance(reference, dict):\n        raise ValueError(f'no label in {reference!r}')\n"
        "    return reference['label']\n"
    )
    train = write_jsonl(tmp_path / "train.jsonl", [record({"label": "a"}), record("b"), record({"label": "c"})])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mine_fussy", raising=False)

    code, out, _ = _run(capsys, "grade", "--grader", "mine", "--module", "mine=mine_fussy", train, "--json")

    report = json.loads(out)
    assert code == 1
    assert [r["score"] for r in report["results"]] == [1.0, None, 1.0]
    assert report["notScored"] == [
        {"where": f"{train}:2", "reason": "answer_from_reference raised ValueError: no label in 'b'"}
    ]


def test_schema_and_pattern_problems_found_before_a_job_are_listed_with_their_reason(tmp_path, capsys):
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [
            record({"priority": "low"}, schema={"properties": {"priority": {"enum": ["low"]}}}, pattern=".*.*low"),
            record({"priority": "low"}, schema={"type": "object"}, pattern=r"[^=]*=.*"),
        ],
    )

    schema_code, schema_out, _ = _run(capsys, "grade", "--grader", "json-schema", train)
    regex_code, regex_out, _ = _run(capsys, "grade", "--grader", "regex", train)

    assert schema_code == 1
    assert f"  {train}:1: schema-unconstrained: schema uses properties, which apply to some types only" in schema_out
    assert regex_code == 1
    assert f"  {train}:1: bad-pattern: pattern may backtrack: `.*` and `.*` can match the same text" in regex_out
    assert f"{train}:2" not in regex_out.split("could not score")[1]
