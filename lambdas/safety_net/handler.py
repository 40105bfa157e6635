"""SafetyNet (scheduled, hourly, where the environment asks for it): deletes no-commitment
throughput and on-demand deployments that this environment's runs created once they are
older than serving.timeToLiveHours, and warns an hour before. Nothing forgotten in dev keeps
billing for weeks; committed throughput and custom models are never touched."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from customization import runtime
from customization.inventory import billables, delete

WARNING_HOURS = 1.0


def lambda_handler(event: dict[str, Any], context: Any = None, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    ttl = float(runtime.variable("SERVING_TTL_HOURS"))
    bedrock = runtime.client("bedrock")
    deleted, warned = [], []
    for item in billables(bedrock, runtime.environment_name(), now):
        if item.kind == "custom model" or not item.deletable:
            continue
        age_hours = item.age_days(now) * 24
        if age_hours >= ttl:
            delete(bedrock, item)
            deleted.append(f"{item.kind} {item.name} ({age_hours:.0f} h old, {item.cost})")
        elif age_hours >= ttl - WARNING_HOURS:
            warned.append(f"{item.kind} {item.name} ({age_hours:.0f} h old, {item.cost})")
    if deleted or warned:
        lines = [
            f"Environment {runtime.environment_name()}: serving lives at most {ttl:g} h (serving.timeToLiveHours)."
        ]
        lines += [f"Deleted: {entry}" for entry in deleted]
        lines += [f"Will be deleted within the hour: {entry}" for entry in warned]
        subject = f"[{runtime.environment_name()}] Bedrock safety net: {len(deleted)} deleted, {len(warned)} due"
        runtime.client("sns").publish(
            TopicArn=runtime.variable("TOPIC_ARN"), Subject=subject[:100], Message="\n".join(lines)
        )
    runtime.log("safety net", deleted=len(deleted), warned=len(warned), region=os.environ.get("AWS_REGION"))
    return {"deleted": deleted, "warned": warned}
