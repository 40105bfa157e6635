"""`python -m tools validate`: the contract in ARCHITECTURE.md (output format, exit codes)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.dataset_helpers import NOVA_MICRO, TITAN_EXPRESS, conversation, numbered, write_jsonl
from tools.__main__ import main

EXAMPLE = ROOT / "examples" / "email-classifier"
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<rule>[a-z-]+): .+$")


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_bundled_example_is_valid(capsys):
    code, out, _ = _run(capsys, str(EXAMPLE / "train.jsonl"), "--base-model", NOVA_MICRO)

    assert code == 0
    assert out.splitlines()[-1] == "valid: 0 error(s), 0 warning(s)"
    assert re.search(
        r"^records: train 157; tokens \(estimate\): [\d,]+, largest record \d+ of 32,000 allowed$", out, re.M
    )
    assert re.search(
        r"^estimated cost: training ~\$\d+\.\d\d \([\d,]+ tokens x 2 epochs\); storage ~\$1\.95/month$", out, re.M
    )


def test_problems_print_one_a_line_as_file_line_rule_message(tmp_path, capsys):
    records = numbered("q", 10)
    records[3]["messages"].reverse()
    path = write_jsonl(tmp_path / "train.jsonl", records, raw_lines={7: "{oops"})

    code, out, _ = _run(capsys, str(path), "--base-model", NOVA_MICRO)

    assert code == 1
    problems = [PROBLEM_LINE.match(line) for line in out.splitlines()[:2]]
    assert [(m["file"], m["line"], m["rule"]) for m in problems] == [
        (str(path), "4", "role-order"),
        (str(path), "7", "json"),
    ]
    assert out.splitlines()[-1] == "invalid: 2 error(s), 0 warning(s)"


def test_json_output_is_one_report(tmp_path, capsys):
    path = write_jsonl(tmp_path / "train.jsonl", [*numbered("q", 10), {"bad": 1}])

    code, out, _ = _run(capsys, str(path), "--base-model", NOVA_MICRO, "--json")
    report = json.loads(out)

    assert code == 1
    assert report["valid"] is False
    assert report["records"] == {"train": 10, "validation": 0}
    assert report["problems"][0] == {
        "file": str(path),
        "line": 11,
        "rule": "unexpected-field",
        "severity": "error",
        "message": "record has unexpected field(s) 'bad'; allowed: messages, schemaVersion, system",
    }
    assert report["cost"]["epochs"] == 2


def test_hyperparameter_flags_and_job_file(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"baseModel": NOVA_MICRO, "hyperParameters": {"epochs": "3"}}))

    code, out, _ = _run(capsys, str(EXAMPLE / "train.jsonl"), "--job-file", str(job), "-p", "learningRate=1")

    assert code == 1
    assert f"{job}: hyperparameter: hyperParameters.epochs: Amazon Nova Micro calls it 'epochCount'" in out
    assert f"{job}: hyperparameter: hyperParameters.learningRate: '1' is out of range" in out


def test_validation_file_and_prepared_split(tmp_path, capsys):
    code, out, _ = _run(
        capsys, str(EXAMPLE / "train.jsonl"), "--job-file", str(EXAMPLE / "job.json"), "--prepare-dir", str(tmp_path)
    )

    assert code == 0
    assert "133, 24 held out for validation" in out.replace("train 133", "133")
    assert len((tmp_path / "validation.jsonl").read_text().splitlines()) == 24
    assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 133


def test_continued_pre_training_text_file_is_refused_with_why(capsys):
    example = ROOT / "examples" / "support-handbook"

    code, out, _ = _run(
        capsys,
        str(example / "train.txt"),
        "--base-model",
        TITAN_EXPRESS,
        "--customization-type",
        "CONTINUED_PRE_TRAINING",
        "--serving",
        "provisioned",
    )

    assert code == 1
    assert "Amazon Titan Text G1 - Express (amazon.titan-text-express-v1:0:8k) reached its end of life" in out
    assert "no current Bedrock model offers CONTINUED_PRE_TRAINING" in out
    # The text is still converted and counted: the report says what else would have been found.
    assert "records: train 7" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "--base-model", NOVA_MICRO], "cannot read missing.jsonl: no such file"),
        ([str(EXAMPLE / "train.jsonl")], "--base-model is required"),
        ([str(EXAMPLE / "train.jsonl"), "--base-model", NOVA_MICRO, "-p", "epochCount"], "expected NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2(capsys, args, message):
    code, _, err = _run(capsys, *args)

    assert code == 2
    assert message in err


def test_an_unknown_option_exits_2_through_the_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "tools", "validate", "x.jsonl", "--nope"], cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode == 2
    assert "unrecognized arguments: --nope" in result.stderr


def test_a_misspelt_model_id_suggests_the_right_one(tmp_path, capsys):
    path = write_jsonl(tmp_path / "train.jsonl", [conversation()])

    code, out, _ = _run(capsys, str(path), "--base-model", "amazon.nova-micro-v1:0")

    assert code == 1
    assert "did you mean 'amazon.nova-micro-v1:0:128k'?" in out


def test_a_job_file_that_skips_serving_drops_the_serving_cost(capsys):
    example = ROOT / "examples" / "support-handbook"

    code, out, _ = _run(
        capsys, str(example / "train.txt"), "--job-file", str(example / "job.json"), "--serving", "provisioned"
    )

    assert code == 1  # Titan is past its end of life (see above); the estimate is still given
    assert "estimated cost: training" in out
    assert "provisioned throughput" not in out


def test_the_environments_default_split_is_left_out_for_a_model_that_takes_no_validation_data(tmp_path, capsys):
    write_jsonl(tmp_path / "train.jsonl", [conversation(f"question {n}", f"answer {n}") for n in range(220)])
    (tmp_path / "job.json").write_text(json.dumps({"baseModel": "amazon.nova-2-lite-v1:0:256k"}))

    code, out, _ = _run(capsys, str(tmp_path / "train.jsonl"), "--env", "dev")

    assert code == 0, out
    assert (
        "validation-data: warning: validationSplit: the environment's default (0.1) is not applied: "
        "Amazon Nova 2 Lite takes no validation data, so every record trains"
    ) in out
    assert re.search(r"^records: train 220;", out, re.M)


def test_a_split_the_job_file_asks_of_such_a_model_is_still_an_error(tmp_path, capsys):
    write_jsonl(tmp_path / "train.jsonl", [conversation(f"question {n}", f"answer {n}") for n in range(220)])
    settings = {"baseModel": "amazon.nova-2-lite-v1:0:256k", "validationSplit": 0.2}
    (tmp_path / "job.json").write_text(json.dumps(settings))

    code, out, _ = _run(capsys, str(tmp_path / "train.jsonl"), "--env", "dev")

    assert code == 1
    assert "validation-data: validationSplit: Amazon Nova 2 Lite takes no validation data" in out


def test_a_job_file_nested_too_deep_to_parse_is_a_problem_not_a_traceback(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_text("[" * 30_000 + "]" * 30_000)  # under the size cap, past any parser's depth

    code, out, err = _run(capsys, str(EXAMPLE / "train.jsonl"), "--job-file", str(job))

    assert code == 1 and "Traceback" not in err
    assert f"{job}: job-settings: not valid JSON (nested too deeply)" in out


def test_a_job_file_too_large_to_be_settings_is_refused_without_being_read_whole(tmp_path, capsys):
    job = tmp_path / "job.json"
    job.write_bytes(b"{" + b" " * 200_000 + b"}")

    code, out, _ = _run(capsys, str(EXAMPLE / "train.jsonl"), "--job-file", str(job), "--base-model", NOVA_MICRO)

    assert code == 1
    assert f"{job}: job-settings: larger than 65,536 bytes" in out
