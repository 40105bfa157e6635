"""SafetyNet (scheduled, hourly, where the environment asks for it): deletes no-commitment
throughput and on-demand deployments that this environment's runs created once they are
older than serving.timeToLiveHours, and warns an hour before. Nothing forgotten in dev keeps
billing for weeks; committed throughput and custom models are never touched.

One deletion that fails does not stop the others (the same sweep as `tools cleanup`); the
notification names it, and the function then fails so that its alarm fires and EventBridge
tries again."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from customization import runtime
from customization.inventory import SafetyNetSettings, billables, sweep
from customization.notifications import publish, subject
from customization.settings import DeadLetterSettings, TopicSettings

WARNING_HOURS = 1.0


class ServingNotDeleted(Exception):
    """At least one item past its time to live could not be deleted; the others were."""


def lambda_handler(event: dict[str, Any], context: Any = None, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    ttl = runtime.settings(SafetyNetSettings).time_to_live_hours
    environment = runtime.environment_name()
    bedrock = runtime.client("bedrock")
    serving = [item for item in billables(bedrock, environment, now) if item.serving]
    result = sweep(bedrock, serving, now, older_than_hours=ttl, warning_hours=WARNING_HOURS)

    def entry(item) -> str:
        return f"{item.kind} {item.name} ({item.age_hours(now):.0f} h old, {item.cost})"

    outcome = {
        "deleted": [entry(item) for item in result.deleted],
        "warned": [entry(item) for item in result.due],
        "failed": [f"{entry(item)}: {reason}" for item, reason in result.failed],
    }
    if any(outcome.values()):
        lines = [f"Environment {environment}: serving lives at most {ttl:g} h (serving.timeToLiveHours)."]
        lines += [f"Deleted: {text}" for text in outcome["deleted"]]
        lines += [f"Will be deleted within the hour: {text}" for text in outcome["warned"]]
        lines += [f"COULD NOT DELETE, still billing: {text}" for text in outcome["failed"]]
        if outcome["failed"]:
            lines.append(f"See what still bills, and delete it: python -m tools cleanup --env {environment}")
        failed = f", {len(result.failed)} FAILED" if result.failed else ""
        title = f"[{environment}] Bedrock safety net: {len(result.deleted)} deleted, {len(result.due)} due{failed}"
        # Refused by SNS, the message is kept in the dead-letter queue and the run of the sweep fails.
        publish(
            runtime.client("sns"),
            runtime.settings(TopicSettings).topic_arn,
            {"subject": subject(title), "message": "\n".join(lines)},
            fallback=(runtime.client("sqs"), runtime.settings(DeadLetterSettings).queue_url),
            about=f"safety net of {environment}",
        )
    runtime.log(
        "safety net",
        deleted=len(result.deleted),
        warned=len(result.due),
        failed=len(result.failed),
        region=os.environ.get("AWS_REGION"),
    )
    if result.failed:
        raise ServingNotDeleted("; ".join(outcome["failed"]))
    return outcome
