"""A hyperparameter sweep's end: SelectWinner picks the variant to serve and evaluate.

Each variant of the run's Map trained, waited and read its curves on its own; a variant that
failed records its error instead (its job was stopped). The winner is the variant with the
lowest validation loss (evaluation.sweepMetric: `validationLoss`, the job's final one, or
`bestValidationLoss`, the lowest on its curve) among those that completed; it takes the place
of the single job in the run's state (`job`, `result`, `curves`), so serving, evaluation and
the reports go on as for any run. The losers' custom models are deleted unless job.json says
`keepSweepModels`: nobody serves them, and each one bills storage every month.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from customization.bedrock_errors import error_code, translated_error
from customization.naming import RunNames

VALIDATION_LOSS = "validationLoss"
BEST_VALIDATION_LOSS = "bestValidationLoss"
METRICS = (VALIDATION_LOSS, BEST_VALIDATION_LOSS)
# The most variants any environment may sweep (limits.maxSweepVariants' upper bound, stacks.config).
MAX_VARIANTS = 20


class NoVariantSucceeded(Exception):
    """Every variant of the sweep failed (or none reported the metric): the run compensates."""


@dataclass(frozen=True)
class SweepSettings:
    metric: str = VALIDATION_LOSS

    def to_environment(self) -> dict[str, str]:
        return {"SWEEP_METRIC": self.metric}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SweepSettings:
        return cls(metric=environ.get("SWEEP_METRIC", VALIDATION_LOSS))


def select_winner(bedrock: Any, state: dict[str, Any], metric: str = VALIDATION_LOSS) -> dict[str, Any]:
    """The run's state with the winner in place of the single job, and the sweep's table."""
    outcomes = sorted(state.get("sweep") or [], key=lambda outcome: outcome["variant"]["index"])
    rows = [_row(outcome, metric) for outcome in outcomes]
    ranked = [row for row in rows if row["score"] is not None]
    if not ranked:
        reasons = "; ".join(f"v{row['variant']}: {row['error'] or 'no ' + metric}" for row in rows)
        raise NoVariantSucceeded(f"no variant of the sweep completed with a {metric} ({reasons})")
    winner = min(ranked, key=lambda row: (row["score"], row["variant"]))
    keep = bool((state.get("validation") or {}).get("settings", {}).get("keepSweepModels"))
    for row, outcome in zip(rows, outcomes, strict=True):
        row["winner"] = row is winner
        arn = (outcome.get("result") or {}).get("customModelArn")
        if row is not winner and arn:
            row["customModel"] = "kept (keepSweepModels)" if keep else _delete_model(bedrock, arn)
        del row["score"]
    chosen = outcomes[rows.index(winner)]
    # The Map's raw outcomes are replaced by the table: the state stays small.
    return {
        **{key: value for key, value in state.items() if key != "sweep"},
        "job": chosen["job"],
        "result": chosen["result"],
        "curves": chosen.get("curves") or {},
        "sweep": {"metric": metric, "winner": winner["variant"], "variants": rows},
    }


def run_jobs(bedrock: Any, names: RunNames) -> list[dict[str, Any]]:
    """The run's jobs as Bedrock lists them: its one job, or a sweep's variants (`-v<n>`), by
    their exact names only (a job of another run whose name contains ours is not one of ours).
    Listed rather than fetched, as training.find_job explains."""
    ours = {names.job_name, *(names.for_variant(n).job_name for n in range(1, MAX_VARIANTS + 1))}
    found = []
    try:
        for page in bedrock.get_paginator("list_model_customization_jobs").paginate(nameContains=names.job_marker):
            found += [job for job in page["modelCustomizationJobSummaries"] if job["jobName"] in ours]
    except ClientError as error:
        raise translated_error(error) from None
    return found


def run_models(bedrock: Any, names: RunNames) -> dict[str, str]:
    """The run's custom models as Bedrock lists them, ARN -> name: its job's, or the models a
    sweep's variants left (`-v<n>`: the winner's, and the others' with keepSweepModels), by
    their exact names only, as run_jobs finds its jobs."""
    ours = {names.custom_model_name, *(names.for_variant(n).custom_model_name for n in range(1, MAX_VARIANTS + 1))}
    found: dict[str, str] = {}
    try:
        for page in bedrock.get_paginator("list_custom_models").paginate(nameContains=names.run_id):
            found.update(
                {
                    model["modelArn"]: model["modelName"]
                    for model in page["modelSummaries"]
                    if model["modelName"] in ours
                }
            )
    except ClientError as error:
        raise translated_error(error) from None
    return found


def _row(outcome: dict[str, Any], metric: str) -> dict[str, Any]:
    variant, result, curves = outcome["variant"], outcome.get("result") or {}, outcome.get("curves") or {}
    failure = outcome.get("failure")
    final, best = result.get("validationLoss"), curves.get("bestValidationLoss")
    score = None if failure else (final if metric == VALIDATION_LOSS else best)
    if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
        score = None
    return {
        "variant": variant["index"],
        "hyperParameters": variant.get("sweep") or variant.get("hyperParameters"),
        "jobName": variant.get("jobName"),
        "finalValidationLoss": final,
        "bestValidationLoss": best,
        "verdict": curves.get("verdict") if not failure else "failed",
        "error": _error(failure) if failure else None,
        "score": score,
    }


def _error(failure: dict[str, Any]) -> str:
    cause = str(failure.get("Cause") or "")
    return f"{failure.get('Error')}: {cause[:300]}" if cause else str(failure.get("Error"))


def _delete_model(bedrock: Any, arn: str) -> str:
    try:
        bedrock.delete_custom_model(modelIdentifier=arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return "deleted"  # a retry of this step: the model went the first time
        raise translated_error(error) from None
    return "deleted"


def table(sweep: dict[str, Any] | None) -> list[str]:
    """The sweep as Markdown lines, for the evaluation report, the notification and `status`."""
    # Before SelectWinner (a run that failed in its Map) the state holds the Map's raw outcomes.
    if not isinstance(sweep, dict) or not sweep.get("variants"):
        return []
    lines = [
        f"Sweep: {len(sweep['variants'])} variants, winner v{sweep['winner']} (lowest {sweep['metric']})",
        "",
        "| Variant | Hyperparameters | Final validation loss | Best validation loss | Verdict | Winner |",
        "|---|---|---|---|---|---|",
    ]
    for row in sweep["variants"]:
        params = ", ".join(f"{name}={value}" for name, value in (row.get("hyperParameters") or {}).items())
        verdict = row.get("verdict") or "-"
        if row.get("error"):
            verdict = f"failed ({row['error'][:120]})"
        elif row.get("customModel"):
            verdict = f"{verdict}; model {row['customModel']}"
        lines.append(
            f"| v{row['variant']} | {params} | {_loss(row.get('finalValidationLoss'))} | "
            f"{_loss(row.get('bestValidationLoss'))} | {verdict} | {'yes' if row.get('winner') else ''} |"
        )
    return lines


def _loss(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"
