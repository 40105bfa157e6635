"""`status` and `cleanup` against emulated AWS: CloudFormation stacks with the outputs the
deployed ones have (moto), and the local run's Bedrock emulation holding what runs left."""

from __future__ import annotations

import argparse
import json

import boto3
import pytest
from moto import mock_aws

from customization.naming import run_names
from tests.aws_world import (
    REGION,
    SUCCEED,
    UPLOAD,
    Session,
    deploy_outputs,
    finished_run,
    state_machine,
    world,
)
from tools.__main__ import main
from tools.cleanup import run as cleanup_command
from tools.deployed import execution_arn
from tools.status import run as status_command
from tools.submit import follow
from tools.submit import run as submit_command


def _args(**values) -> argparse.Namespace:
    return argparse.Namespace(
        **{"env": "dev", "older_than": 0, "yes": False, "json": False, "limit": 20, "run_name": None, **values}
    )


def test_cleanup_lists_what_costs_money_and_changes_nothing_without_yes(capsys):
    with mock_aws():
        deploy_outputs("dev")
        emulator, bedrock = world()

        assert cleanup_command(_args(), Session(bedrock)) == 0
        out = capsys.readouterr().out

        assert "dry run: nothing was deleted" in out
        # No published hourly price for a Nova custom model: said so, never $0.
        assert "throughput" in out and "unknown/h x 1 unit(s)" in out
        assert "committed" in out and "OneMonth commitment" in out
        assert "someone-elses" not in out, "only this environment's resources are listed"
        assert "custom model" in out and "serving uses it" in out
        assert all(line.__len__() < 80 for line in out.splitlines())
        assert emulator.counts().get("DeleteProvisionedModelThroughput") is None
        assert len(emulator.billed_servings()) == 3


def test_cleanup_with_yes_deletes_exactly_the_listed_deletable_items(capsys):
    with mock_aws():
        deploy_outputs("dev")
        emulator, bedrock = world()

        assert cleanup_command(_args(yes=True, json=True), Session(bedrock)) == 0
        listed = json.loads(capsys.readouterr().out)

        deleted = {item["arn"] for item in listed if item["result"] == "deleted"}
        assert deleted == {item["arn"] for item in listed if item["deletable"]}
        remaining = emulator.billed_servings()
        assert len(remaining) == 2  # someone else's, and the committed one
        assert not deleted & set(remaining)


def test_older_than_spares_recent_items(capsys):
    with mock_aws():
        deploy_outputs("dev")
        emulator, bedrock = world()

        assert cleanup_command(_args(yes=True, older_than=30), Session(bedrock)) == 0

        assert len(emulator.billed_servings()) == 3


def test_status_lists_recent_runs(capsys):
    with mock_aws():
        sfn, machine = state_machine(SUCCEED)
        sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], name="email-classifier-1", input=json.dumps({"upload": UPLOAD})
        )
        deploy_outputs("dev", machine["stateMachineArn"])
        _, bedrock = world()

        assert status_command(_args(), Session(bedrock)) == 0
        out = capsys.readouterr().out
        assert status_command(_args(json=True), Session(bedrock)) == 0
        [row] = json.loads(capsys.readouterr().out)

    assert "email-classifier" in out and "Completed" in out
    assert row["dataset"] == "email-classifier" and row["job"] == "Completed"


@pytest.mark.parametrize("command", [["status"], ["cleanup"], ["submit", "examples/email-classifier"]])
def test_errors_are_one_line_and_exit_2(capsys, command, monkeypatch):
    assert main([*command, "--env", "nope"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown environment 'nope'; allowed: dev, prod (see cdk.json)"

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        assert main([*command, "--env", "dev"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: BedrockCustomization-dev-Storage is not deployed in us-east-1: run make deploy ENV=dev"


@pytest.mark.parametrize("command", [["status"], ["cleanup"], ["submit", "examples/email-classifier"]])
def test_no_credentials_is_one_line(capsys, monkeypatch, command):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert main([*command, "--env", "dev"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no AWS credentials") and "\n" not in err


def _bucket():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data-bucket")
    s3.put_bucket_versioning(Bucket="data-bucket", VersioningConfiguration={"Status": "Enabled"})
    return s3


def test_submit_validates_then_uploads_the_training_file_last(capsys):
    from tests.conftest import ROOT

    with mock_aws():
        deploy_outputs("dev")
        s3 = _bucket()
        code = submit_command(
            _args(dataset_dir=ROOT / "examples/email-classifier", name=None, wait=False, json=True), Session(None)
        )
        summary = json.loads(capsys.readouterr().out)
        versions = s3.list_object_versions(Bucket="data-bucket", Prefix="datasets/")["Versions"]

    assert code == 0
    order = [v["Key"] for v in sorted(versions, key=lambda v: v["LastModified"])]
    assert order[-1] == "datasets/email-classifier/train.jsonl"
    assert set(order) == {"datasets/email-classifier/job.json", "datasets/email-classifier/train.jsonl"}
    assert summary["run"] == run_names("dev", "data-bucket", summary["key"], summary["versionId"]).execution_name


def test_submit_uploads_nothing_when_the_dataset_is_invalid(tmp_path, capsys):
    (tmp_path / "train.jsonl").write_text('{"prompt": "wrong format for Nova"}\n')
    with mock_aws():
        deploy_outputs("dev")
        s3 = _bucket()
        code = submit_command(_args(dataset_dir=tmp_path, name="bad", wait=False), Session(None))
        out = capsys.readouterr().out
        objects = s3.list_objects_v2(Bucket="data-bucket").get("Contents", [])

    assert code == 1
    assert "train.jsonl:1: unexpected-field" in out
    assert "nothing was uploaded" in out
    assert objects == []


def test_submit_refuses_a_folder_without_a_training_file(tmp_path, capsys):
    with mock_aws():
        deploy_outputs("dev")
        code = submit_command(_args(dataset_dir=tmp_path, name=None, wait=False), Session(None))

    assert code == 2
    assert "must hold exactly one of train.jsonl, train.txt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("team/mail", "a dataset name cannot hold '/'"),
        ("é" * 500, "the dataset name is 1,000 bytes (UTF-8); at most 998"),
    ],
)
def test_submit_refuses_a_name_the_bucket_layout_cannot_hold_before_uploading(name, message, capsys):
    from tests.conftest import ROOT

    with mock_aws():
        deploy_outputs("dev")
        s3 = _bucket()
        code = submit_command(
            _args(dataset_dir=ROOT / "examples/email-classifier", name=name, wait=False), Session(None)
        )
        objects = s3.list_objects_v2(Bucket="data-bucket").get("Contents", [])

    assert code == 2
    assert message in capsys.readouterr().err
    assert objects == []


def test_wait_follows_the_run_until_it_ends(capsys):
    with mock_aws():
        sfn, machine = state_machine(SUCCEED)
        arn = execution_arn(machine["stateMachineArn"], "run-1")
        emulator, bedrock = world()
        polls = []

        def sleep(seconds):
            polls.append(seconds)
            assert len(polls) < 10, "follow() must end when the execution does"
            if len(polls) == 1:  # the upload event arrives after the first look
                sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-1", input="{}")
            elif len(polls) == 3:  # then it ends (an operator stops it)
                sfn.stop_execution(executionArn=arn)

        final = follow(Session(bedrock), arn, next(iter(emulator.jobs)), 30, sleep=sleep, clock=lambda: 0)
        out = capsys.readouterr().out.splitlines()

    assert final == {"state": "ABORTED", "error": None, "jobStatus": "Completed", "evaluation": None}
    assert "WAITING FOR EVENT" in out[0] and "RUNNING" in out[1] and "ABORTED" in out[-1]
    assert "training loss 0.1132" in out[-1]
    assert polls == [30, 30, 30]


def test_status_of_one_run_shows_its_timeline_job_failure_and_links(capsys):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        definition = {
            "StartAt": "ValidateDataset",
            "States": {
                "ValidateDataset": {"Type": "Pass", "Next": "RunFailed"},
                "RunFailed": {"Type": "Fail", "Error": "JobFailed", "Cause": "job failed: bad record on line 3"},
            },
        }
        finished_run(definition, "email-classifier-1")
        _, bedrock = world()

        assert status_command(_args(run_name="email-classifier-1"), Session(bedrock)) == 0
        text = capsys.readouterr().out
        assert status_command(_args(run_name="email-classifier-1", json=True), Session(bedrock)) == 0
        detail = json.loads(capsys.readouterr().out)
        assert status_command(_args(run_name="nope"), Session(bedrock)) == 2

    assert [entry["state"] for entry in detail["timeline"]] == ["ValidateDataset", "RunFailed"]
    assert detail["bedrockJob"]["status"] == "Completed"
    assert "failed with JobFailed: job failed: bad record on line 3" in text
    assert "execution: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions" in text
    assert "no run 'nope' in dev" in capsys.readouterr().err


def test_status_of_an_evaluated_run_shows_the_verdict_and_the_report(capsys):
    evaluation = {
        "status": "evaluated",
        "promoted": False,
        "headline": "NOT PROMOTED: exact match 0.29 (custom) vs 0.54 (base)",
        "markdownUri": "s3://data-bucket/reports/email-classifier/v1/evaluation.md",
    }
    output = {
        "upload": UPLOAD,
        "serving": {"mode": "on-demand", "arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/x"},
        "evaluation": evaluation,
        "retired": {"deleted": True},
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        finished_run(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": output, "End": True}}},
            "email-classifier-2",
        )
        _, bedrock = world()

        assert status_command(_args(run_name="email-classifier-2"), Session(bedrock)) == 0
        text = capsys.readouterr().out
        assert status_command(_args(json=True), Session(bedrock)) == 0
        [row] = json.loads(capsys.readouterr().out)

    assert f"evaluation: {evaluation['headline']}" in text
    assert f"evaluation report: {evaluation['markdownUri']}" in text
    assert "serving:" not in text  # deleted by the run: nothing to invoke
    assert (row["promoted"], row["serving"], row["evaluation"]) == (False, None, evaluation["headline"])


def test_status_of_a_run_shows_its_curve_diagnosis_with_the_losses_read_from_s3(capsys):
    curves = {
        "verdict": "overfitting",
        "summary": "overfitting: validation loss rose for 6 evaluations after its minimum 0.3076 (step 39, epoch 1)",
        "advice": "train for fewer epochs: set epochCount to 1 in job.json (now 2; allowed 1 to 5, default 2)",
        "change": {"hyperparameter": "epochCount", "value": "1", "current": "2"},
        "reportUri": "s3://data-bucket/reports/email-classifier/v1/curves.json",
        "chartUri": "s3://data-bucket/reports/email-classifier/v1/curves.svg",
    }
    report = {
        "training": {"final": 0.0512, "best": 0.0509, "steps": 100, "uri": "s3://out/t.csv"},
        "validation": {"final": 0.3885, "best": 0.3076, "steps": 10, "uri": "s3://out/v.csv"},
    }
    output = {"upload": UPLOAD, "curves": curves}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="data-bucket")
        s3.put_object(Bucket="data-bucket", Key="reports/email-classifier/v1/curves.json", Body=json.dumps(report))
        finished_run({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": output, "End": True}}}, "run-4")
        _, bedrock = world()

        assert status_command(_args(run_name="run-4"), Session(bedrock)) == 0
        text = capsys.readouterr().out
        assert status_command(_args(run_name="run-4", json=True), Session(bedrock)) == 0
        detail = json.loads(capsys.readouterr().out)

    assert f"curves: {curves['summary']}" in text
    assert f"  change: {curves['advice']}" in text
    assert "  validation loss 0.3885 at the end (best 0.3076, 10 steps)" in text
    assert f"  chart: {curves['chartUri']}" in text
    assert detail["curves"]["change"] == curves["change"] and detail["curves"]["training"]["final"] == 0.0512


def test_following_a_run_to_its_end_prints_the_evaluation_verdict(capsys):
    headline = "PROMOTED: exact match 0.92 (custom) vs 0.38 (base)"
    output = {"upload": UPLOAD, "evaluation": {"status": "evaluated", "promoted": True, "headline": headline}}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        finished_run({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": output, "End": True}}}, "run-3")
        _, bedrock = world()
        machine = boto3.client("stepfunctions", region_name=REGION).list_state_machines()["stateMachines"][0]

        final = follow(
            Session(bedrock), execution_arn(machine["stateMachineArn"], "run-3"), "no-job", 1, clock=lambda: 0
        )

    assert final["state"] == "SUCCEEDED" and final["evaluation"] == headline
    assert capsys.readouterr().out.splitlines()[-1] == f"evaluation: {headline}"
