"""DeleteServing: delete the no-commitment throughput or deployment of a model that was not
promoted (DeleteServingNotPromoted). After a failure, Compensate (StopJob) deletes it instead."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.serving import ServingPlan, delete_serving


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    upload = event["upload"]
    names = runtime.names_of(upload)
    outcome = delete_serving(runtime.client("bedrock"), names, runtime.settings(ServingPlan))
    runtime.log("serving cleanup", **outcome)
    return outcome
