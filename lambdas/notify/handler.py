"""Notify: publishes the run's outcome to the environment's topic."""

from __future__ import annotations

import os
from typing import Any

from customization import runtime
from customization.notifications import compose


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    message = compose(
        event["outcome"],
        event["state"],
        event["executionArn"],
        runtime.environment_name(),
        os.environ.get("AWS_REGION", "us-east-1"),
    )
    runtime.client("sns").publish(
        TopicArn=runtime.variable("TOPIC_ARN"), Subject=message["subject"], Message=message["message"]
    )
    cost = ((event["state"].get("validation") or {}).get("cost") or {}).get("training_usd")
    # The dashboard's spend graph is a metric filter on this line (estimatedTrainingUsd).
    runtime.log("notification sent", outcome=event["outcome"], estimatedTrainingUsd=cost)
    return {"outcome": event["outcome"], "subject": message["subject"]}
