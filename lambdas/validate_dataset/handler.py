"""ValidateDataset: the pipeline's first step. Thin: parse the event, call the engine.

Event: {"upload": {"bucket": ..., "key": "datasets/<name>/train.jsonl", "versionId": ...}}
(or the upload object itself). Returns the run's summary (records, tokens, cost, prepared
URIs, resolved settings); raises DatasetInvalidError, with the first problems and the
report's URI, when the data or its settings would fail the job.
"""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.serving import ServingPlan
from customization.validation.jobspec import RunDefaults
from customization.validation.upload import DatasetInvalidError, UploadedDataset, validate_upload

__all__ = ["DatasetInvalidError", "lambda_handler"]


def lambda_handler(event: dict[str, Any], context: Any = None, s3: Any = None, bedrock: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    upload = UploadedDataset.from_event(event.get("upload", event))
    summary = validate_upload(
        upload,
        s3 or runtime.client("s3"),
        runtime.settings(RunDefaults),
        runtime.settings(ServingPlan),
        runtime.names_of({"bucket": upload.bucket, "key": upload.key, "versionId": upload.version_id}),
        # Only a job.json that names a baseRun asks Bedrock anything (re-fine-tuning).
        bedrock=(lambda: bedrock) if bedrock is not None else (lambda: runtime.client("bedrock")),
    )
    runtime.log("dataset valid", key=upload.key, versionId=upload.version_id, records=summary["records"])
    return summary
