"""SelectWinner: the end of a hyperparameter sweep (customization.sweep). Thin: the winner in
place of the single job, the losers' custom models deleted unless keepSweepModels."""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.sweep import SweepSettings, select_winner


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    state = select_winner(runtime.client("bedrock"), event["state"], runtime.settings(SweepSettings).metric)
    runtime.log("sweep winner chosen", **state["sweep"])
    return state
