"""EvaluateModel: the served custom model against its base model, on validation records."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.comparison import EvaluationSettings, evaluate


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    settings = EvaluationSettings.from_variable(runtime.json_variable("EVALUATION"))
    result = evaluate(
        runtime.client("s3"), runtime.client("bedrock-runtime"), event["state"], settings, sleep=runtime.sleep
    )
    # The dashboard counts promoted and not-promoted models from this line.
    runtime.log("model evaluated", **{k: v for k, v in result.items() if k in ("status", "promoted", "headline")})
    return result
