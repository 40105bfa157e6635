"""PollJob: the job's outcome, or JobStillRunning for the state machine to retry later."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.log_events import JOB_COMPLETED
from customization.training import poll_job


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    result = poll_job(runtime.client("bedrock"), event["jobName"])
    runtime.log(JOB_COMPLETED, **{field: result[field] for field in JOB_COMPLETED.fields})
    return result
