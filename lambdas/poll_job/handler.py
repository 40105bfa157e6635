"""PollJob: the job's outcome, or JobStillRunning for the state machine to retry later."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.training import poll_job


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    result = poll_job(runtime.client("bedrock"), event["jobName"])
    # The dashboard's job-duration graph is a metric filter on this line (trainingHours).
    runtime.log(
        "customization job completed",
        jobArn=result["jobArn"],
        customModelArn=result["customModelArn"],
        trainingHours=result["trainingHours"],
    )
    return result
