"""StopJob: when the pipeline lets go of a run, nothing it started keeps running or billing.

Two callers:
- the state machine's Compensate step, after any failure once a job may exist, and after the
  job's time limit (event: {"upload": ..., "reason": "failure"}): stop the job, delete the
  run's no-commitment serving; the state machine then gives back the slot and tells people;
- the abort guard, an EventBridge rule on executions that ended without finishing their own
  path (event: "Step Functions Execution Status Change"):
  - ABORTED or TIMED_OUT: the state machine can do nothing more, so the guard does all of it:
    stops the job, deletes the serving, gives back the slot and tells people;
  - FAILED: the run compensated and notified already; the guard only makes sure, in case its
    compensation could not finish, that the job does not train on and that the slot is free.
    It leaves serving alone: a run whose success notification failed ends FAILED with its
    promoted serving, which is the product;
  - SUCCEEDED: only the slot, in case ReleaseRunSlot could not give it back (a slot kept by an
    ended run would make every later run wait).

Everything is idempotent (a second call finds nothing left to do), and the job and serving are
found by their deterministic names.
"""

from __future__ import annotations

import json
from typing import Any

from customization import runtime
from customization.job_watch import forget
from customization.notifications import compose_abort, publish
from customization.serving import ServingPlan, delete_serving
from customization.settings import DeadLetterSettings, TopicSettings
from customization.slots import SlotSettings, release
from customization.sweep import run_jobs
from customization.training import stop_job

STATUS_CHANGE = "Step Functions Execution Status Change"
FAILED, SUCCEEDED = "FAILED", "SUCCEEDED"


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    if event.get("detail-type") == STATUS_CHANGE:
        return _after_execution_ended(event)
    upload = event["upload"]
    if event.get("variant") is not None:
        # A sweep's variant failed (its iteration's catch): stop its job only; the run goes on.
        outcome = _stop_variant(upload, event["variant"]["index"])
        runtime.log("stop job", **outcome)
        return outcome
    outcome = _stop_and_delete(upload, trigger=event.get("reason", "failure"))
    runtime.log("stop job", **outcome)
    return outcome


def _stop_and_delete(upload: dict[str, Any], *, trigger: str, delete: bool = True) -> dict[str, Any]:
    names = runtime.names_of(upload)
    bedrock = runtime.client("bedrock")
    # Nobody waits for this job any more: its late events and the backstop leave it alone.
    forget(runtime.client("dynamodb"), runtime.settings(SlotSettings).table_name, names.job_name)
    # Every job whose name carries the run's marker: its one job, or a sweep's `-v<n>` variants.
    listed = run_jobs(bedrock, names)
    outcome = {**stop_job(bedrock, names.job_name, listed), "trigger": trigger}
    variants = sorted({job["jobName"] for job in listed} - {names.job_name})
    for name in variants:
        forget(runtime.client("dynamodb"), runtime.settings(SlotSettings).table_name, name)
    if variants:
        outcome["variants"] = [stop_job(bedrock, name, listed) for name in variants]
    if delete:
        outcome["serving"] = delete_serving(bedrock, names, runtime.settings(ServingPlan))
    return outcome


def _stop_variant(upload: dict[str, Any], index: int) -> dict[str, Any]:
    name = runtime.names_of(upload).for_variant(index).job_name
    forget(runtime.client("dynamodb"), runtime.settings(SlotSettings).table_name, name)
    return {**stop_job(runtime.client("bedrock"), name), "trigger": f"variant {index} failed"}


def _after_execution_ended(event: dict[str, Any]) -> dict[str, Any]:
    detail = event["detail"]
    status = detail["status"]
    table = runtime.settings(SlotSettings).table_name
    if status == SUCCEEDED:
        slot = release(runtime.client("dynamodb"), table, detail["name"])
        runtime.log("slot given back", **slot)
        return slot
    upload = json.loads(detail["input"])["upload"]
    # Stop the job and delete the serving first: a slot that cannot be given back must not
    # keep anything training or billing.
    outcome = _stop_and_delete(upload, trigger=f"execution {status}", delete=status != FAILED)
    outcome.update(release(runtime.client("dynamodb"), table, detail["name"]))
    if status != FAILED:
        message = compose_abort(detail, upload, outcome, runtime.environment_name(), event.get("region", "us-east-1"))
        # What SNS refuses is kept in the dead-letter queue, and the error makes the event itself
        # a dead letter too: both raise the escalation alarm.
        publish(
            runtime.client("sns"),
            runtime.settings(TopicSettings).topic_arn,
            message,
            fallback=(runtime.client("sqs"), runtime.settings(DeadLetterSettings).queue_url),
            about=detail.get("executionArn", detail["name"]),
        )
        outcome["notified"] = message["subject"]
    runtime.log("stop job", **outcome)
    return outcome
