"""ReadTrainingCurves: the completed job's loss curves, a diagnosis, curves.json and curves.svg."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.curves_step import read_curves

# The line docs/runbook.md tells operators to search for (one per run whose job completed).
CURVES_DIAGNOSED = "training curves diagnosed"


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    result = read_curves(runtime.client("s3"), event["state"])
    runtime.log(
        CURVES_DIAGNOSED,
        verdict=result["verdict"],
        summary=result["summary"],
        advice=result["advice"],
        reportUri=result.get("reportUri"),
        reportError=result.get("reportError"),
    )
    return result
