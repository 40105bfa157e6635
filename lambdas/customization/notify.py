"""The e-mails people get: what ran, what it produced, what it costs, and what to do next."""

from __future__ import annotations

import json
from typing import Any

SUBJECT_LIMIT = 100  # SNS rejects longer e-mail subjects


def console_link(region: str, execution_arn: str) -> str:
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def compose(outcome: str, state: dict[str, Any], execution_arn: str, environment: str, region: str) -> dict[str, str]:
    """Subject and body for a run that `succeeded` or `failed`; any part of `state` may be missing."""
    upload = state.get("upload") or {}
    validation = state.get("validation") or {}
    job = state.get("job") or {}
    result = state.get("result") or {}
    serving = state.get("serving") or {}
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
    cost = validation.get("cost") or {}
    if cost:
        lines.append(_cost_line(cost))
    if outcome == "failed":
        failure = state.get("failure") or {}
        lines += ["", f"Failed with {failure.get('Error', 'an error')}:", _cause(failure.get("Cause"))]
        if state.get("cleanup"):
            lines.append(f"Cleanup: {state['cleanup']}")
        if validation.get("reportUri"):
            lines.append(f"Validation report: {validation['reportUri']}")
    if outcome == "succeeded" and serving.get("mode") == "provisioned":
        lines += ["", "Provisioned throughput bills every hour until it is deleted."]
    lines += ["", f"Execution: {console_link(region, execution_arn)}"]
    verb = "succeeded" if outcome == "succeeded" else "FAILED"
    subject = f"[{environment}] Bedrock customization {verb}: {dataset}"
    return {"subject": subject[:SUBJECT_LIMIT], "message": "\n".join(lines)}


def _cost_line(cost: dict[str, Any]) -> str:
    parts = []
    if cost.get("training_usd") is not None:
        parts.append(f"training ~${cost['training_usd']:,.2f}")
    if cost.get("storage_usd_per_month") is not None:
        parts.append(f"model storage ~${cost['storage_usd_per_month']:,.2f}/month")
    if cost.get("serving_usd_per_hour") is not None:
        parts.append(f"serving ~${cost['serving_usd_per_hour']:,.2f}/hour")
    return "Estimated cost: " + (", ".join(parts) if parts else "unknown (no prices in the catalog)")


def _cause(cause: Any) -> str:
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
