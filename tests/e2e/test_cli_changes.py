"""The README's commands that change the account (`submit`, `cleanup --yes`), and every
command against an account where the environment is not (yet) deployed: typed as users type
them (`tools.__main__.main(argv)`), against a fresh account on 127.0.0.1 for each test,
reached only through the variables the SDK honours (see test_readme_commands.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.aws_world import (
    PROMPT,
    REGION,
    AwsOverHttp,
    DeployedWorld,
    MotoServer,
    deploy_outputs,
    deployed_world,
    http_emulator,
    one_line_error,
    shell_for,
)
from tests.aws_world import (
    run_tools as run,
)
from tools.__main__ import main

ENV = ["--env", "dev"]
NOT_DEPLOYED = "error: BedrockCustomization-dev-Storage is not deployed in us-east-1: run make deploy ENV=dev"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def aws(moto) -> Iterator[AwsOverHttp]:
    """An empty account, and a shell pointed at it."""
    with AwsOverHttp(http_emulator(), moto) as running, shell_for(running):
        yield running
    assert running.bedrock.failures == []


@pytest.fixture
def deployed(aws, capsys) -> DeployedWorld:
    world = deployed_world(aws)
    capsys.readouterr()  # what setting the account up printed is not the commands'
    return world


# -- status ---------------------------------------------------------------------------------------


def test_status_of_an_environment_without_runs_says_how_to_start_one(aws, capsys):
    machine = aws.client("stepfunctions").create_state_machine(
        name="Workflow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    deploy_outputs("dev", machine, cfn=aws.client("cloudformation"))

    code, out, _ = run(capsys, "status", *ENV)

    assert code == 0
    assert out.splitlines()[-1] == "no runs yet: python -m tools submit DATASET_DIR --env NAME starts one"


# -- invoke ---------------------------------------------------------------------------------------


def test_invoke_of_a_deployment_deleted_since_says_so_in_one_line(deployed, capsys):
    deployed.aws.client("bedrock").delete_custom_model_deployment(
        customModelDeploymentIdentifier=deployed.earlier_deployment_arn
    )

    code, out, err = run(capsys, "invoke", *ENV, "--model", deployed.earlier_deployment_arn, PROMPT)

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        f"error: {deployed.earlier_deployment_arn} does not exist in this account and region (deleted?)"
    )
    assert "Converse" not in deployed.aws.bedrock_requests


# -- cleanup --------------------------------------------------------------------------------------


def test_cleanup_yes_deletes_what_was_marked_delete_and_says_it_did(deployed, capsys):
    emulator = deployed.aws.emulator

    code, out, err = run(capsys, "cleanup", *ENV, "--older-than", "7", "--yes")

    assert (code, err) == (0, "")
    assert sorted(emulator.billed_servings()) == sorted([deployed.deployment_arn, deployed.strangers_deployment_arn])
    assert [op for op in deployed.aws.bedrock_requests if op.startswith("Delete")] == ["DeleteCustomModelDeployment"]
    lines = out.splitlines()
    deleted = lines.index("             -> deleted")
    assert deployed.earlier.run_id in lines[deleted - 1]
    assert "-> delete:" not in out and "dry run" not in out  # what happened, not what would
    assert lines[-1] == "deleted 1 item(s), kept 3"
    # Nothing younger than the limit was touched; the custom models and the newer deployment remain.
    assert sorted(emulator.kept_models()) == sorted([deployed.model_arn, deployed.earlier_model_arn])


def test_cleanup_yes_json_gives_each_items_result(deployed, capsys):
    code, out, _ = run(capsys, "cleanup", *ENV, "--older-than", "7", "--yes", "--json")

    results = {item["arn"]: item["result"] for item in json.loads(out)}
    assert code == 0
    assert results == {
        deployed.deployment_arn: None,
        deployed.model_arn: None,
        deployed.earlier_deployment_arn: "deleted",
        deployed.earlier_model_arn: None,
    }


# -- submit ---------------------------------------------------------------------------------------


def test_submit_uploads_the_training_file_last_and_names_the_run_its_upload_starts(deployed, capsys):
    code, out, err = run(capsys, "submit", "examples/email-classifier", *ENV)

    assert (code, err) == (0, "")
    versions = deployed.aws.client("s3").list_object_versions(Bucket="data-bucket", Prefix="datasets/")["Versions"]
    order = [version["Key"] for version in sorted(versions, key=lambda v: v["LastModified"])]
    assert order == ["datasets/email-classifier/job.json", "datasets/email-classifier/train.jsonl"]
    [started] = deployed.submitted  # by the upload event
    assert out.splitlines() == [
        "uploaded datasets/email-classifier/job.json, datasets/email-classifier/train.jsonl to s3://data-bucket",
        f"run {started.execution_name} starts from the upload event; its job will be {started.job_name}",
    ]


def test_submit_wait_follows_the_run_to_its_end(deployed, capsys):
    code, out, err = run(capsys, "submit", "examples/email-classifier", *ENV, "--wait")

    assert (code, err) == (0, "")
    [started] = deployed.submitted
    *_, progress, verdict = out.splitlines()
    assert progress.split() == ["0", "min", "SUCCEEDED", "job", "Completed", "training", "loss", "0.1132"]
    assert verdict == "evaluation: PROMOTED: exact match 0.92 (custom) vs 0.38 (base), +0.54, gate +0.05"
    assert main(["status", *ENV, started.execution_name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "SUCCEEDED"


def test_submit_json_gives_the_upload_and_the_run(deployed, capsys):
    code, out, _ = run(capsys, "submit", "examples/email-classifier", *ENV, "--wait", "--json")

    summary = json.loads(out)
    [started] = deployed.submitted
    head = deployed.aws.client("s3").head_object(Bucket="data-bucket", Key="datasets/email-classifier/train.jsonl")
    assert code == 0
    assert (summary["run"], summary["job"], summary["versionId"]) == (
        started.execution_name,
        started.job_name,
        head["VersionId"],
    )
    assert (summary["state"], summary["jobStatus"]) == ("SUCCEEDED", "Completed")


def test_submit_of_an_invalid_dataset_prints_the_problems_and_uploads_nothing(deployed, capsys, tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "train.jsonl").write_text("{'role': 'user'}\n")

    code, out, _ = run(capsys, "submit", str(folder), *ENV, "--wait")

    assert code == 1
    assert f"{folder / 'train.jsonl'}:1: json: not valid JSON" in out
    assert out.splitlines()[-1] == "nothing was uploaded: fix the problems above and submit again"
    assert deployed.aws.client("s3").list_object_versions(Bucket="data-bucket").get("Versions") is None
    assert deployed.submitted == []
    # --json: the report `validate --json` prints, JSON like every other --json output.
    assert main(["submit", str(folder), *ENV, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert deployed.aws.client("s3").list_object_versions(Bucket="data-bucket").get("Versions") is None


# -- what every command says when the environment is not there ----------------------------------------------

COMMANDS = {
    "status": ["status", *ENV],
    "status RUN": ["status", *ENV, "email-classifier-38f4b4ba2e8f4a27"],
    "invoke --run": ["invoke", *ENV, "--run", "email-classifier-38f4b4ba2e8f4a27", PROMPT],
    "invoke --model": ["invoke", *ENV, "--model", "amazon.nova-micro-v1:0", PROMPT],
    "cleanup": ["cleanup", *ENV, "--older-than", "7"],
    "cleanup --yes": ["cleanup", *ENV, "--older-than", "7", "--yes"],
    "submit --wait": ["submit", "examples/email-classifier", *ENV, "--wait"],
}


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_unknown_environment_is_one_line(argv, capsys):
    argv = [("staging" if part == "dev" else part) for part in argv]

    code, out, err = run(capsys, *argv)

    assert (code, out) == (2, "")
    assert one_line_error(err) == "error: unknown environment 'staging'; allowed: dev, prod (see cdk.json)"


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_environment_whose_stacks_are_not_deployed_is_one_line(aws, argv, capsys):
    code, out, err = run(capsys, *argv)

    assert code == 2
    assert one_line_error(err) == NOT_DEPLOYED
    assert "starts from the upload event" not in out
    assert aws.client("s3").list_buckets()["Buckets"] == []  # submit uploaded nothing anywhere


def test_preflight_of_an_unknown_or_undeployed_environment(aws, capsys):
    assert main(["preflight", "--env", "staging"]) == 2
    assert one_line_error(capsys.readouterr().err) == (
        "error: unknown environment 'staging'; allowed: dev, prod (see cdk.json)"
    )

    code, out, _ = run(capsys, "preflight", *ENV)

    assert code == 1
    assert (
        f"FAIL  stacks            BedrockCustomization-dev-Storage is not deployed in {REGION} -> fix: make deploy ENV=dev"
        in out
    )
    assert "key policy" not in out  # nothing to look at without the stacks
