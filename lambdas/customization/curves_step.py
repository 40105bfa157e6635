"""The ReadTrainingCurves step: once the job has completed, read the metrics files it wrote,
diagnose the curves, write curves.json and curves.svg beside the run's other reports, and
return the diagnosis the run carries (the evaluation, the notification and `tools status`
show it).

It never fails the run: any problem, with the files or with S3, becomes "no curve available"
and why (the state machine also catches what this code cannot, such as a timeout).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from customization import curves, curves_chart, layout
from customization.catalog import UnknownModelError, load_catalog
from customization.curves import CurvesUnavailable, Diagnosis, Tuning

READ_CHUNK = 1 << 20  # large chunks: botocore's default 1 KB reads make a long file slow


def read_curves(s3: Any, state: dict[str, Any]) -> dict[str, Any]:
    """The diagnosis of the run's completed job (`state`: upload, validation, job, result)."""
    validation, job = state["validation"], state["job"]
    settings = validation.get("settings") or {}
    if state.get("variant") is not None:  # a sweep's variant: its advice names its own values
        settings = {**settings, "hyperParameters": state["variant"].get("hyperParameters") or {}}
    output_bucket, output_prefix = job["outputUri"].removeprefix("s3://").split("/", 1)
    job_folder = f"model-customization-job-{job['jobArn'].rsplit('/', 1)[-1]}/"
    training = validation_curve = None
    try:
        found = _metrics_keys(s3, output_bucket, output_prefix, job_folder)
        training_key = found.get(curves.TRAINING_FILE)
        if training_key is None and settings.get("customizationType") == "REINFORCEMENT_FINE_TUNING":
            # AWS's RFT pages describe reward and loss graphs in the console (rft-submit-job.html,
            # "Monitor"), not metrics files in S3: none is expected, and the reason says where to look.
            raise CurvesUnavailable(
                "reinforcement fine-tuning jobs write no step_wise_training_metrics.csv: Bedrock shows their "
                "reward and loss curves in the console (the job's Metrics tab) instead"
            )
        if training_key is None:
            raise CurvesUnavailable(
                f"Bedrock wrote no {curves.TRAINING_FILE} under s3://{output_bucket}/{output_prefix} "
                f"({found['listed']} object(s) listed): check the job's output folder; some jobs write no metrics"
            )
        training = _read(s3, output_bucket, training_key, curves.TRAINING_LOSS)
        validation_curve, note = _optional_validation(s3, output_bucket, found.get(curves.VALIDATION_FILE))
        diagnosis = curves.diagnose(training, validation_curve, _tuning(settings), note)
    except CurvesUnavailable as error:
        diagnosis = curves.unavailable(str(error))
    except (ClientError, BotoCoreError) as error:
        diagnosis = curves.unavailable(
            f"the job's metrics under s3://{output_bucket}/{output_prefix} could not be read ({error})"
        )
    result: dict[str, Any] = {**_brief(diagnosis), "reportUri": None, "chartUri": None}
    if state.get("variant") is not None:  # a sweep's variant: SelectWinner may rank by it
        losses = validation_curve.losses if validation_curve is not None else []
        result["bestValidationLoss"] = min(losses) if losses else None
    context = {
        "dataset": (validation.get("dataset") or {}).get("name"),
        "jobArn": job["jobArn"],
        "baseModel": settings.get("baseModel"),
        "hyperParameters": settings.get("hyperParameters") or {},
    }
    try:
        variant = (state.get("variant") or {}).get("index")
        result.update(_write(s3, validation["reportUri"], training, validation_curve, diagnosis, context, variant))
    except (ClientError, BotoCoreError) as error:
        result["reportError"] = f"curves.json and curves.svg could not be written ({error})"
    return result


def _brief(diagnosis: Diagnosis) -> dict[str, Any]:
    """What the run's state carries: small, whatever the size of the curves."""
    return {
        "verdict": diagnosis.verdict,
        "summary": diagnosis.summary,
        "advice": diagnosis.advice,
        "change": diagnosis.change.as_dict() if diagnosis.change else None,
    }


def _tuning(settings: dict[str, Any]) -> Tuning:
    model = None
    # Validation accepted the model; without a catalog entry the advice names no value.
    with contextlib.suppress(UnknownModelError):
        model = load_catalog().model(settings.get("baseModel", ""))
    return Tuning.of(model, settings.get("customizationType", "FINE_TUNING"), settings.get("hyperParameters"))


def _metrics_keys(s3: Any, bucket: str, prefix: str, job_folder: str) -> dict[str, Any]:
    """The metrics files under the job's output prefix, by file name. Where a name appears more
    than once, the one in this job's own folder (model-customization-job-<id>/) wins."""
    found: dict[str, Any] = {}
    listed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            listed += 1
            if listed > curves.MAX_LISTED_KEYS:
                raise CurvesUnavailable(
                    f"more than {curves.MAX_LISTED_KEYS:,} objects under s3://{bucket}/{prefix}: not one job's output"
                )
            name = item["Key"].rsplit("/", 1)[-1]
            if name not in (curves.TRAINING_FILE, curves.VALIDATION_FILE):
                continue
            mine = job_folder in item["Key"]
            if name not in found or (mine and job_folder not in found[name]):
                found[name] = item["Key"]
    found["listed"] = listed
    return found


def _read(s3: Any, bucket: str, key: str, loss_column: str) -> curves.Curve:
    uri = f"s3://{bucket}/{key}"
    response = s3.get_object(Bucket=bucket, Key=key)
    size = response.get("ContentLength")
    body = response["Body"]
    try:
        if size is not None and size > curves.MAX_BYTES:
            raise CurvesUnavailable(curves.too_large(uri, curves.megabytes(size)))
        if size == 0:
            raise CurvesUnavailable(f"{uri} is empty (0 bytes)")
        lines = curves.bounded_lines(body.iter_chunks(READ_CHUNK), uri=uri)
        return curves.parse_metrics(lines, uri=uri, loss_column=loss_column)
    finally:
        body.close()


def _optional_validation(s3: Any, bucket: str, key: str | None) -> tuple[curves.Curve | None, str | None]:
    """The validation curve, or None with why: the run is judged on training loss alone."""
    if key is None:
        return None, f"no {curves.VALIDATION_FILE}: Bedrock writes it only for jobs given validation data"
    try:
        return _read(s3, bucket, key, curves.VALIDATION_LOSS), None
    except CurvesUnavailable as error:
        return None, f"validation curve left out: {error}"


def _write(
    s3, report_uri: str, training, validation, diagnosis: Diagnosis, context: dict, variant: int | None = None
) -> dict[str, str]:
    """curves.json (always) and curves.svg (when there is a curve), beside the run's validation
    report; a sweep variant's in the run's v<n>/ folder (the winner's are the ones reports link)."""
    bucket, report_key = report_uri.removeprefix("s3://").split("/", 1)
    folder = report_key.rsplit("/", 1)[0] + "/" + (f"v{variant}/" if variant is not None else "")
    document = curves.curves_document(training, validation, diagnosis, context)
    written = {
        "reportUri": _put(s3, bucket, folder + layout.CURVES_REPORT, json.dumps(document, indent=2), "application/json")
    }
    if training is not None and diagnosis.verdict != curves.UNAVAILABLE:
        title = f"Training curves: {context.get('dataset') or 'run'}"
        chart = curves_chart.render(training, validation, diagnosis, title)
        written["chartUri"] = _put(s3, bucket, folder + layout.CURVES_CHART, chart, "image/svg+xml")
    return written


def _put(s3, bucket: str, key: str, body: str, content_type: str) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType=content_type)
    return f"s3://{bucket}/{key}"
