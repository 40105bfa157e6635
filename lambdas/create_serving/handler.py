"""CreateServing: provisioned throughput or an on-demand deployment, per the environment."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.serving import ServingPlan, create_serving


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    upload = event["upload"]
    names = runtime.names_of(upload)
    serving = create_serving(runtime.client("bedrock"), names, event["customModelArn"], runtime.settings(ServingPlan))
    runtime.log("serving requested", servingArn=serving["arn"], mode=serving["mode"])
    return serving
