"""`python -m tools compare RUN RUN... --env NAME`, through the real parser (`main(argv)`) and as
a subprocess, against the emulated account over HTTP (tests/aws_world.py): a run that succeeded
(promoted, served) and one the cost ceiling refused."""

from __future__ import annotations

import json

import pytest

from customization.naming import run_names
from customization.sweep import select_winner
from tests.aws_world import BASE_MODEL, python_m_tools, run_tags, trained_model
from tests.aws_world import (
    run_tools as run,
)

ENV = ["--env", "dev"]


def _table(out: str) -> dict[str, list[str]]:
    """Row label -> the cells of each run, from the Markdown table."""
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| |"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def test_two_runs_side_by_side(deployed, capsys):
    succeeded, failed = deployed.succeeded.execution_name, deployed.failed.execution_name

    code, out, err = run(capsys, "compare", *ENV, succeeded, failed)

    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"| | `{succeeded}` | `{failed}` |"
    rows = _table(out)
    assert rows["state"] == ["SUCCEEDED", "FAILED"]
    assert rows["dataset"][0] == deployed.succeeded.dataset
    assert rows["base model"] == ["amazon.nova-micro-v1:0:128k", "-"]
    assert rows["hyperparameters"] == ["epochCount=2, learningRate=0.00001", "-"]
    assert rows["training loss (final / best)"] == ["0.1132 / -", "-"]
    assert rows["curves"][0].startswith("healthy: both losses fell")
    assert rows["evaluation"] == ["exactMatch 0.917 (custom) vs 0.375 (base)", "-"]
    assert rows["promoted"] == ["yes", "-"]
    assert rows["training cost (estimate)"] == ["~$0.05", "-"]
    assert rows["serving"] == [deployed.deployment_arn, "-"]
    assert rows["failed with"] == ["-", "CostCeilingExceeded"]
    assert "parent" not in rows  # neither run customized another run's model


def test_json_has_one_object_per_run_in_the_order_given(deployed, capsys):
    succeeded, failed = deployed.succeeded.execution_name, deployed.failed.execution_name

    code, out, _ = run(capsys, "compare", *ENV, failed, succeeded, "--json")

    columns = json.loads(out)
    assert code == 0
    assert [column["run"] for column in columns] == [failed, succeeded]
    assert columns[1]["hyperParameters"] == {"epochCount": "2", "learningRate": "0.00001"}
    assert (columns[1]["metric"], columns[1]["customScore"], columns[1]["baseScore"]) == ("exactMatch", 0.917, 0.375)
    assert columns[0]["error"] == "CostCeilingExceeded" and columns[0]["trainingCostUsd"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["only-one"], "error: compare needs two different runs, got 1"),
        (["same", "same"], "error: compare needs two different runs, got 1"),
        ([f"run-{i}" for i in range(9)], "error: at most 8 runs side by side, got 9"),
        (["no-such-run", "another"], "error: no run 'no-such-run' in dev: see python -m tools status --env dev"),
    ],
    ids=["one", "the-same-twice", "too-many", "unknown"],
)
def test_usage_errors_are_one_line(deployed, capsys, argv, message):
    code, out, err = run(capsys, "compare", *ENV, *argv)

    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(message), err


def test_an_aws_error_is_one_line(deployed, capsys):
    deployed.aws.faults["GetModelCustomizationJob"] = (500, "InternalServerException", "try again")
    try:
        code, out, err = run(capsys, "compare", *ENV, deployed.succeeded.execution_name, deployed.failed.execution_name)
    finally:
        deployed.aws.faults.clear()

    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "InternalServerException" in err and "try again in a few minutes" in err


def test_python_m_tools_compare_in_a_subprocess(deployed):
    result = python_m_tools(
        deployed.aws, "compare", *ENV, deployed.succeeded.execution_name, deployed.failed.execution_name
    )

    assert result.returncode == 0, result.stderr
    assert "| state | SUCCEEDED | FAILED |" in result.stdout


def test_a_re_fine_tuned_run_shows_its_lineage_in_status_and_compare(deployed, capsys):
    """The run that customized the succeeded run's model further: `status RUN` names the parent,
    its model, hyperparameters and the dataset version it trained on; `compare` puts the parent
    and that version in its parent row."""
    parent = deployed.succeeded
    lineage = {
        "parentRun": parent.execution_name,
        "parentModel": deployed.model_arn,
        "parentDataset": parent.dataset,
        "parentDatasetVersion": "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
        "parentHyperParameters": {"epochCount": "2"},
    }
    upload = {"bucket": "data-bucket", "key": f"datasets/{parent.dataset}-refined/train.jsonl", "versionId": "r1"}
    child = deployed.start_run(
        upload,
        {"validation": {"valid": True, "settings": {"baseModel": "amazon.nova-micro-v1:0:128k"}, "lineage": lineage}},
    )

    code, out, err = run(capsys, "status", *ENV, child.execution_name)
    compared_code, compared, _ = run(capsys, "compare", *ENV, parent.execution_name, child.execution_name)

    assert (code, err) == (0, "")
    assert (
        f"parent: {parent.execution_name} (model {deployed.model_arn}; it trained with epochCount=2 "
        f"on {parent.dataset} version {lineage['parentDatasetVersion']})"
    ) in out.splitlines()
    assert compared_code == 0
    assert _table(compared)["parent"] == [
        "-",
        f"{parent.execution_name} (dataset version {lineage['parentDatasetVersion']})",
    ]


def test_status_of_a_sweep_run_shows_every_variant(deployed, capsys):
    """`status --env dev RUN` of a run that swept three variants: its state is what SelectWinner
    (the real function, against the emulated Bedrock) made of the Map's outcomes, the losers'
    models deleted; the command shows the table, the winner and what became of each model."""
    upload = {"bucket": "data-bucket", "key": "datasets/email-classifier/train.jsonl", "versionId": "sweep-1"}
    names = run_names("dev", upload["bucket"], upload["key"], upload["versionId"])
    bedrock = deployed.aws.emulator.client()
    outcomes = []
    for index, (rate, loss) in enumerate([("0.00002", 0.1712), ("0.00001", 0.1388), ("0.00003", 0.1521)], start=1):
        variant = names.for_variant(index)
        model = trained_model(deployed.aws.emulator, variant, BASE_MODEL, run_tags(names))
        outcomes.append(
            {
                "variant": {"index": index, "sweep": {"learningRate": rate}, "jobName": variant.job_name},
                "job": {"jobName": variant.job_name},
                "result": {"customModelArn": model, "validationLoss": loss, "status": "Completed"},
                "curves": {"verdict": "healthy", "bestValidationLoss": loss},
            }
        )
    state = select_winner(bedrock, {"upload": upload, "validation": {"valid": True, "settings": {}}, "sweep": outcomes})
    deployed.start_run(upload, state)

    code, out, err = run(capsys, "status", *ENV, names.execution_name)
    json_code, json_out, _ = run(capsys, "status", *ENV, names.execution_name, "--json")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "Sweep: 3 variants, winner v2 (lowest validationLoss)" in lines
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| v")}
    assert sorted(rows) == ["v1", "v2", "v3"]
    assert rows["v2"].startswith("| v2 | learningRate=0.00001 | 0.1388 |") and rows["v2"].endswith("| yes |")
    assert "model deleted" in rows["v1"] and "model deleted" in rows["v3"]
    assert json_code == 0 and json.loads(json_out)["sweep"] == state["sweep"]
