"""The Evaluate step: the served custom model and its base model answer the same sample of
validation records; the scores decide whether the custom model is promoted.

Reads the prepared validation file the job was given, writes `evaluation.json` and
`evaluation.md` beside the run's validation report, and returns the small summary the
state machine carries (and the notification shows).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from customization import layout
from customization.catalog import load_catalog
from customization.evaluation.cases import select_cases
from customization.evaluation.inference import InvocationRejected, OutOfTime, Request, converse_all
from customization.evaluation.scorecard import Comparison, markdown, report, score, token_prices
from customization.run_state import curves_of
from customization.settings import as_json, json_value


@dataclass(frozen=True)
class EvaluationSettings:
    """The environment's `evaluation` settings (cdk.json), as the stack passes them."""

    sample_size: int = 50
    metric: str = "exactMatch"
    min_improvement: float = 0.0
    delete_serving_when_not_promoted: bool = False
    concurrency: int = 4
    max_output_tokens: int = 512

    def to_environment(self) -> dict[str, str]:
        return {
            "EVALUATION": as_json(
                {
                    "sampleSize": self.sample_size,
                    "metric": self.metric,
                    "minImprovement": self.min_improvement,
                    "deleteServingWhenNotPromoted": self.delete_serving_when_not_promoted,
                    "concurrency": self.concurrency,
                    "maxOutputTokens": self.max_output_tokens,
                }
            )
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> EvaluationSettings:
        value = json_value(environ, "EVALUATION")
        return cls(
            sample_size=int(value["sampleSize"]),
            metric=value["metric"],
            min_improvement=float(value["minImprovement"]),
            delete_serving_when_not_promoted=bool(value["deleteServingWhenNotPromoted"]),
            concurrency=int(value["concurrency"]),
            max_output_tokens=int(value["maxOutputTokens"]),
        )


def skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "promoted": None, "reason": reason}


# Why a run has no validation records to score the models on, and what to do, per method.
_NO_VALIDATION_RECORDS = {
    "DISTILLATION": (
        "a distillation run trains on prompts and the teacher's answers, and takes no validation records to score "
        "against: ask the student and its teacher yourself with python -m tools invoke"
    ),
    "REINFORCEMENT_FINE_TUNING": (
        "a reinforcement fine-tuning run is judged by its grader's reward during training (the job's metrics in the "
        "Bedrock console), not on validation records: try the model with python -m tools invoke"
    ),
}


def _no_validation_records(customization_type: str) -> str:
    return _NO_VALIDATION_RECORDS.get(
        customization_type,
        "the run has no validation records: upload validation.jsonl or set validationSplit (0.1 to 0.2)",
    )


def evaluate(
    s3: Any,
    runtime: Any,
    state: dict[str, Any],
    settings: EvaluationSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Compare the run's served model with its base model; `state` is the execution's state.

    `deadline` (`time.perf_counter` scale): when the answers must be in, so that the step
    fails with its reason rather than being cut off by the function's timeout."""
    validation, serving = state["validation"], state["serving"]
    run_settings = validation["settings"]
    model = load_catalog().model(run_settings["baseModel"])
    data_format = model.data_formats[run_settings["customizationType"]]
    validation_uri = (validation.get("prepared") or {}).get("validationUri")
    if validation_uri is None:
        return skipped(_no_validation_records(run_settings["customizationType"]))
    bucket, key = validation_uri.removeprefix("s3://").split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    # Large chunks: reading a long record in botocore's default 1 KB chunks is quadratic.
    selection = select_cases(body.iter_lines(chunk_size=1 << 20), data_format, settings.sample_size)
    if not selection.cases:
        reasons = "; ".join(f"{n} record(s): {reason}" for reason, n in selection.skipped.items())
        return skipped(f"no validation record can be compared ({reasons or 'the file is empty'})")

    custom_answers, base_answers = _ask_both(runtime, selection.cases, model, serving["arn"], settings, sleep, deadline)
    custom_prices, custom_note = token_prices(model, serving.get("mode"))
    base_prices, base_note = token_prices(model, None)
    comparison = Comparison(
        metric=settings.metric,
        min_improvement=settings.min_improvement,
        custom=score(serving["arn"], selection.cases, custom_answers, custom_prices, custom_note),
        base=score(model.invocation.model_id, selection.cases, base_answers, base_prices, base_note),
        records=len(selection.cases),
    )
    dataset = validation["dataset"]
    context = {
        "dataset": dataset["name"],
        "upload": {k: dataset.get(k) for k in ("bucket", "key", "versionId")},
        "baseModel": model.id,
        "validationUri": validation_uri,
        "sampleSize": settings.sample_size,
        "skipped": selection.skipped,
        "servingAction": _serving_action(comparison.promoted, serving, settings),
        # The job's training curves, diagnosed by ReadTrainingCurves before serving.
        "curves": curves_of(state) or None,
        # Re-fine-tuning: the run and model this one trained on top of (the base stays the foundation model).
        "lineage": validation.get("lineage"),
        # A hyperparameter sweep's table (SelectWinner): this model is its winner.
        "sweep": state.get("sweep"),
    }
    evaluation = report(comparison, context, selection.cases, custom_answers, base_answers)
    report_uri, markdown_uri = _write_reports(s3, validation["reportUri"], evaluation)
    return {
        "status": "evaluated",
        "promoted": comparison.promoted,
        "metric": comparison.metric,
        "improvement": comparison.improvement,
        "minImprovement": comparison.min_improvement,
        "records": comparison.records,
        "headline": comparison.headline(),
        "custom": _brief(comparison.custom),
        "base": _brief(comparison.base),
        "servingAction": context["servingAction"],
        "reportUri": report_uri,
        "markdownUri": markdown_uri,
    }


def _ask_both(runtime, cases, model, serving_arn: str, settings: EvaluationSettings, sleep, deadline):
    """(the custom model's answers, the base model's answers), in the order of `cases`."""

    def requests(model_id: str) -> list[Request]:
        return [
            Request(model_id=model_id, max_tokens=settings.max_output_tokens, **_converse_parts(case, model))
            for case in cases
        ]

    # Interleaved, so that both models see the same load over the same minutes.
    asked = [r for pair in zip(requests(serving_arn), requests(model.invocation.model_id), strict=True) for r in pair]
    try:
        answers = converse_all(runtime, asked, concurrency=settings.concurrency, sleep=sleep, deadline=deadline)
    except OutOfTime as error:
        raise OutOfTime(
            f"the evaluation could not finish in its function's time ({error}): lower evaluation.sampleSize "
            "or evaluation.maxOutputTokens, or raise evaluation.concurrency"
        ) from None
    custom, base = answers[0::2], answers[1::2]
    for model_id, model_answers in ((serving_arn, custom), (model.invocation.model_id, base)):
        _refuse_a_mostly_rejected_model(model_id, model_answers)
    return custom, base


def _write_reports(s3: Any, validation_report_uri: str, evaluation: dict[str, Any]) -> tuple[str, str]:
    """evaluation.json and evaluation.md beside the run's validation report; their URIs."""
    bucket, report_key = validation_report_uri.removeprefix("s3://").split("/", 1)
    folder = report_key.rsplit("/", 1)[0] + "/"
    uris = []
    for file_name, body, content_type in (
        (layout.EVALUATION_REPORT, json.dumps(evaluation, indent=2), "application/json"),
        (layout.EVALUATION_PAGE, markdown(evaluation), "text/markdown; charset=utf-8"),
    ):
        key = folder + file_name
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType=content_type)
        uris.append(f"s3://{bucket}/{key}")
    return uris[0], uris[1]


def _refuse_a_mostly_rejected_model(model_id: str, answers: list) -> None:
    """A few refused requests are wrong answers; most of them mean the comparison is void."""
    rejected = [answer.error for answer in answers if answer.error]
    if len(rejected) * 2 > len(answers):
        raise InvocationRejected(
            f"{model_id}: the runtime refused {len(rejected)} of {len(answers)} requests, e.g. {rejected[0]}; "
            "check evaluation.maxOutputTokens against the model's output limit"
        )


def _converse_parts(case, model) -> dict[str, Any]:
    request = case.converse_request(model.invocation.system_prompts)
    return {"system": request.get("system", []), "messages": request["messages"]}


def _serving_action(promoted: bool, serving: dict[str, Any], settings: EvaluationSettings) -> str:
    if promoted:
        return "kept: the model is promoted"
    if not settings.delete_serving_when_not_promoted:
        return "kept (evaluation.deleteServingWhenNotPromoted is false): it bills until someone deletes it"
    if not serving.get("deletable", True):
        return "kept: committed throughput cannot be deleted before its term ends"
    return "to be deleted by the next step (evaluation.deleteServingWhenNotPromoted); the notification confirms it"


def _brief(model_score) -> dict[str, Any]:
    return {
        "exactMatch": model_score.exact_match,
        "tokenF1": model_score.token_f1,
        "latencyP50Ms": model_score.latency_p50_ms,
        "latencyP95Ms": model_score.latency_p95_ms,
        "costUsd": model_score.cost_usd,
    }
