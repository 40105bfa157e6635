"""The EventBridge rules, matched against real event samples with moto's pattern engine.

(moto's `test_event_pattern` API is a stub in 5.2; `EventPattern` is the matcher its
events backend routes with, wildcard filters included.)
"""

from __future__ import annotations

import copy
import json

import pytest
from moto.events.models import EventPattern

from tests.conftest import ENVIRONMENTS

BUCKET = "bedrockcustomization-dev-databucket-1a2b3c"
STATE_MACHINE = "arn:aws:states:us-east-1:111122223333:stateMachine:Workflow-abc"

# As S3 sends it to EventBridge (S3 User Guide, "EventBridge message structure").
S3_OBJECT_CREATED = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2026-11-26T10:00:00Z",
    "region": "us-east-1",
    "resources": [f"arn:aws:s3:::{BUCKET}"],
    "detail": {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {
            "key": "datasets/email-classifier/train.jsonl",
            "size": 105492,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}

EXECUTION_STATUS_CHANGE = {
    "version": "0",
    "id": "315c1398-40ff-a850-213b-158f73e60175",
    "detail-type": "Step Functions Execution Status Change",
    "source": "aws.states",
    "account": "111122223333",
    "time": "2026-11-26T10:00:00Z",
    "region": "us-east-1",
    "resources": [f"{STATE_MACHINE}:run-1"],
    "detail": {
        "executionArn": f"{STATE_MACHINE.replace('stateMachine', 'execution')}:run-1",
        "stateMachineArn": STATE_MACHINE,
        "name": "run-1",
        "status": "ABORTED",
        "input": json.dumps({"upload": {"bucket": BUCKET, "key": "datasets/x/train.jsonl", "versionId": "v1"}}),
    },
}


def _pattern(synthesized, environment: str, rule: str) -> EventPattern:
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    _, resource = stack.named(rule)
    pattern = copy.deepcopy(resource["Properties"]["EventPattern"])
    # Deploy-time values: the data bucket's name (cross-stack) and the state machine's ARN.
    if "bucket" in pattern.get("detail", {}):
        pattern["detail"]["bucket"]["name"] = [BUCKET]
    if "stateMachineArn" in pattern.get("detail", {}):
        pattern["detail"]["stateMachineArn"] = [STATE_MACHINE]
    if "roleArn" in pattern.get("detail", {}):
        pattern["detail"]["roleArn"] = [CUSTOMIZATION_ROLE]
    return EventPattern.load(json.dumps(pattern))


def _upload(key: str = "datasets/email-classifier/train.jsonl", **changes) -> dict:
    event = copy.deepcopy(S3_OBJECT_CREATED)
    event["detail"]["object"]["key"] = key
    for field, value in changes.items():
        if field == "bucket":
            event["detail"]["bucket"]["name"] = value
        else:
            event[field] = value
    return event


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    "key",
    [
        "datasets/email-classifier/train.jsonl",
        "datasets/support-handbook/train.txt",
        "datasets/Spam Filter (v2)/train.jsonl",
        "datasets/données/train.jsonl",
    ],
)
def test_training_files_start_a_run(synthesized, environment, key):
    assert _pattern(synthesized, environment, "TrainingFileUploaded").matches_event(_upload(key))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    "key",
    [
        "datasets/email-classifier/validation.jsonl",
        "datasets/email-classifier/job.json",
        "prepared/email-classifier/v1/train.jsonl",
        "reports/email-classifier/v1/validation-report.json",
        "datasets/email-classifier/train.jsonl.bak",
        "train.jsonl",
    ],
)
def test_other_keys_do_not(synthesized, environment, key):
    assert not _pattern(synthesized, environment, "TrainingFileUploaded").matches_event(_upload(key))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_other_buckets_and_event_types_do_not(synthesized, environment):
    pattern = _pattern(synthesized, environment, "TrainingFileUploaded")

    assert not pattern.matches_event(_upload(bucket="someone-elses-bucket"))
    assert not pattern.matches_event(_upload(**{"detail-type": "Object Deleted"}))
    # S3 also emits tag events for a plain put (moto does too): they must not start a second run.
    assert not pattern.matches_event(_upload(**{"detail-type": "Object Tags Added"}))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("status", "matches"),
    [("ABORTED", True), ("TIMED_OUT", True), ("FAILED", True), ("SUCCEEDED", True), ("RUNNING", False)],
)
def test_executions_that_end_reach_the_abort_guard(synthesized, environment, status, matches):
    event = copy.deepcopy(EXECUTION_STATUS_CHANGE)
    event["detail"]["status"] = status

    assert _pattern(synthesized, environment, "RunEnded").matches_event(event) is matches


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_abort_guard_ignores_other_state_machines(synthesized, environment):
    event = copy.deepcopy(EXECUTION_STATUS_CHANGE)
    event["detail"]["stateMachineArn"] = "arn:aws:states:us-east-1:111122223333:stateMachine:other"

    assert not _pattern(synthesized, environment, "RunEnded").matches_event(event)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_rule_target_retries_and_keeps_failed_events(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    for rule in ("TrainingFileUploaded", "RunEnded", "JobStateChanged", "JobWatchBackstop"):
        _, resource = stack.named(rule)
        [target] = resource["Properties"]["Targets"]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
        assert stack.construct_path(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]).endswith("/DeadLetters")


CUSTOMIZATION_ROLE = "arn:aws:iam::111122223333:role/BedrockCustomization-dev-Pipeline-CustomizationServiceRole"
JOB_STATE_CHANGE = {
    "version": "0",
    "id": "e1",
    "detail-type": "Model Customization Job State Change",
    "source": "aws.bedrock",
    "account": "111122223333",
    "time": "2026-11-29T12:34:56Z",
    "region": "us-east-1",
    "resources": ["arn:aws:bedrock:us-east-1:111122223333:model-customization-job/amazon.nova-micro-v1:0:128k/abc"],
    "detail": {"jobName": "mail-dev-job-0123456789abcdef", "jobStatus": "Completed", "roleArn": CUSTOMIZATION_ROLE},
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("status", "role", "matches"),
    [
        ("Completed", CUSTOMIZATION_ROLE, True),
        ("Failed", CUSTOMIZATION_ROLE, True),
        ("Stopped", CUSTOMIZATION_ROLE, True),
        ("InProgress", CUSTOMIZATION_ROLE, False),
        ("Completed", "arn:aws:iam::111122223333:role/another-environments-role", False),
    ],
)
def test_the_end_of_this_environments_jobs_reaches_watch_job(synthesized, environment, status, role, matches):
    """This environment's jobs are the ones its customization role runs: another environment's,
    in the same account, never reach this WatchJob."""
    event = copy.deepcopy(JOB_STATE_CHANGE)
    event["detail"].update(jobStatus=status, roleArn=role)

    assert _pattern(synthesized, environment, "JobStateChanged").matches_event(event) is matches


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_rule_matches_the_customization_role_and_the_backstop_runs_on_the_configured_rate(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    config = synthesized.environments[environment].config
    _, rule = stack.named("JobStateChanged")
    _, backstop = stack.named("JobWatchBackstop")
    [role] = rule["Properties"]["EventPattern"]["detail"]["roleArn"]

    assert stack.construct_path(role["Fn::GetAtt"][0]) == "CustomizationServiceRole/Role"
    from tools.local_run.runner import _rate_seconds

    assert _rate_seconds(backstop["Properties"]["ScheduleExpression"]) == config.polling.backstop_minutes * 60
