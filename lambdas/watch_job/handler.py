"""WatchJob: everything that learns how a customization job ended, for the run that waits.

Three kinds of events, one way of settling (customization.job_watch):
- from the state machine's WaitForJob task, with a task token: keep the token under the job's
  name, then look at the job once (it may have ended already);
- Bedrock's "Model Customization Job State Change" event for this environment's jobs (the rule
  matches the customization role): settle the run that waits for that job, if any;
- the hourly backstop (a scheduled event): settle every run still waiting, in case an event
  was lost.
"""

from __future__ import annotations

import time
from typing import Any

from customization import runtime
from customization.bedrock_errors import BedrockThrottled
from customization.job_watch import WatchSettings, keep_token, settle, waiting_jobs, waiting_token
from customization.log_events import JOB_COMPLETED
from customization.slots import SlotSettings

JOB_STATE_CHANGE = "Model Customization Job State Change"
# A kept token outlives the job's time limit by a day, then DynamoDB's TTL removes it.
TOKEN_GRACE_SECONDS = 24 * 3600


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    table = runtime.settings(SlotSettings).table_name
    clients = (runtime.client("bedrock"), runtime.client("stepfunctions"), runtime.client("dynamodb"))
    if "taskToken" in event:
        return _wait(event, table, clients)
    if event.get("detail-type") == JOB_STATE_CHANGE:
        job_name = event["detail"]["jobName"]
        token = waiting_token(clients[2], table, job_name)
        if token is None:
            # Told already (a duplicate), or no run waits any more (aborted, timed out).
            runtime.log(
                "job event ignored: no run waits for this job", job=job_name, status=event["detail"].get("jobStatus")
            )
            return {"job": job_name, "outcome": "nobody waits"}
        return _settled(*clients, table, job_name, token)
    return _backstop(table, clients)


def _wait(event: dict[str, Any], table: str, clients: tuple) -> dict[str, Any]:
    job_name = event["jobName"]
    hours = runtime.settings(WatchSettings).max_job_hours
    keep_token(
        clients[2],
        table,
        job_name=job_name,
        token=event["taskToken"],
        execution_arn=event.get("executionArn", ""),
        expires_at=int(time.time() + hours * 3600 + TOKEN_GRACE_SECONDS),
    )
    try:
        return _settled(*clients, table, job_name, event["taskToken"])
    except BedrockThrottled as throttled:
        # The event or the backstop will tell; the token is kept.
        runtime.log("first look at the job throttled", job=job_name, error=str(throttled))
        return {"job": job_name, "outcome": "still running"}


def _backstop(table: str, clients: tuple) -> dict[str, Any]:
    outcomes, throttled = [], []
    for job_name, token in waiting_jobs(clients[2], table):
        try:
            outcomes.append(_settled(*clients, table, job_name, token))
        except BedrockThrottled as error:
            throttled.append(f"{job_name}: {error}")
    runtime.log(
        "backstop",
        waiting=len(outcomes) + len(throttled),
        settled=[o["job"] for o in outcomes if o["outcome"] != "still running"],
    )
    if throttled:
        # The others were settled; this run of the backstop fails so that EventBridge retries it.
        raise BedrockThrottled("; ".join(throttled))
    return {"outcomes": outcomes}


def _settled(bedrock: Any, sfn: Any, dynamodb: Any, table: str, job_name: str, token: str) -> dict[str, Any]:
    outcome = settle(bedrock, sfn, dynamodb, table, job_name, token)
    if outcome["outcome"] == "succeeded":
        runtime.log(JOB_COMPLETED, **{field: outcome["result"][field] for field in JOB_COMPLETED.fields})
    elif outcome["outcome"] != "still running":
        runtime.log("job settled", **{k: v for k, v in outcome.items() if k != "result"})
    return outcome
