"""Notify: publishes the run's outcome to the environment's topic."""

from __future__ import annotations

import os
from typing import Any

from customization import runtime
from customization.log_events import NOTIFICATION_SENT
from customization.notifications import compose
from customization.run_state import training_cost_usd
from customization.settings import TopicSettings


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
        TopicArn=runtime.settings(TopicSettings).topic_arn, Subject=message["subject"], Message=message["message"]
    )
    runtime.log(NOTIFICATION_SENT, outcome=event["outcome"], estimatedTrainingUsd=training_cost_usd(event["state"]))
    return {"outcome": event["outcome"], "subject": message["subject"]}
