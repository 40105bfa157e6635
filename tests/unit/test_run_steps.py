"""The workflow's Lambda steps against the Bedrock API as botocore defines it (Stubber):
every request is checked against the real service model, every status and error class
has a case, and retries of a step never create a second paid resource."""

from __future__ import annotations

import datetime as dt
import json
import re

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given
from hypothesis import strategies as st

from customization import runtime
from customization.bedrock_errors import BedrockRequestRejected, BedrockThrottled, CapacityUnavailable
from customization.naming import run_names
from customization.serving import ServingFailed, ServingNotReady
from customization.training import (
    CostCeilingExceeded,
)

ENVIRONMENT = {
    "ENVIRONMENT": "dev",
    "CUSTOMIZATION_ROLE_ARN": "arn:aws:iam::111122223333:role/customization",
    "OUTPUT_BUCKET": "output-bucket",
    "DATA_KEY_ARN": "arn:aws:kms:us-east-1:111122223333:key/0b5ac6a1-3d6e-4f3a-9b6c-4a2f8c1e9d10",
    "COST_CEILING_USD": "25",
    "SERVING": json.dumps({"mode": "provisioned", "modelUnits": 1, "commitment": "none"}),
    "TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:topic",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/dead-letters",
    "SLOTS_TABLE": "coordination",
    "MAX_JOB_HOURS": "12",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:111122223333:stateMachine:Workflow",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
UPLOAD = {"bucket": "data-bucket", "key": "datasets/email-classifier/train.jsonl", "versionId": "v1"}
NAMES = run_names("dev", UPLOAD["bucket"], UPLOAD["key"], UPLOAD["versionId"])
JOB_ARN = "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/amazon.nova-micro-v1:0:128k/j0b1d2e3f4a5"
MODEL_ARN = "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
PT_ARN = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/xyz789uvw012"
VALIDATION = {
    "settings": {
        "baseModel": "amazon.nova-micro-v1:0:128k",
        "customizationType": "FINE_TUNING",
        "hyperParameters": {"epochCount": "2"},
    },
    "prepared": {
        "trainUri": "s3://data-bucket/prepared/x/v1/train.jsonl",
        "validationUri": "s3://data-bucket/prepared/x/v1/validation.jsonl",
    },
    "cost": {"trainingUsd": 0.05},
}


SERVICES = ("bedrock", "stepfunctions", "sns", "sqs", "dynamodb")


@pytest.fixture
def clients(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    made = {service: boto3.client(service, region_name="us-east-1") for service in SERVICES}
    stubbers = {service: Stubber(client) for service, client in made.items()}
    monkeypatch.setattr(runtime, "client", lambda service: made[service])
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
    runtime.reset()


def _job(status: str, **extra) -> dict:
    return {
        "jobArn": JOB_ARN,
        "jobName": NAMES.job_name,
        "outputModelName": NAMES.custom_model_name,
        "roleArn": ENVIRONMENT["CUSTOMIZATION_ROLE_ARN"],
        "status": status,
        "creationTime": dt.datetime(2026, 11, 26, 10),
        "baseModelArn": "arn:aws:bedrock:::foundation-model/x",
        "trainingDataConfig": {"s3Uri": "s3://data-bucket/prepared/x/0123456789abcdef/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://output-bucket/jobs/"},
        "validationDataConfig": {"validators": []},
        "clientRequestToken": NAMES.client_token("job"),
        **extra,
    }


# -- StartCustomizationJob -----------------------------------------------------------------


def _start(clients):
    from start_job import handler

    return handler.lambda_handler({"upload": UPLOAD, "validation": VALIDATION, "executionArn": "arn:exec"})


def test_start_sends_a_complete_deterministic_request(clients):
    tags = [{"key": k, "value": v} for k, v in NAMES.tags.items()]
    clients["bedrock"].add_response(
        "create_model_customization_job",
        {"jobArn": JOB_ARN},
        {
            "jobName": NAMES.job_name,
            "customModelName": NAMES.custom_model_name,
            "roleArn": ENVIRONMENT["CUSTOMIZATION_ROLE_ARN"],
            "clientRequestToken": NAMES.client_token("job"),
            "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
            "customizationType": "FINE_TUNING",
            "customModelKmsKeyId": ENVIRONMENT["DATA_KEY_ARN"],
            "jobTags": tags,
            "customModelTags": tags,
            "trainingDataConfig": {"s3Uri": VALIDATION["prepared"]["trainUri"]},
            "validationDataConfig": {"validators": [{"s3Uri": VALIDATION["prepared"]["validationUri"]}]},
            "outputDataConfig": {"s3Uri": f"s3://output-bucket/jobs/{NAMES.job_name}/"},
            "hyperParameters": {"epochCount": "2"},
        },
    )

    job = _start(clients)

    assert job == {
        "jobArn": JOB_ARN,
        "jobName": NAMES.job_name,
        "customModelName": NAMES.custom_model_name,
        "outputUri": f"s3://output-bucket/jobs/{NAMES.job_name}/",
        "alreadyStarted": False,
    }


def test_a_retried_start_finds_the_job_instead_of_starting_a_second(clients):
    clients["bedrock"].add_client_error("create_model_customization_job", "ConflictException", "name in use")
    clients["bedrock"].add_response(
        "get_model_customization_job", _job("InProgress"), {"jobIdentifier": NAMES.job_name}
    )

    job = _start(clients)

    assert job["jobArn"] == JOB_ARN and job["alreadyStarted"] is True


def test_a_name_taken_by_another_request_is_not_mistaken_for_ours(clients):
    clients["bedrock"].add_client_error("create_model_customization_job", "ConflictException", "name in use")
    clients["bedrock"].add_response(
        "get_model_customization_job", _job("InProgress", clientRequestToken="someone-else")
    )

    with pytest.raises(BedrockRequestRejected, match="is taken by another request"):
        _start(clients)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ServiceQuotaExceededException", CapacityUnavailable),
        ("ThrottlingException", BedrockThrottled),
        ("InternalServerException", BedrockThrottled),
        ("ValidationException", BedrockRequestRejected),
        ("AccessDeniedException", BedrockRequestRejected),
        ("ResourceNotFoundException", BedrockRequestRejected),
        ("TooManyTagsException", BedrockRequestRejected),
    ],
)
def test_bedrock_errors_become_the_errors_the_state_machine_routes(clients, code, error):
    clients["bedrock"].add_client_error("create_model_customization_job", code, f"Bedrock says: {code}")

    with pytest.raises(error, match=f"Bedrock says: {code}"):
        _start(clients)


def test_the_cost_guard_stops_the_run_before_any_bedrock_call(clients):
    expensive = {**VALIDATION, "cost": {"trainingUsd": 30.0}}
    from start_job import handler

    with pytest.raises(CostCeilingExceeded, match=r"\$30.00 is above this environment's ceiling \$25.00"):
        handler.lambda_handler({"upload": UPLOAD, "validation": expensive})


# -- WatchJob: the job's end, from its event, the backstop or the first look ------------------

TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf" + "x" * 40
TABLE = ENVIRONMENT["SLOTS_TABLE"]


def _kept(clients, token: str | None = TASK_TOKEN) -> None:
    item = {"Item": {"pk": {"S": f"job#{NAMES.job_name}"}, "token": {"S": token}, "jobName": {"S": NAMES.job_name}}}
    clients["dynamodb"].add_response(
        "get_item",
        item if token else {},
        {"TableName": TABLE, "Key": {"pk": {"S": f"job#{NAMES.job_name}"}}, "ConsistentRead": True},
    )


def _forgotten(clients) -> None:
    clients["dynamodb"].add_response(
        "delete_item",
        {},
        {
            "TableName": TABLE,
            "Key": {"pk": {"S": f"job#{NAMES.job_name}"}},
            "ConditionExpression": "#t = :token",
            "ExpressionAttributeNames": {"#t": "token"},
            "ExpressionAttributeValues": {":token": {"S": TASK_TOKEN}},
        },
    )


def _job_event(status: str) -> dict:
    return {
        "detail-type": "Model Customization Job State Change",
        "source": "aws.bedrock",
        "detail": {"jobName": NAMES.job_name, "jobArn": JOB_ARN, "jobStatus": status},
    }


def _watch(event: dict) -> dict:
    from watch_job import handler

    return handler.lambda_handler(event)


def test_a_completed_jobs_event_hands_the_run_its_model_and_metrics(clients):
    _kept(clients)
    completed = _job(
        "Completed",
        outputModelArn=MODEL_ARN,
        endTime=dt.datetime(2026, 11, 26, 16),
        trainingMetrics={"trainingLoss": 0.12},
        validationMetrics=[{"validationLoss": 0.2}, {"validationLoss": 0.15}],
    )
    # The status is read, not taken from the event.
    clients["bedrock"].add_response("get_model_customization_job", completed, {"jobIdentifier": NAMES.job_name})
    clients["stepfunctions"].add_response("send_task_success", {}, {"taskToken": TASK_TOKEN, "output": ANY})
    _forgotten(clients)

    outcome = _watch(_job_event("Completed"))

    result = outcome["result"]
    assert outcome["outcome"] == "succeeded"
    assert result["customModelArn"] == MODEL_ARN
    assert (result["trainingLoss"], result["validationLoss"]) == (0.12, 0.15)
    assert result["endTime"].startswith("2026-11-26T16:00")
    assert result["trainingHours"] == 6.0  # the dashboard's job-duration metric


@pytest.mark.parametrize(
    ("job", "error", "cause"),
    [
        (_job("Failed", failureMessage="Token limit exceeded on record 12"), "JobFailed", "Token limit exceeded"),
        (_job("Stopped"), "JobStopped", "was stopped before it completed"),
    ],
)
def test_a_job_that_failed_or_was_stopped_fails_the_run_with_bedrocks_reason(clients, job, error, cause):
    _kept(clients)
    clients["bedrock"].add_response("get_model_customization_job", job, {"jobIdentifier": NAMES.job_name})
    clients["stepfunctions"].add_response(
        "send_task_failure", {}, {"taskToken": TASK_TOKEN, "error": error, "cause": ANY}
    )
    sent = []
    clients["stepfunctions"].client.meta.events.register(
        "provide-client-params.states.SendTaskFailure", lambda params, **_: sent.append(params)
    )
    _forgotten(clients)

    assert _watch(_job_event(job["status"]))["outcome"] == "failed"
    assert cause in sent[0]["cause"] and NAMES.job_name in sent[0]["cause"]


def test_an_event_for_a_job_nobody_waits_for_is_ignored(clients):
    _kept(clients, token=None)

    assert _watch(_job_event("Completed")) == {"job": NAMES.job_name, "outcome": "nobody waits"}


def test_a_token_whose_run_is_gone_is_forgotten_without_an_error(clients):
    _kept(clients)
    clients["bedrock"].add_response(
        "get_model_customization_job", _job("Completed", outputModelArn=MODEL_ARN), {"jobIdentifier": NAMES.job_name}
    )
    clients["stepfunctions"].add_client_error("send_task_success", "TaskTimedOut", "Task Timed Out")
    _forgotten(clients)

    assert _watch(_job_event("Completed"))["outcome"] == "stale"


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_a_job_still_running_leaves_the_token_kept(clients, status):
    _kept(clients)
    clients["bedrock"].add_response(
        "get_model_customization_job",
        _job(status, statusDetails={"trainingDetails": {"status": "InProgress"}}),
        {"jobIdentifier": NAMES.job_name},
    )

    assert _watch(_job_event("Completed"))["outcome"] == "still running"


def test_waiting_keeps_the_token_then_looks_at_the_job_once(clients, monkeypatch):
    monkeypatch.setenv("MAX_JOB_HOURS", "12")
    runtime.reset()
    clients["dynamodb"].add_response(
        "put_item",
        {},
        {
            "TableName": TABLE,
            "Item": {
                "pk": {"S": f"job#{NAMES.job_name}"},
                "token": {"S": TASK_TOKEN},
                "jobName": {"S": NAMES.job_name},
                "executionArn": {"S": "arn:exec"},
                "expiresAt": {"N": ANY},
            },
        },
    )
    clients["bedrock"].add_response(
        "get_model_customization_job", _job("InProgress"), {"jobIdentifier": NAMES.job_name}
    )

    outcome = _watch({"taskToken": TASK_TOKEN, "jobName": NAMES.job_name, "executionArn": "arn:exec"})

    assert outcome["outcome"] == "still running"


def test_the_backstop_settles_every_waiting_run_and_fails_only_for_the_throttled_ones(clients):
    from customization.bedrock_errors import BedrockThrottled

    clients["dynamodb"].add_response(
        "scan",
        {
            "Items": [
                {"pk": {"S": f"job#{NAMES.job_name}"}, "token": {"S": TASK_TOKEN}, "jobName": {"S": NAMES.job_name}}
            ]
        },
    )
    clients["bedrock"].add_client_error("get_model_customization_job", "ThrottlingException", "slow down")

    with pytest.raises(BedrockThrottled, match=NAMES.job_name):
        _watch({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})


# -- StopJob ----------------------------------------------------------------------------------


def _token_dropped(clients) -> None:
    """Compensation and the abort guard first drop the task token of a run that waits no more."""
    clients["dynamodb"].add_response(
        "delete_item", {}, {"TableName": TABLE, "Key": {"pk": {"S": f"job#{NAMES.job_name}"}}}
    )


def _listed_jobs(clients, *jobs: dict) -> None:
    """The run's job found by name in the list (a Get of a missing job is refused by IAM's tag
    condition, so the list is asked first)."""
    _token_dropped(clients)
    summaries = [
        {key: job[key] for key in ("jobArn", "baseModelArn", "jobName", "status", "creationTime")} for job in jobs
    ]
    clients["bedrock"].add_response(
        "list_model_customization_jobs",
        {"modelCustomizationJobSummaries": summaries},
        {"nameContains": NAMES.job_marker},
    )


def _listed_throughputs(clients, *throughputs: dict) -> None:
    summaries = [{key: value for key, value in pt.items() if key != "failureMessage"} for pt in throughputs]
    clients["bedrock"].add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": summaries},
        {"nameContains": NAMES.provisioned_model_name},
    )


def test_compensation_stops_a_running_job(clients):
    from stop_job import handler

    _listed_jobs(clients, _job("InProgress"))
    clients["bedrock"].add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    _listed_throughputs(clients)

    outcome = handler.lambda_handler({"upload": UPLOAD, "reason": "failure"})

    assert outcome["stopped"] is True and outcome["trigger"] == "failure"
    assert outcome["serving"] == {"deleted": False, "reason": "nothing was created"}


def test_a_job_of_another_run_whose_name_contains_ours_is_not_stopped(clients):
    from stop_job import handler

    other = _job("InProgress", jobName=f"{NAMES.job_name}-copy", jobArn=f"{JOB_ARN}-copy")
    _listed_jobs(clients, other)
    _listed_throughputs(clients)

    outcome = handler.lambda_handler({"upload": UPLOAD, "reason": "failure"})

    assert outcome["stopped"] is False and outcome["reason"] == "no job was started"


def test_a_job_that_ends_while_being_stopped_is_reported_as_ended(clients):
    from stop_job import handler

    _listed_jobs(clients, _job("InProgress"))
    clients["bedrock"].add_client_error("stop_model_customization_job", "ConflictException", "job already completed")
    clients["bedrock"].add_response("get_model_customization_job", _job("Completed", outputModelArn=MODEL_ARN))
    _listed_throughputs(clients)

    outcome = handler.lambda_handler({"upload": UPLOAD, "reason": "failure"})

    assert outcome["stopped"] is False and outcome["reason"].startswith("job is Completed")


def test_an_aborted_execution_stops_its_job_deletes_its_throughput_frees_its_slot_and_tells_people(clients):
    from stop_job import handler

    execution_arn = f"arn:aws:states:us-east-1:111122223333:execution:Workflow:{NAMES.execution_name}"
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "region": "us-east-1",
        "detail": {
            "status": "ABORTED",
            "name": NAMES.execution_name,
            "executionArn": execution_arn,
            "input": json.dumps({"upload": UPLOAD}),
        },
    }
    _listed_jobs(clients, _job("InProgress"))
    clients["bedrock"].add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
    _listed_throughputs(clients, _throughput("InService"))
    clients["bedrock"].add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    clients["dynamodb"].add_response(
        "update_item",
        {},
        {
            "TableName": "coordination",
            "Key": {"pk": {"S": "run-slots"}},
            "UpdateExpression": "DELETE holders :me",
            "ExpressionAttributeValues": {":me": {"SS": [NAMES.execution_name]}},
        },
    )
    clients["sns"].add_response(
        "publish", {"MessageId": "1"}, {"TopicArn": ENVIRONMENT["TOPIC_ARN"], "Subject": ANY, "Message": ANY}
    )

    outcome = handler.lambda_handler(event)

    assert outcome["stopped"] is True and outcome["trigger"] == "execution ABORTED"
    assert outcome["serving"] == {"deleted": True, "arn": PT_ARN}
    assert outcome["notified"].startswith("[dev] Bedrock customization ABORTED")


def test_an_abort_notification_that_sns_refuses_is_kept_and_fails_the_event(clients):
    from stop_job import handler

    from customization.notifications import NotificationNotSent

    event = {
        "detail-type": "Step Functions Execution Status Change",
        "detail": {"status": "TIMED_OUT", "name": NAMES.execution_name, "input": json.dumps({"upload": UPLOAD})},
    }
    _listed_jobs(clients)
    _listed_throughputs(clients)
    clients["dynamodb"].add_response("update_item", {})
    clients["sns"].add_client_error("publish", "KMSAccessDeniedException", "the key is disabled")
    clients["sqs"].add_response(
        "send_message",
        {"MessageId": "m1"},
        {"QueueUrl": ENVIRONMENT["DEAD_LETTER_QUEUE_URL"], "MessageBody": ANY},
    )

    with pytest.raises(NotificationNotSent, match="kept in the dead-letter queue"):
        handler.lambda_handler(event)


def test_a_job_that_already_ended_is_left_alone(clients):
    from stop_job import handler

    _listed_jobs(clients, _job("Completed", outputModelArn=MODEL_ARN))
    _listed_throughputs(clients)

    assert handler.lambda_handler({"upload": UPLOAD})["stopped"] is False


def test_no_job_no_stop(clients):
    from stop_job import handler

    _listed_jobs(clients)
    _listed_throughputs(clients)

    assert handler.lambda_handler({"upload": UPLOAD})["reason"] == "no job was started"


# -- Serving ----------------------------------------------------------------------------------


def _throughput(status: str, **extra) -> dict:
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": NAMES.provisioned_model_name,
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        "status": status,
        "creationTime": dt.datetime(2026, 11, 26),
        "lastModifiedTime": dt.datetime(2026, 11, 26),
        **extra,
    }


def _active_model(clients, status: str = "Active") -> None:
    """GetCustomModel: serving is created only for an Active model."""
    clients["bedrock"].add_response(
        "get_custom_model",
        {
            "modelArn": MODEL_ARN,
            "modelName": NAMES.custom_model_name,
            "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
            "creationTime": dt.datetime(2026, 11, 26),
            "modelStatus": status,
            **({"failureMessage": "artifacts unreadable"} if status == "Failed" else {}),
        },
        {"modelIdentifier": MODEL_ARN},
    )


def test_no_commitment_throughput_is_created_once_with_one_unit(clients):
    from create_serving import handler

    _active_model(clients)
    clients["bedrock"].add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "modelUnits": 1,
            "provisionedModelName": NAMES.provisioned_model_name,
            "modelId": MODEL_ARN,
            "clientRequestToken": NAMES.client_token("pt"),
            "tags": ANY,
        },
    )

    serving = handler.lambda_handler({"upload": UPLOAD, "customModelArn": MODEL_ARN})

    assert serving == {"mode": "provisioned", "arn": PT_ARN, "modelUnits": 1, "commitment": "none", "deletable": True}


def test_a_retried_create_finds_the_throughput(clients):
    from create_serving import handler

    _active_model(clients)
    clients["bedrock"].add_client_error("create_provisioned_model_throughput", "ConflictException", "exists")
    clients["bedrock"].add_response("get_provisioned_model_throughput", _throughput("Creating"))

    assert handler.lambda_handler({"upload": UPLOAD, "customModelArn": MODEL_ARN})["arn"] == PT_ARN


@pytest.mark.parametrize(("status", "error"), [("Creating", "CustomModelNotReady"), ("Failed", "CustomModelFailed")])
def test_serving_is_not_requested_for_a_model_that_is_not_active(clients, status, error):
    from create_serving import handler

    _active_model(clients, status)

    with pytest.raises(Exception) as raised:
        handler.lambda_handler({"upload": UPLOAD, "customModelArn": MODEL_ARN})

    assert type(raised.value).__name__ == error
    assert "artifacts unreadable" in str(raised.value) if status == "Failed" else "Creating" in str(raised.value)
    clients["bedrock"].assert_no_pending_responses()  # no create call was made


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("Creating", ServingNotReady), ("Updating", ServingNotReady), ("Failed", ServingFailed), ("InService", None)],
)
def test_serving_statuses(clients, status, outcome):
    from poll_serving import handler

    serving = {"mode": "provisioned", "arn": PT_ARN, "deletable": True}
    clients["bedrock"].add_response(
        "get_provisioned_model_throughput",
        _throughput(status, failureMessage="no capacity"),
        {"provisionedModelId": PT_ARN},
    )
    if outcome is None:
        assert handler.lambda_handler({"serving": serving})["status"] == "InService"
    else:
        with pytest.raises(outcome):
            handler.lambda_handler({"serving": serving})


def test_committed_throughput_is_never_deleted(clients):
    from delete_serving import handler

    _listed_throughputs(
        clients,
        _throughput("InService", commitmentDuration="OneMonth", commitmentExpirationTime=dt.datetime(2026, 12, 26)),
    )

    outcome = handler.lambda_handler({"upload": UPLOAD})

    assert outcome["deleted"] is False and "OneMonth commitment" in outcome["reason"]


def test_nothing_created_nothing_deleted(clients):
    from delete_serving import handler

    _listed_throughputs(clients)

    assert handler.lambda_handler({"upload": UPLOAD}) == {"deleted": False, "reason": "nothing was created"}


def test_on_demand_deployments_are_created_and_deleted_by_name(clients, monkeypatch):
    from create_serving import handler as create
    from delete_serving import handler as delete

    monkeypatch.setenv("SERVING", json.dumps({"mode": "on-demand"}))
    runtime.reset()
    deployment = "arn:aws:bedrock:us-east-1:111122223333:custom-model-deployment/d1e2f3a4b5c6"
    _active_model(clients)
    clients["bedrock"].add_response(
        "create_custom_model_deployment",
        {"customModelDeploymentArn": deployment},
        {
            "modelDeploymentName": NAMES.deployment_name,
            "modelArn": MODEL_ARN,
            "clientRequestToken": NAMES.client_token("deploy"),
            "tags": ANY,
            "description": ANY,
        },
    )
    clients["bedrock"].add_response(
        "list_custom_model_deployments",
        {
            "modelDeploymentSummaries": [
                {
                    "customModelDeploymentArn": deployment,
                    "customModelDeploymentName": NAMES.deployment_name,
                    "modelArn": MODEL_ARN,
                    "createdAt": dt.datetime(2026, 11, 26),
                    "status": "Active",
                }
            ]
        },
        {"nameContains": NAMES.deployment_name},
    )
    clients["bedrock"].add_response(
        "delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": deployment}
    )

    assert create.lambda_handler({"upload": UPLOAD, "customModelArn": MODEL_ARN})["deletable"] is True
    assert delete.lambda_handler({"upload": UPLOAD}) == {"deleted": True, "arn": deployment}


# -- StartRun ---------------------------------------------------------------------------------


def _s3_event(key: str, version: str = "v1") -> dict:
    return {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": "data-bucket"}, "object": {"key": key, "version-id": version}},
    }


def test_an_upload_starts_one_execution_named_after_the_object_version(clients):
    from start_run import handler

    clients["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": "arn:exec:1", "startDate": dt.datetime(2026, 11, 26)},
        {
            "stateMachineArn": ENVIRONMENT["STATE_MACHINE_ARN"],
            "name": NAMES.execution_name,
            "input": json.dumps({"upload": UPLOAD}, sort_keys=True),
        },
    )

    assert handler.lambda_handler(_s3_event(UPLOAD["key"]))["started"] is True


def test_a_duplicate_event_starts_nothing(clients):
    from start_run import handler

    clients["stepfunctions"].add_client_error("start_execution", "ExecutionAlreadyExists", "exists")

    outcome = handler.lambda_handler(_s3_event(UPLOAD["key"]))

    assert outcome == {"started": False, "reason": "duplicate event", "executionName": NAMES.execution_name}


def test_a_key_outside_the_contract_is_refused_with_the_reason(clients):
    from start_run import handler

    outcome = handler.lambda_handler(_s3_event("datasets/a/b/train.jsonl"))

    assert outcome["started"] is False
    assert "upload the training file as datasets/<name>/train.jsonl or train.txt" in outcome["reason"]


# -- Names ------------------------------------------------------------------------------------

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$")
MODEL_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")
TOKEN = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?$")
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@given(dataset=st.text(min_size=1).filter(lambda name: "/" not in name), version=st.text(max_size=40))
def test_names_are_valid_for_bedrock_and_step_functions_whatever_the_dataset(dataset, version):
    names = run_names("prod", "bucket", f"datasets/{dataset}/train.jsonl", version)

    for name in (names.job_name, names.custom_model_name, names.provisioned_model_name, names.deployment_name):
        assert len(name) <= 63 and MODEL_NAME.match(name) and JOB_NAME.match(name), name
    assert EXECUTION_NAME.match(names.execution_name)
    assert TOKEN.match(names.client_token("job"))


def test_the_same_upload_gets_the_same_names_and_a_new_version_new_ones():
    again = run_names("dev", UPLOAD["bucket"], UPLOAD["key"], UPLOAD["versionId"])
    new_version = run_names("dev", UPLOAD["bucket"], UPLOAD["key"], "v2")

    assert again == NAMES
    assert new_version.job_name != NAMES.job_name and new_version.execution_name != NAMES.execution_name


# -- Notify -----------------------------------------------------------------------------------


def test_the_failure_notification_says_what_failed_and_where_to_look(clients):
    from notify import handler

    state = {
        "upload": UPLOAD,
        "validation": {**VALIDATION, "reportUri": "s3://data-bucket/reports/x"},
        "job": {"jobArn": JOB_ARN},
        "failure": {"Error": "JobFailed", "Cause": json.dumps({"errorMessage": "job failed: bad data on line 3"})},
    }
    clients["sns"].add_response(
        "publish", {"MessageId": "1"}, {"TopicArn": ENVIRONMENT["TOPIC_ARN"], "Subject": ANY, "Message": ANY}
    )

    outcome = handler.lambda_handler({"outcome": "failed", "state": state, "executionArn": "arn:exec:1"})
    from customization.notifications import compose

    text = compose("failed", state, "arn:exec:1", "dev", "us-east-1")
    assert outcome["subject"] == "[dev] Bedrock customization FAILED: email-classifier"
    assert "Failed with JobFailed:\njob failed: bad data on line 3" in text["message"]
    assert f"Customization job: {JOB_ARN}" in text["message"]
    assert "Validation report: s3://data-bucket/reports/x" in text["message"]
    assert (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:exec:1"
        in (text["message"])
    )


def test_the_success_notification_carries_model_serving_metrics_and_cost():
    from customization.notifications import compose

    state = {
        "upload": UPLOAD,
        "validation": {**VALIDATION, "dataset": {"name": "email-classifier"}},
        "job": {"jobArn": JOB_ARN},
        "result": {"customModelArn": MODEL_ARN, "trainingLoss": 0.1234},
        "serving": {"mode": "provisioned", "arn": PT_ARN},
    }

    text = compose("succeeded", state, "arn:exec:1", "prod", "us-east-1")

    assert text["subject"] == "[prod] Bedrock customization succeeded: email-classifier"
    for expected in (
        f"Custom model: {MODEL_ARN}",
        f"Serving (provisioned): {PT_ARN}",
        "training loss 0.1234",
        "Estimated cost: training ~$0.05",
        "bills every hour until it is deleted",
    ):
        assert expected in text["message"]


def test_log_lines_carry_the_execution_and_job_arns(clients, caplog):
    caplog.set_level("INFO", logger="customization")
    clients["bedrock"].add_response("create_model_customization_job", {"jobArn": JOB_ARN})

    _start(clients)

    [record] = [r for r in caplog.records if r.getMessage() == "customization job started"]
    assert (record.executionArn, record.jobArn) == ("arn:exec", JOB_ARN)


def test_a_url_encoded_key_in_the_event_is_read_as_the_key_s3_stores(clients):
    """S3 notifications encode keys ("Spam Filter" arrives as "Spam+Filter"): the run must use the real key."""
    from moto import mock_aws
    from start_run import handler

    real_key = "datasets/Spam Filter (v2)/train.jsonl"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data-bucket")
        s3.put_bucket_versioning(Bucket="data-bucket", VersioningConfiguration={"Status": "Enabled"})
        version = s3.put_object(Bucket="data-bucket", Key=real_key, Body=b"{}")["VersionId"]
        real_clients = {"stepfunctions": runtime.client("stepfunctions"), "s3": s3}
        runtime_client = runtime.client
        runtime.client = real_clients.__getitem__
        try:
            names = run_names("dev", "data-bucket", real_key, version)
            clients["stepfunctions"].add_response(
                "start_execution",
                {"executionArn": "arn:exec:2", "startDate": dt.datetime(2026, 11, 26)},
                {
                    "stateMachineArn": ENVIRONMENT["STATE_MACHINE_ARN"],
                    "name": names.execution_name,
                    "input": json.dumps(
                        {"upload": {"bucket": "data-bucket", "key": real_key, "versionId": version}}, sort_keys=True
                    ),
                },
            )

            outcome = handler.lambda_handler(_s3_event("datasets/Spam+Filter+%28v2%29/train.jsonl", version))
        finally:
            runtime.client = runtime_client

    assert outcome["started"] is True
    assert names.execution_name.startswith("Spam-Filter-v2-")
