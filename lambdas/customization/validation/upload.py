"""Validating an uploaded dataset in S3: the pipeline's first step, behind a thin handler.

Reads the training file at the exact version that was uploaded, with `job.json` and
`validation.jsonl` beside it when present; writes the full report, and the prepared files
when Bedrock cannot read the upload as it is, under a folder per uploaded version.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from customization import layout, lineage
from customization.naming import RunNames
from customization.serving import ServingPlan
from customization.validation.dataset import DatasetCheck, check_dataset, write_prepared
from customization.validation.jobspec import RunDefaults, read_job_file, resolve_run
from customization.validation.problems import ProblemLog
from customization.validation.scanner import read_chunks

REPORT_PROBLEMS_KEPT = 1000  # in the report object; all are counted
MESSAGE_PROBLEMS_SHOWN = 5  # in the error the state machine routes to a notification
FAULT_MESSAGE_CHARS = 1000  # of an unexpected error's message, in the report and the error


class DatasetInvalidError(Exception):
    """The dataset or its settings would fail the job: nothing was started.

    Step Functions sees the class name as the error name, so the state machine can route it.
    """


class DatasetCheckFailedError(Exception):
    """The check itself failed (a fault of this code, or of reading the upload), not a verdict
    on the data: the report names the error and where it happened, and nothing was started."""


@dataclass(frozen=True)
class UploadedDataset:
    bucket: str
    key: str
    version_id: str | None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> UploadedDataset:
        try:
            return cls(bucket=event["bucket"], key=event["key"], version_id=event.get("versionId"))
        except (KeyError, TypeError):
            raise ValueError(
                f'expected {{"bucket": ..., "key": ..., "versionId": ...}} naming the uploaded training file, got {event!r}'
            ) from None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class S3Object:
    """An S3 object as a re-readable source of byte chunks, at a fixed version."""

    client: Any
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def chunks(self) -> Iterator[bytes]:
        extra = {"VersionId": self.version_id} if self.version_id else {}
        body = self.client.get_object(Bucket=self.bucket, Key=self.key, **extra)["Body"]
        try:
            yield from read_chunks(body)
        finally:
            body.close()


def validate_upload(
    upload: UploadedDataset,
    s3: Any,
    defaults: RunDefaults,
    serving: ServingPlan,
    names: RunNames,
    bedrock: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Check the upload; return the run's summary, or raise DatasetInvalidError after writing the report.

    Everything it writes goes under the run's folder (`names.folder`: slug and run id), never
    a key built from the raw dataset name. With `bedrock` (a factory of the Bedrock client, called
    only when needed), a job.json `baseRun` is resolved to the custom model it names
    (re-fine-tuning); the summary then carries the run's `lineage`."""
    name = layout.dataset_name(upload.key)
    log = ProblemLog(keep=REPORT_PROBLEMS_KEPT)
    report_key = layout.report_key(names.folder)
    dataset = {"name": name, "bucket": upload.bucket, "key": upload.key, "versionId": upload.version_id}
    name_problem = layout.dataset_name_problem(name)
    if name_problem:
        log.error(upload.key, None, "dataset-name", name_problem)
    try:
        job_key = layout.sibling_key(upload.key, layout.JOB_FILE)
        parents = (
            None
            if bedrock is None
            else lambda reference: lineage.resolve_parent(bedrock(), reference, names.environment)
        )
        run = resolve_run(
            defaults,
            serving,
            _read(s3, upload.bucket, job_key),
            log,
            job_file=f"s3://{upload.bucket}/{job_key}",
            parents=parents,
        )
        settings = run.settings
        validation = _existing(s3, upload.bucket, layout.sibling_key(upload.key, layout.VALIDATION_FILE))
        train = S3Object(s3, upload.bucket, upload.key, upload.version_id)
        result = check_dataset(
            train,
            settings,
            log=log,
            validation=validation,
            settings_origin=run.origin,
            dataset_bucket=upload.bucket,
            serving=run.serving,
            cost_ceiling_usd=defaults.cost_ceiling_usd,
            graders=defaults.graders,
            max_sweep_variants=defaults.max_sweep_variants,
        )
        summary = {
            "dataset": dataset,
            "settings": {**settings.as_dict(), "hyperParameters": result.hyperparameters},
            **result.summary(),
            "reportUri": f"s3://{upload.bucket}/{report_key}",
        }
        if run.parent is not None:
            summary["lineage"] = run.parent.lineage()
        for variant in summary.get("variants", ()):
            # Deterministic per variant: a duplicate event starts nothing twice (customization.naming).
            variant_names = names.for_variant(variant["index"])
            variant.update(jobName=variant_names.job_name, customModelName=variant_names.custom_model_name)
        if result.valid:
            summary["prepared"] = _prepared_uris(result, train, validation, upload.bucket, names.folder, s3)
    except Exception as error:
        # Whatever went wrong, the run's notification must say where to look.
        raise _check_failed(error, s3, upload.bucket, report_key, dataset, log) from error
    _put_json(s3, upload.bucket, report_key, summary)
    if not result.valid:
        raise DatasetInvalidError(_failure_message(result, summary["reportUri"]))
    # The state machine carries this between states: keep it small (the report has the rest).
    return {key: value for key, value in summary.items() if key not in ("problems", "problemsByRule")}


def _prepared_uris(
    result: DatasetCheck, train: S3Object, validation: S3Object | None, bucket: str, folder: str, s3: Any
) -> dict[str, str | None]:
    """Where Bedrock reads this run's data: always prepared/<slug>/<run id>/.

    Bedrock takes S3 URIs without a version, so handing it datasets/<name>/train.jsonl would
    let a re-upload during the run swap the data after validation; and it refuses URIs whose
    path has spaces, '+', '=' or accents. What was validated is written (or copied,
    server-side, at the exact version read) under the run's own folder.
    """
    train_key = layout.prepared_key(folder, "train.jsonl")
    validation_key = layout.prepared_key(folder, layout.VALIDATION_FILE)
    if result.needs_prepared_files:
        # Lambda's /tmp holds the prepared files; S3 then gets them in multipart uploads.
        with tempfile.TemporaryFile() as train_out, tempfile.TemporaryFile() as validation_out:
            write_prepared(result, train, train_out, validation_out if result.split else None)
            _upload(s3, train_out, bucket, train_key)
            if result.split:
                _upload(s3, validation_out, bucket, validation_key)
    else:
        _copy_version(s3, train, train_key)
    if validation is not None:
        _copy_version(s3, validation, validation_key)
    has_validation = result.split is not None or validation is not None
    return {
        "trainUri": f"s3://{bucket}/{train_key}",
        "validationUri": f"s3://{bucket}/{validation_key}" if has_validation else None,
    }


def _copy_version(s3: Any, source: S3Object, key: str) -> None:
    copy_source = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id:
        copy_source["VersionId"] = source.version_id
    s3.copy(copy_source, source.bucket, key)  # managed copy: multipart above 8 MB, up to 5 TB


def _check_failed(
    error: Exception, s3: Any, bucket: str, report_key: str, dataset: dict[str, Any], log: ProblemLog
) -> DatasetCheckFailedError:
    """Write a report that names the unexpected `error` (and where the check was), and return
    the error to raise, whose message names the report."""
    report_uri = f"s3://{bucket}/{report_key}"
    message = str(error)
    if len(message) > FAULT_MESSAGE_CHARS:
        message = message[:FAULT_MESSAGE_CHARS] + "..."
    # Readable whatever the error quoted (a lone surrogate would not encode as UTF-8).
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    file, line = log.interrupted_at or (None, None)
    where = f" at {file}:{line}" if file and line else f" in {file}" if file else ""
    fault = {"type": type(error).__name__, "message": message, "file": file, "line": line}
    report = {
        "dataset": dataset,
        "valid": False,
        "fault": fault,
        "errors": log.error_count,
        "warnings": log.warning_count,
        "problems": [problem.as_dict() for problem in log.problems],
        "reportUri": report_uri,
    }
    summary = f"the dataset check failed{where} with an unexpected {fault['type']}: {message}; nothing was started"
    try:
        _put_json(s3, bucket, report_key, report)
    except Exception as put_error:  # the report is the first place people look: say it is missing
        return DatasetCheckFailedError(
            f"{summary}. The report could not be written to {report_uri} ({type(put_error).__name__}: {put_error})"
        )
    return DatasetCheckFailedError(f"{summary}. Report: {report_uri}")


def _failure_message(result: DatasetCheck, report_uri: str) -> str:
    shown = [str(problem) for problem in result.log.problems if problem.severity == "error"][:MESSAGE_PROBLEMS_SHOWN]
    more = result.log.error_count - len(shown)
    lines = [f"{result.log.error_count} problem(s) in the dataset; nothing was started. First ones:", *shown]
    if more > 0:
        lines.append(f"... and {more} more")
    lines.append(f"Full report: {report_uri}")
    return "\n".join(lines)


def _fits(key: str) -> bool:
    """A key S3 could hold: a sibling of a training file with a very long name cannot exist."""
    return len(key.encode("utf-8")) <= layout.S3_KEY_MAX_BYTES


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    if not _fits(key):
        return None
    try:
        return read_job_file(s3.get_object(Bucket=bucket, Key=key)["Body"])
    except s3.exceptions.NoSuchKey:
        return None


def _existing(s3: Any, bucket: str, key: str) -> S3Object | None:
    if not _fits(key):
        return None
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return S3Object(s3, bucket, key, head.get("VersionId"))


def _upload(s3: Any, stream, bucket: str, key: str) -> None:
    stream.seek(0)
    s3.upload_fileobj(stream, bucket, key)


def _put_json(s3: Any, bucket: str, key: str, body: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(body, indent=2).encode("utf-8"), ContentType="application/json"
    )
