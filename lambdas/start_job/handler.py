"""StartCustomizationJob: the cost guard, then the Bedrock job, idempotent per upload."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.training import JobEnvironment, start_job


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    upload = event["upload"]
    names = runtime.names_of(upload)
    job = start_job(runtime.client("bedrock"), names, event["validation"], runtime.settings(JobEnvironment))
    runtime.log("customization job started", jobArn=job["jobArn"], alreadyStarted=job["alreadyStarted"])
    return job
