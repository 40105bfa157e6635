"""`python -m tools convert`, as users type it: tutorial records in, records a model takes out,
checked by `python -m tools validate`; refusals with their lines, nothing partial written."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.dataset_helpers import LLAMA_31_8B, NOVA_MICRO, claude, numbered, write_jsonl
from tools.__main__ import main

PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<rule>[a-z-]+): .+$")


def openai(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You classify e-mail."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("builder", [claude, openai], ids=["claude", "openai"])
def test_tutorial_records_convert_into_records_nova_takes(tmp_path, capsys, builder):
    source = write_jsonl(tmp_path / "train.jsonl", numbered("q", 20, builder))
    out = tmp_path / "converted.jsonl"

    code, printed, _ = _run(capsys, "convert", str(source), "--to", "bedrock-conversation", "--out", str(out))
    validated, report, _ = _run(capsys, "validate", str(out), "--base-model", NOVA_MICRO)

    assert code == 0
    assert (
        printed.splitlines()[0]
        == f"converted 20 record(s) to bedrock-conversation: {out} (read as {_format(builder)} 20)"
    )
    assert validated == 0, report
    assert report.splitlines()[-1] == "valid: 0 error(s), 0 warning(s)"
    assert json.loads(out.read_text().splitlines()[0]) == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You classify e-mail."}],
        "messages": [
            {"role": "user", "content": [{"text": "q question number 0"}]},
            {"role": "assistant", "content": [{"text": "answer 0"}]},
        ],
    }


def _format(builder) -> str:
    return "claude-messages" if builder is claude else "openai-chat"


def test_the_command_validate_names_converts_the_file_and_its_output_validates(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "train.jsonl", numbered("q", 20, openai))

    refused, report, _ = _run(capsys, "validate", "train.jsonl", "--base-model", NOVA_MICRO)
    command = re.search(r"convert them with `python -m tools (.+?)`", report)[1]
    converted, _, _ = _run(capsys, *shlex.split(command))
    validated, _, _ = _run(capsys, "validate", "train.bedrock-conversation.jsonl", "--base-model", NOVA_MICRO)

    assert refused == 1
    assert report.splitlines()[0].startswith(
        "train.jsonl: data-format: judging by its first records, the file holds OpenAI chat records "
        "(a system role inside messages), not the Bedrock conversation records Amazon Nova Micro takes"
    )
    assert report.splitlines()[-1] == "invalid: 1 error(s), 0 warning(s)"  # one problem, not one a record
    assert command == "convert train.jsonl --to bedrock-conversation --out train.bedrock-conversation.jsonl"
    assert converted == 0
    assert validated == 0


def test_prompt_completion_for_a_model_that_takes_it_with_a_new_system_prompt(tmp_path, capsys):
    source = write_jsonl(tmp_path / "train.jsonl", numbered("q", 120, claude))
    out = tmp_path / "pc.jsonl"

    code, _, _ = _run(
        capsys, "convert", str(source), "--to", "prompt-completion", "--out", str(out), "--system", "Be brief."
    )
    validated, report, _ = _run(capsys, "validate", str(out), "--base-model", LLAMA_31_8B)

    assert code == 0
    assert json.loads(out.read_text().splitlines()[0]) == {
        "prompt": "Be brief.\n\nq question number 0",
        "completion": "answer 0",
    }
    assert validated == 0, report


def test_the_bundled_example_comes_back_unchanged_from_claude_messages(tmp_path, capsys):
    example = ROOT / "examples" / "email-classifier" / "train.jsonl"
    as_claude, back = tmp_path / "claude.jsonl", tmp_path / "back.jsonl"

    there = main(["convert", str(example), "--to", "claude", "--out", str(as_claude)])
    again = main(["convert", str(as_claude), "--to", "bedrock-conversation", "--out", str(back)])

    assert (there, again) == (0, 0)
    assert json.loads(as_claude.read_text().splitlines()[0])["messages"][1] == {
        "role": "assistant",
        "content": "legitimate",
    }
    assert [json.loads(line) for line in back.read_text().splitlines()] == [
        json.loads(line) for line in example.read_text().splitlines()
    ]
    assert "read as claude-messages 157" in capsys.readouterr().out


def test_refused_records_are_listed_and_nothing_is_written(tmp_path, capsys):
    records = numbered("q", 10, openai)
    records[2]["messages"].append({"role": "user", "content": "and then?"})
    records[5]["messages"][2]["weight"] = 0
    source = write_jsonl(tmp_path / "train.jsonl", records, raw_lines={8: "{oops"})
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")

    code, printed, _ = _run(capsys, "convert", str(source), "--to", "claude", "--out", str(out))

    assert code == 1
    problems = [PROBLEM_LINE.match(line) for line in printed.splitlines()[:3]]
    assert [(m["file"], m["line"], m["rule"]) for m in problems] == [
        (str(source), "3", "role-order"),
        (str(source), "6", "unexpected-field"),
        (str(source), "8", "json"),
    ]
    assert (
        printed.splitlines()[-1] == f"not converted: 3 of 10 record(s) refused; nothing written, {out} left as it was"
    )
    assert out.read_text() == "kept\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl", "train.jsonl"]  # no temporary file left


def test_several_exchanges_are_refused_for_prompt_completion_with_the_reason(tmp_path, capsys):
    record = claude()
    record["messages"] += [{"role": "user", "content": "and this?"}, {"role": "assistant", "content": "spam"}]
    source = write_jsonl(tmp_path / "train.jsonl", [claude(), record])

    code, printed, _ = _run(capsys, "convert", str(source), "--to", "prompt-completion", "--out", str(tmp_path / "o"))

    assert code == 1
    assert printed.splitlines()[0] == (
        f"{source}:2: not-convertible: 4 messages: a prompt/completion record holds one question and its answer; "
        "split the conversation into records of one exchange each, or train a model that takes conversations"
    )
    assert not (tmp_path / "o").exists()


def test_json_output_is_one_report(tmp_path, capsys):
    source = write_jsonl(tmp_path / "train.jsonl", [*numbered("q", 3, claude), {"input": "text"}])

    code, printed, _ = _run(
        capsys, "convert", str(source), "--to", "bedrock-conversation", "--out", str(tmp_path / "o"), "--json"
    )
    report = json.loads(printed)

    assert code == 1
    assert report["converted"] is False and report["out"] is None
    assert report["records"] == {"read": 4, "refused": 1, "written": 0}
    assert report["problems"] == [
        {
            "file": str(source),
            "line": 4,
            "rule": "not-convertible",
            "severity": "error",
            "message": 'continued pre-training text ({"input": "..."}) holds no question and answer to convert: '
            "fine-tuning records need a user question and the assistant's answer",
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--out", "o.jsonl"], "cannot read missing.jsonl: no such file"),
        (["{train}", "--out", "{tmp}/nowhere/o.jsonl"], "the folder {tmp}/nowhere does not exist"),
        (["{train}", "--out", "{tmp}"], "is a folder: give the file to write"),
        (["{train}", "--out", "{train}"], "is the input file: write the converted records to another file"),
        (["{train}", "--out", "{tmp}/o.jsonl", "--system", "  "], "--system: give the system prompt's text"),
    ],
    ids=["missing-input", "missing-folder", "out-is-a-folder", "out-is-the-input", "blank-system"],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, message):
    train = write_jsonl(tmp_path / "train.jsonl", [claude()])
    argv = [arg.format(train=train, tmp=tmp_path) for arg in args]

    code, out, err = _run(capsys, "convert", *argv, "--to", "claude")

    assert code == 2
    assert message.format(tmp=tmp_path) in err
    assert out == ""
    assert train.read_text() == json.dumps(claude()) + "\n"


def test_the_command_imports_neither_the_cdk_nor_boto3(tmp_path):
    source = write_jsonl(tmp_path / "train.jsonl", [claude()])

    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "tools",
            "convert",
            str(source),
            "--to",
            "claude",
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert result.returncode == 0, result.stderr
    assert "customization.validation.convert" in imported and (tmp_path / "o.jsonl").is_file()
    assert not {name for name in imported if name.split(".")[0] in ("aws_cdk", "jsii", "boto3", "botocore")}


def test_help_lists_the_command_and_an_unknown_format_is_a_usage_error():
    listed = subprocess.run([sys.executable, "-m", "tools", "--help"], cwd=ROOT, capture_output=True, text=True)
    wrong = subprocess.run(
        [sys.executable, "-m", "tools", "convert", "x.jsonl", "--to", "nova", "--out", "o.jsonl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert re.search(r"^    convert +convert Claude, OpenAI chat or prompt/completion records", listed.stdout, re.M)
    assert wrong.returncode == 2
    assert "argument --to: invalid choice: 'nova'" in wrong.stderr
