"""PollServing: ready, Failed, or ServingNotReady for the state machine to retry later."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.serving import poll_serving


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    return poll_serving(runtime.client("bedrock"), event["serving"])
