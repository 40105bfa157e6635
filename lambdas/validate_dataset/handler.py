"""ValidateDataset: the pipeline's first step. Thin: parse the event, call the engine.

Event: {"upload": {"bucket": ..., "key": "datasets/<name>/train.jsonl", "versionId": ...}}
(or the upload object itself). Returns the run's summary (records, tokens, cost, prepared
URIs, resolved settings); raises DatasetInvalidError, with the first problems and the
report's URI, when the data or its settings would fail the job.
"""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.validation.jobspec import JobSettings
from customization.validation.upload import DatasetInvalidError, UploadedDataset, validate_upload

__all__ = ["DatasetInvalidError", "lambda_handler"]


def environment_defaults() -> JobSettings:
    """The environment's defaults from cdk.json (same keys as job.json), set by the stack."""
    defaults = runtime.json_variable("DEFAULT_JOB_SETTINGS")
    try:
        return JobSettings(
            base_model=defaults["baseModel"],
            customization_type=defaults.get("customizationType", "FINE_TUNING"),
            hyperparameters=defaults.get("hyperParameters", {}),
            validation_split=defaults.get("validationSplit"),
        )
    except (KeyError, TypeError) as error:
        raise runtime.SettingsError(f"DEFAULT_JOB_SETTINGS is malformed ({error!r}): redeploy the stack") from None


def lambda_handler(event: dict[str, Any], context: Any = None, s3: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    upload = UploadedDataset.from_event(event.get("upload", event))
    allowed = tuple(runtime.json_variable("ALLOWED_BASE_MODELS", []))
    summary = validate_upload(
        upload, s3 or runtime.client("s3"), environment_defaults(), runtime.serving_plan(), allowed or None
    )
    runtime.log("dataset valid", key=upload.key, versionId=upload.version_id, records=summary["records"])
    return summary
