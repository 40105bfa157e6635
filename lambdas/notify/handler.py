"""Notify: publishes the run's outcome to the environment's topic.

A notification that cannot be published is not lost, and not silent: its text goes to the
dead-letter queue (whose alarm, like this function's errors alarm, goes to the escalation
topic, not this one), and the function fails, so the run ends in NotificationFailed.
"""

from __future__ import annotations

import os
from typing import Any

from customization import runtime
from customization.log_events import NOTIFICATION_SENT
from customization.notifications import compose, publish
from customization.run_state import training_cost_usd
from customization.settings import DeadLetterSettings, TopicSettings


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    message = compose(
        event["outcome"],
        event["state"],
        event["executionArn"],
        runtime.environment_name(),
        os.environ.get("AWS_REGION", "us-east-1"),
    )
    publish(
        runtime.client("sns"),
        runtime.settings(TopicSettings).topic_arn,
        message,
        fallback=(runtime.client("sqs"), runtime.settings(DeadLetterSettings).queue_url),
        about=event["executionArn"],
    )
    runtime.log(NOTIFICATION_SENT, outcome=event["outcome"], estimatedTrainingUsd=training_cost_usd(event["state"]))
    return {"outcome": event["outcome"], "subject": message["subject"]}
