"""StopJob: stops the run's Bedrock job (and deletes its serving) when the pipeline lets go.

Two callers: the state machine, when the job runs past the environment's time limit
(event: {"upload": ...}); and an EventBridge rule on executions that were aborted or timed
out (event: "Step Functions Execution Status Change"), so that stopping an execution
never leaves a job training, and billing, on its own.
"""

from __future__ import annotations

import json
from typing import Any

from customization import runtime
from customization.serving import ServingPlan, delete_serving
from customization.training import stop_job


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    if event.get("detail-type") == "Step Functions Execution Status Change":
        upload = json.loads(event["detail"]["input"])["upload"]
        trigger = f"execution {event['detail']['status']}"
    else:
        upload, trigger = event["upload"], "time limit"
    names = runtime.names_of(upload)
    bedrock = runtime.client("bedrock")
    outcome = {**stop_job(bedrock, names.job_name), "trigger": trigger}
    if trigger != "time limit":
        # Aborted or timed out anywhere, serving setup included: nothing may keep billing.
        outcome["serving"] = delete_serving(bedrock, names, runtime.settings(ServingPlan))
    runtime.log("stop job", **outcome)
    return outcome
