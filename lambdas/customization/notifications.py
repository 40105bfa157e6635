"""The e-mails people get: what ran, what it produced, what it costs, and what to do next."""

from __future__ import annotations

import json
from typing import Any

from customization.run_state import (
    CLEANUP,
    EVALUATION,
    FAILURE,
    JOB,
    RESULT,
    RETIRED,
    SERVING,
    UPLOAD,
    VALIDATION,
    part,
    serving_deleted,
)
from customization.serving import PROVISIONED

SUBJECT_LIMIT = 100  # SNS rejects longer e-mail subjects


def console_link(region: str, execution_arn: str) -> str:
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def compose(outcome: str, state: dict[str, Any], execution_arn: str, environment: str, region: str) -> dict[str, str]:
    """Subject and body for a run that `succeeded` or `failed`; any part of `state` may be missing."""
    upload, validation, job = part(state, UPLOAD), part(state, VALIDATION), part(state, JOB)
    result, serving, evaluation = part(state, RESULT), part(state, SERVING), part(state, EVALUATION)
    retired = part(state, RETIRED)
    dataset = (validation.get("dataset") or {}).get("name") or upload.get("key", "?")
    lines = [
        f"Environment: {environment}",
        f"Dataset: s3://{upload.get('bucket', '?')}/{upload.get('key', '?')} (version {upload.get('versionId')})",
    ]
    if validation:
        records = validation.get("records") or {}
        lines.append(
            f"Records: {records.get('train', 0):,} training, {records.get('validation', 0):,} validation; "
            f"base model {(validation.get('settings') or {}).get('baseModel')}"
        )
    if job.get("jobArn"):
        lines.append(f"Customization job: {job['jobArn']}")
    if result.get("customModelArn"):
        lines.append(f"Custom model: {result['customModelArn']}")
        losses = [
            f"{name} {result[key]:.4f}"
            for name, key in (("training loss", "trainingLoss"), ("validation loss", "validationLoss"))
            if isinstance(result.get(key), int | float)
        ]
        if losses:
            lines.append("Metrics: " + ", ".join(losses))
    if serving.get("arn"):
        lines.append(f"Serving ({serving.get('mode')}): {serving['arn']}")
    if outcome == "succeeded":
        lines += _evaluation_lines(evaluation, serving, retired)
    cost = validation.get("cost") or {}
    if cost:
        lines.append(_cost_line(cost))
    if outcome == "failed":
        failure = part(state, FAILURE)
        lines += ["", f"Failed with {failure.get('Error', 'an error')}:", cause_message(failure.get("Cause"))]
        if part(state, CLEANUP):
            lines.append(f"Cleanup: {_cleanup(part(state, CLEANUP))}")
        if serving.get("arn") and not serving_deleted(state):
            lines.append(
                f"The serving above was kept and bills until deleted: python -m tools cleanup --env {environment}"
            )
        if validation.get("reportUri"):
            lines.append(f"Validation report: {validation['reportUri']}")
    if serving.get("mode") == PROVISIONED and serving.get("arn") and not serving_deleted(state):
        lines += ["", "Provisioned throughput bills every hour until it is deleted."]
    lines += ["", f"Execution: {console_link(region, execution_arn)}"]
    verb = "succeeded" if outcome == "succeeded" else "FAILED"
    if outcome == "succeeded" and evaluation.get("promoted") is not None:
        verb = "succeeded, model promoted" if evaluation["promoted"] else "done, model NOT promoted"
    subject = f"[{environment}] Bedrock customization {verb}: {dataset}"
    return {"subject": subject[:SUBJECT_LIMIT], "message": "\n".join(lines)}


def _evaluation_lines(evaluation: dict[str, Any], serving: dict[str, Any], retired: dict[str, Any]) -> list[str]:
    if not serving.get("arn"):
        return ["Evaluation: skipped, this run serves no model (serving mode none)"]
    if evaluation.get("status") == "skipped":
        return [f"Evaluation: skipped, {evaluation.get('reason')}"]
    if evaluation.get("status") != "evaluated":
        return []
    lines = [f"Evaluation: {evaluation['headline']}", f"Evaluation report: {evaluation.get('markdownUri')}"]
    if retired:
        lines.append(
            "Serving deleted: the model was not promoted"
            if retired.get("deleted")
            else f"Serving kept: {retired.get('reason')}"
        )
    elif evaluation.get("promoted") is False:
        lines.append(f"Serving: {evaluation.get('servingAction')}")
    return lines


def _cleanup(cleanup: dict[str, Any]) -> str:
    """What StopJobAfterTimeLimit or DeleteServingAfterFailure did, in words."""
    if "stopped" in cleanup:
        return (
            f"job {cleanup.get('jobName')} stopped"
            if cleanup["stopped"]
            else f"job not stopped: {cleanup.get('reason')}"
        )
    if cleanup.get("deleted"):
        return f"deleted {cleanup.get('arn')}; it no longer bills"
    return f"no serving deleted: {cleanup.get('reason')}"


def _cost_line(cost: dict[str, Any]) -> str:
    parts = []
    if cost.get("trainingUsd") is not None:
        parts.append(f"training ~${cost['trainingUsd']:,.2f}")
    if cost.get("storageUsdPerMonth") is not None:
        parts.append(f"model storage ~${cost['storageUsdPerMonth']:,.2f}/month")
    if cost.get("servingUsdPerHour") is not None:
        parts.append(f"serving ~${cost['servingUsdPerHour']:,.2f}/hour")
    return "Estimated cost: " + (", ".join(parts) if parts else "unknown (no prices in the catalog)")


def first_line_of_cause(cause: str | None) -> str:
    """The first line of a failure's cause, without the JSON that Lambda errors arrive in."""
    return cause_message(cause).splitlines()[0] if cause else ""


def cause_message(cause: Any) -> str:
    """Lambda errors arrive as a JSON string with errorMessage; show just the message."""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except json.JSONDecodeError:
            return cause
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return str(parsed["errorMessage"])
        return cause
    return str(cause) if cause is not None else "no details"
