"""Knowing the moment a job ends: the run waits for Bedrock's own event instead of polling.

The state machine's WaitForJob task gives a task token; the token is kept in the Coordination
table under the job's name (item `job#<jobName>`) until the job ends. Three callers then settle
it, all with the same code (`settle`), which reads the job's status itself with
`training.poll_job` rather than trusting an event's payload:
- the WaitForJob invocation, right after it keeps the token (a job that ended before the token
  was kept would otherwise wait for an event that already went by);
- Bedrock's "Model Customization Job State Change" event (best effort, near real time);
- the hourly backstop, for every token still kept, in case an event was lost.

A token that is settled, stale (its execution ended, was aborted, or timed out) or unknown is
forgotten and logged, never an error: duplicate and late events change nothing.

Why this table: it is the pipeline's one small DynamoDB table (see slots.py), encrypted with
the operations key, with conditional writes, TTL for what a lost run leaves, and room for a
task token (up to 2,048 characters). A token per running job: a handful of items at most.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from customization.bedrock_errors import BedrockRequestRejected, error_code
from customization.settings import required
from customization.training import JobFailed, JobStillRunning, JobStopped, poll_job

TOKEN_PREFIX = "job#"
# Step Functions' answers for a token nobody waits for any more.
STALE_TOKEN_ERRORS = ("TaskDoesNotExist", "InvalidToken", "TaskTimedOut")
# SendTaskFailure's limits (Step Functions API reference): error 256, cause 32,768 characters.
ERROR_LIMIT, CAUSE_LIMIT = 256, 32_768


@dataclass(frozen=True)
class WatchSettings:
    """limits.maxJobHours: how long a kept token may be needed (its TTL adds a day)."""

    max_job_hours: float

    def to_environment(self) -> dict[str, str]:
        return {"MAX_JOB_HOURS": str(self.max_job_hours)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> WatchSettings:
        return cls(max_job_hours=float(required(environ, "MAX_JOB_HOURS")))


def key(job_name: str) -> dict[str, Any]:
    return {"pk": {"S": f"{TOKEN_PREFIX}{job_name}"}}


def keep_token(dynamodb: Any, table: str, *, job_name: str, token: str, execution_arn: str, expires_at: int) -> None:
    """Keep the token the run waits on, under its job's name (a retried WaitForJob replaces it)."""
    dynamodb.put_item(
        TableName=table,
        Item={
            **key(job_name),
            "token": {"S": token},
            "jobName": {"S": job_name},
            "executionArn": {"S": execution_arn},
            # DynamoDB's TTL removes what a lost run leaves, after its time limit.
            "expiresAt": {"N": str(expires_at)},
        },
    )


def waiting_token(dynamodb: Any, table: str, job_name: str) -> str | None:
    item = dynamodb.get_item(TableName=table, Key=key(job_name), ConsistentRead=True).get("Item")
    return item["token"]["S"] if item else None


def waiting_jobs(dynamodb: Any, table: str) -> list[tuple[str, str]]:
    """(job name, token) of every run waiting for its job (the table holds a handful of items)."""
    found = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(pk, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": TOKEN_PREFIX}},
        ConsistentRead=True,
    ):
        found += [(item["jobName"]["S"], item["token"]["S"]) for item in page["Items"]]
    return found


def forget(dynamodb: Any, table: str, job_name: str, token: str | None = None) -> None:
    """Drop the job's token (only this one, when given: a newer one stays)."""
    condition = {}
    if token is not None:
        condition = {"ConditionExpression": "#t = :token", "ExpressionAttributeNames": {"#t": "token"}}
        condition["ExpressionAttributeValues"] = {":token": {"S": token}}
    try:
        dynamodb.delete_item(TableName=table, Key=key(job_name), **condition)
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise


def settle(bedrock: Any, sfn: Any, dynamodb: Any, table: str, job_name: str, token: str) -> dict[str, Any]:
    """Tell the waiting run how its job ended, if it has. Returns what was done:
    {"job": name, "outcome": "succeeded" | "failed" | "still running" | "stale", ...}.
    Raises BedrockThrottled when the status cannot be read now (the next event, retry or
    backstop tries again)."""
    try:
        result = poll_job(bedrock, job_name)
    except JobStillRunning as running:
        return {"job": job_name, "outcome": "still running", "status": str(running)}
    except (JobFailed, JobStopped, BedrockRequestRejected) as ended:
        # A job that failed or was stopped, or whose status this pipeline may not read: the run
        # fails, through its compensation (which stops a job that still trains).
        sent = _send(
            sfn,
            "send_task_failure",
            taskToken=token,
            error=type(ended).__name__[:ERROR_LIMIT],
            cause=str(ended)[:CAUSE_LIMIT],
        )
        outcome = {"job": job_name, "outcome": "failed" if sent else "stale", "error": type(ended).__name__}
    else:
        sent = _send(sfn, "send_task_success", taskToken=token, output=json.dumps(result))
        outcome = {"job": job_name, "outcome": "succeeded" if sent else "stale", "result": result}
    forget(dynamodb, table, job_name, token)
    return outcome


def _send(sfn: Any, operation: str, **request: Any) -> bool:
    """Send the task result; False when nobody waits for this token any more."""
    try:
        getattr(sfn, operation)(**request)
    except ClientError as error:
        if error_code(error) in STALE_TOKEN_ERRORS:
            return False
        raise
    return True
