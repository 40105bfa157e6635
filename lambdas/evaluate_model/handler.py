"""EvaluateModel: the served custom model against its base model, on validation records."""

from __future__ import annotations

import time
from typing import Any

from customization import runtime
from customization.evaluation.step import EvaluationSettings, evaluate
from customization.log_events import MODEL_EVALUATED

REPORT_SECONDS = 60


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    settings = runtime.settings(EvaluationSettings)
    result = evaluate(
        runtime.client("s3"),
        runtime.client("bedrock-runtime"),
        event["state"],
        settings,
        sleep=runtime.sleep,
        deadline=_deadline(context),
    )
    runtime.log(MODEL_EVALUATED, **{field: result.get(field) for field in MODEL_EVALUATED.fields})
    return result


def _deadline(context: Any) -> float | None:
    """When the answers must be in: the function's own end, less a minute to write the reports."""
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return None
    return time.perf_counter() + context.get_remaining_time_in_millis() / 1000 - REPORT_SECONDS
