"""The emulated Bedrock's side of distillation from invocation logs: it reads the logs as the
job's role, IAM deciding on the role's deployed policy (s3:prefix, s3:ResourceAccount), and a
job whose role may not read them, or whose filter matches nothing, fails with the reason."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import boto3
from moto import mock_aws

from customization import invocation_logs
from tools.local_run.bedrock import ACCOUNT, BedrockEmulator, SimulatedClock
from tools.local_run.runner import _log_reader

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/customization"
ALLOWED = {
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::logs-bucket/bedrock/*",
            "Condition": {"StringEquals": {"s3:ResourceAccount": ACCOUNT}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::logs-bucket",
            "Condition": {"StringEquals": {"s3:ResourceAccount": ACCOUNT}, "StringLike": {"s3:prefix": ["bedrock/*"]}},
        },
    ]
}


def _request(uri: str, filters: dict | None = None) -> dict:
    logs = {"s3Uri": uri, "usePromptResponse": False, **({"requestMetadataFilters": filters} if filters else {})}
    return {
        "jobName": "distill-from-logs",
        "customModelName": "distilled",
        "roleArn": ROLE,
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationType": "DISTILLATION",
        "customizationConfig": {
            "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": "amazon.nova-pro-v1:0"}}
        },
        "trainingDataConfig": {"invocationLogsConfig": invocation_logs.request_config(logs)},
        "outputDataConfig": {"s3Uri": "s3://out-bucket/jobs/"},
    }


def _job(request: dict) -> dict:
    clock = SimulatedClock(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC))
    emulator = BedrockEmulator(clock=clock, region=REGION, today=dt.date(2026, 11, 26))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="logs-bucket")
    lines = [{"requestMetadata": {"project": "support" if n % 3 else "other"}} for n in range(9)]
    body = gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())
    s3.put_object(Bucket="logs-bucket", Key="bedrock/AWSLogs/part.json.gz", Body=body)
    s3.put_object(Bucket="logs-bucket", Key="private/secrets.json", Body=b"{}\n")
    emulator.read_logs = _log_reader(s3, {ROLE: [ALLOWED]})
    seen: list[dict] = []
    emulator.on_logs = lambda job_name, logs: seen.append(logs)
    bedrock = emulator.client()
    bedrock.create_model_customization_job(**request)
    clock.advance(3600)
    job = bedrock.get_model_customization_job(jobIdentifier=request["jobName"])
    return {"status": job["status"], "failure": job.get("failureMessage"), "logs": seen}


@mock_aws
def test_the_job_reads_the_logs_its_role_may_read_and_keeps_what_the_filter_matches():
    job = _job(_request("s3://logs-bucket/bedrock/", {"equals": {"project": "support"}}))

    assert job["logs"] == [{"uri": "s3://logs-bucket/bedrock/", "read": 9, "prompts": 6, "usePromptResponse": False}]


@mock_aws
def test_logs_outside_the_roles_prefixes_fail_the_job_with_access_denied():
    job = _job(_request("s3://logs-bucket/private/"))

    assert job["status"] == "Failed"
    assert "Access denied reading the invocation logs at s3://logs-bucket/private/" in job["failure"]
    assert "s3:ListBucket" in job["failure"]


@mock_aws
def test_a_filter_that_matches_nothing_fails_the_job_with_the_reason():
    job = _job(_request("s3://logs-bucket/bedrock/", {"equals": {"project": "nobody"}}))

    assert job["status"] == "Failed"
    assert "match the request metadata filters (9 read): nothing to distill from" in job["failure"]


def test_invocation_logs_are_refused_for_fine_tuning_as_bedrock_refuses_them():
    clock = SimulatedClock(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC))
    emulator = BedrockEmulator(clock=clock, region=REGION, today=dt.date(2026, 11, 26))
    request = {**_request("s3://logs-bucket/bedrock/"), "customizationType": "FINE_TUNING"}
    del request["customizationConfig"]

    status, body = emulator._handle("CreateModelCustomizationJob", request)

    assert status == 400 and "invocationLogsConfig is supported for DISTILLATION only" in body["Error"]["Message"]
