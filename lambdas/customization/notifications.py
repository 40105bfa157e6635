"""The e-mails people get: what ran, what it produced, what it costs, and what to do next."""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from customization.naming import run_names
from customization.run_state import (
    CLEANUP,
    CLEANUP_ERROR,
    EVALUATION,
    FAILURE,
    JOB,
    RESULT,
    RETIRED,
    SERVING,
    SLOT_ERROR,
    UPLOAD,
    VALIDATION,
    curves_of,
    part,
    serving_deleted,
)
from customization.serving import PROVISIONED
from customization.sweep import table as sweep_table

# SNS's Publish reference: "UTF-8 text with no line breaks or control characters, and less than
# 100 characters long" (checked 2026-11-29; older versions of the page said ASCII only).
SUBJECT_LIMIT = 99


def subject(text: str) -> str:
    """`text` as a subject SNS takes: ASCII (a dataset name may hold anything), no control
    characters, one line, shortened with an ellipsis mark."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    single_line = " ".join("".join(c if c.isprintable() else " " for c in folded).split())
    return single_line if len(single_line) <= SUBJECT_LIMIT else single_line[: SUBJECT_LIMIT - 3] + "..."


class NotificationNotSent(Exception):
    """SNS refused the notification; its text was kept in the dead-letter queue."""


def publish(sns: Any, topic_arn: str, message: dict[str, str], *, fallback: tuple[Any, str], about: str) -> None:
    """Publish `message`; if SNS refuses it, keep it in the dead-letter queue (`fallback`: an
    SQS client and the queue's URL) and raise, so that the failure is seen and nothing is lost."""
    try:
        sns.publish(TopicArn=topic_arn, Subject=message["subject"], Message=message["message"])
    except (ClientError, BotoCoreError) as error:
        sqs, queue_url = fallback
        body = {"notification": message, "about": about, "error": str(error)}
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
        raise NotificationNotSent(f"{error}; the notification was kept in the dead-letter queue") from None


def console_link(region: str, execution_arn: str) -> str:
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def compose(outcome: str, state: dict[str, Any], execution_arn: str, environment: str, region: str) -> dict[str, str]:
    """Subject and body for a run that `succeeded` or `failed`; any part of `state` may be missing."""
    upload, validation, job = part(state, UPLOAD), part(state, VALIDATION), part(state, JOB)
    result, serving, evaluation = part(state, RESULT), part(state, SERVING), part(state, EVALUATION)
    retired = part(state, RETIRED)
    dataset = (validation.get("dataset") or {}).get("name") or layout_dataset(upload.get("key", "?"))
    lines = [
        f"Environment: {environment}",
        f"Dataset: s3://{upload.get('bucket', '?')}/{upload.get('key', '?')} (version {upload.get('versionId')})",
    ]
    logs = (validation.get("settings") or {}).get("invocationLogs") if validation else None
    if isinstance(logs, dict):
        lines.append(
            f"Prompts: from the invocation logs at {logs.get('s3Uri')} (counted by the job); "
            f"base model {(validation.get('settings') or {}).get('baseModel')}"
        )
    elif validation:
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
    lines += curves_lines(curves_of(state), region)
    if sweep_lines := sweep_table(state.get("sweep")):
        lines += ["", *sweep_lines]
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
        if part(state, CLEANUP) or part(state, CLEANUP_ERROR):
            # The stop command takes the job's name too, which the run fixes whatever step failed.
            job_name = _name_of_run(upload, environment, "job_name")
            lines += _cleanup_lines(part(state, CLEANUP), part(state, CLEANUP_ERROR), job, job_name, environment)
        if serving.get("arn") and not serving_deleted(state):
            lines.append(
                f"The serving above was kept and bills until deleted: python -m tools cleanup --env {environment}"
            )
        if result.get("customModelArn"):
            # Kept on purpose (it may be served by hand or customized further), but it bills.
            storage = cost.get("storageUsdPerMonth")
            price = f" (~${storage:,.2f}/month)" if storage is not None else ""
            lines.append(
                f"The custom model above was kept: its storage bills{price} until it is deleted "
                f"(python -m tools cleanup --env {environment} lists it)"
            )
            servable = (
                failure.get("Error") != "CustomModelFailed"
                and (validation.get("settings") or {}).get("servingMode") != "none"
            )  # a failed model cannot be served; a run (or environment) that serves nothing
            if servable and (not serving.get("arn") or serving_deleted(state)):
                run = _name_of_run(upload, environment, "execution_name")
                lines.append(
                    f"To serve it without training again, once the cause is fixed: python -m tools serve --env "
                    f"{environment} {run} --yes"
                )
        if part(state, SLOT_ERROR):
            lines.append(
                f"The run's slot could not be given back ({part(state, SLOT_ERROR).get('Error')}): the abort guard "
                "frees it when the execution ends; until then one fewer run can train at once"
            )
        if validation.get("reportUri"):
            lines.append(f"Validation report: {validation['reportUri']}")
    if serving.get("mode") == PROVISIONED and serving.get("arn") and not serving_deleted(state):
        lines += ["", "Provisioned throughput bills every hour until it is deleted."]
    lines += ["", f"Execution: {console_link(region, execution_arn)}"]
    verb = "succeeded" if outcome == "succeeded" else "FAILED"
    if outcome == "succeeded" and evaluation.get("promoted") is not None:
        verb = "succeeded, model promoted" if evaluation["promoted"] else "done, model NOT promoted"
    return {"subject": subject(f"[{environment}] Bedrock customization {verb}: {dataset}"), "message": "\n".join(lines)}


def curves_lines(curves: dict[str, Any], region: str | None = None) -> list[str]:
    """The training curves' diagnosis and what to change (ReadTrainingCurves), in words."""
    if not curves:
        return []
    lines = [f"Training curves: {curves.get('summary')}", f"What to change: {curves.get('advice')}"]
    if curves.get("chartUri"):
        lines.append(f"Curves chart: {curves['chartUri']}")
        if region:
            # An s3:// URI cannot be clicked in an e-mail; the console's object page can.
            lines.append(f"  open it: {s3_console_link(region, curves['chartUri'])}")
    return lines


def s3_console_link(region: str, uri: str) -> str:
    """The S3 console's page of the object at `uri` (s3://bucket/key), where it can be opened."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"https://{region}.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={quote(key, safe='/')}"


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


def _cleanup_lines(
    cleanup: dict[str, Any], error: dict[str, Any], job: dict[str, Any], job_name: str, environment: str
) -> list[str]:
    """What Compensate did (stopped the job? deleted the serving?), in words; or that it could
    not, with exactly what to do by hand (the abort guard also tries once more)."""
    if error:
        job_arn = job.get("jobArn") or job_name
        return [
            f"Cleanup FAILED ({error.get('Error')}): {cause_message(error.get('Cause'))}",
            "The job may still train and its serving bill. Stop the job: aws bedrock "
            f"stop-model-customization-job --job-identifier {job_arn}; see what bills: python -m tools cleanup "
            f"--env {environment} (a dry run; docs/runbook.md says what to delete)",
        ]
    return [f"Cleanup: {describe_cleanup(cleanup)}"]


def _name_of_run(upload: dict[str, Any], environment: str, name: str) -> str:
    """One of the run's names (`job_name`, `execution_name`, ...), or a placeholder for an upload
    the notification cannot name it from."""
    try:
        return getattr(run_names(environment, upload["bucket"], upload["key"], upload.get("versionId")), name)
    except (KeyError, ValueError):
        return f"<the run's {name.replace('_', ' ')}>"


def describe_cleanup(cleanup: dict[str, Any]) -> str:
    """`job X stopped; deployment Y deleted`, or why nothing needed doing."""
    parts = []
    if "stopped" in cleanup:
        parts.append(
            f"job {cleanup.get('jobName')} stopped"
            if cleanup["stopped"]
            else f"job not stopped: {cleanup.get('reason')}"
        )
    serving = cleanup.get("serving") if "stopped" in cleanup else cleanup
    if serving:
        parts.append(
            f"deleted {serving.get('arn')}, which no longer bills"
            if serving.get("deleted")
            else f"no serving deleted: {serving.get('reason')}"
        )
    return "; ".join(parts) or "nothing to clean up"


def compose_abort(
    detail: dict[str, Any], upload: dict[str, Any], cleanup: dict[str, Any], environment: str, region: str
) -> dict[str, str]:
    """The notification of an execution that was aborted or timed out (the abort guard sends it)."""
    status = detail.get("status", "ABORTED")
    dataset = layout_dataset(upload.get("key", "?"))
    lines = [
        f"Environment: {environment}",
        f"Dataset: s3://{upload.get('bucket', '?')}/{upload.get('key', '?')} (version {upload.get('versionId')})",
        f"The execution {detail.get('name')} was {status.lower().replace('_', ' ')}: nothing of the run went on.",
        f"Cleanup: {describe_cleanup(cleanup)}",
        "",
        f"Execution: {console_link(region, detail.get('executionArn', ''))}",
    ]
    return {
        "subject": subject(f"[{environment}] Bedrock customization {status}: {dataset}"),
        "message": "\n".join(lines),
    }


def layout_dataset(key: str) -> str:
    """The dataset's name from its upload key, or the key itself when it is not a dataset's."""
    parts = key.split("/")
    return parts[1] if len(parts) == 3 else key


def _cost_line(cost: dict[str, Any]) -> str:
    parts = []
    if cost.get("trainingUsd") is not None:
        parts.append(f"training ~${cost['trainingUsd']:,.2f}")
    if cost.get("promptsUnknown"):  # distillation from invocation logs
        bound = cost.get("upperBoundUsd")
        parts.append(
            "training and teacher inference unknown (prompts from invocation logs)"
            + ("" if bound is None else f", at most ~${bound:,.2f} for 15,000 prompts")
        )
    if "teacherOutputTokens" in cost:  # distillation
        teacher = cost.get("teacherUsd")
        parts.append("teacher inference " + ("unknown" if teacher is None else f"~${teacher:,.2f} (estimate)"))
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
