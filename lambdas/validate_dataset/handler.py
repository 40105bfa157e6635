"""ValidateDataset: the pipeline's first step. Thin: parse the event, call the engine.

Event: {"bucket": ..., "key": "datasets/<name>/train.jsonl", "versionId": ...}
Returns the run's summary (records, tokens, cost, prepared URIs, resolved settings);
raises DatasetInvalidError, with the first problems and the report's URI, when the data or
its settings would fail the job.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3
from customization.cost import ServingPlan
from customization.jobspec import JobSettings
from customization.upload import DatasetInvalidError, UploadedDataset, validate_upload

__all__ = ["DatasetInvalidError", "lambda_handler"]


@cache
def _s3():
    return boto3.client("s3")


@cache
def environment_defaults() -> tuple[JobSettings, ServingPlan]:
    """The environment's settings from cdk.json, passed by the stack as JSON variables."""
    try:
        defaults = json.loads(os.environ["DEFAULT_JOB_SETTINGS"])
        serving = json.loads(os.environ.get("SERVING", "{}"))
        settings = JobSettings(
            base_model=defaults["baseModel"],
            customization_type=defaults.get("customizationType", "FINE_TUNING"),
            hyperparameters=defaults.get("hyperParameters", {}),
            validation_split=defaults.get("validationSplit"),
        )
        plan = ServingPlan(
            mode=serving.get("mode", "none"),
            model_units=serving.get("modelUnits", 1),
            commitment=serving.get("commitment", "none"),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise RuntimeError(
            f"DEFAULT_JOB_SETTINGS/SERVING are missing or malformed ({error!r}): redeploy the stack"
        ) from error
    return settings, plan


def lambda_handler(event: dict[str, Any], context: Any = None, s3: Any = None) -> dict[str, Any]:
    settings, serving = environment_defaults()
    return validate_upload(UploadedDataset.from_event(event), s3 or _s3(), settings, serving)
