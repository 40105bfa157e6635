"""Re-fine-tuning: a run that customizes a custom model of an earlier run further.

`job.json` may name `"baseRun"`: a run of this environment as `python -m tools status` lists
it (`<slug>-<16 hex run id>`), or the ARN of one of this environment's custom models. The
ValidateDataset step resolves it with Bedrock (`resolve_parent`); the run then trains on top
of that model and keeps its foundation model for hyperparameter bounds, cost and evaluation.

What AWS allows (checked 2026-11-29): the Bedrock user guide's "Submit a model customization
job for fine-tuning" (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-submit.html)
says `baseModelIdentifier` may be "the model ID or ARN of the foundation model or previously
customized model (fine-tuned or distilled)", and botocore's BaseModelIdentifier pattern accepts
`arn:aws:bedrock:<region>:<account>:custom-model/<base-model-id>/<12 lowercase alnum>`. No
per-family list was found: what each model allows is in the catalog (`recustomization`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from customization.bedrock_errors import error_code, translated_error
from customization.naming import DATASET_VERSION_TAG, PROJECT, RunNames, slugify
from customization.sweep import run_models

KEY = "baseRun"
# A run's name is its execution's: the dataset's slug (ASCII letters, digits, single dashes),
# a dash and the 16 hex digits of the upload's identity (customization.naming).
RUN_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*-(?P<run_id>[0-9a-f]{16})")
# botocore 1.44 BaseModelIdentifier, its custom-model branch (the base model ID is part of the ARN).
CUSTOM_MODEL_ARN = re.compile(
    r"arn:aws(?:-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model/"
    r"(?P<base>[a-z0-9-]{1,63}[.][a-z0-9-]{1,63}(?:[.]?[a-z0-9-]{1,63})(?:[:][a-z0-9-]{1,63}){0,2})/[a-z0-9]{12}"
)
ACTIVE = "Active"


class ParentProblem(Exception):
    """The parent named by baseRun cannot be customized further by this run: one line, naming it
    and what to do."""


def syntax_problem(value: object) -> str | None:
    """Why `value` cannot be a baseRun, offline; None when it has the shape of one."""
    if isinstance(value, str) and (RUN_NAME.fullmatch(value) or CUSTOM_MODEL_ARN.fullmatch(value)):
        return None
    shown = repr(value) if len(repr(value)) <= 120 else repr(value)[:117] + "..."
    return (
        f"{KEY} must name a run of this environment as `python -m tools status` lists it "
        f"(<dataset>-<16 hex digits>, e.g. email-classifier-38f4b4ba2e8f4a27) or one of its custom model ARNs "
        f"(arn:aws:bedrock:<region>:<account>:custom-model/<base model>/<id>), got {shown}"
    )


def foundation_model_id(arn: str) -> str:
    """`amazon.nova-micro-v1:0:128k` from a foundation-model or custom-model ARN (or an ID)."""
    if ":foundation-model/" in arn:
        return arn.split(":foundation-model/", 1)[1]
    match = CUSTOM_MODEL_ARN.fullmatch(arn)
    return match["base"] if match else arn


@dataclass(frozen=True)
class Parent:
    """The custom model a run customizes further, as Bedrock describes it."""

    reference: str  # as job.json gave it
    arn: str
    name: str
    foundation_model: str  # catalog ID, context suffix included
    customization_type: str
    run: str | None  # the parent run's name, when its tags say which run made it
    dataset: str | None
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    # The S3 version of the upload the parent trained on (its datasetVersion tag); None for a
    # model of a run from before that tag, or of an unversioned upload.
    dataset_version: str | None = None

    def lineage(self) -> dict[str, Any]:
        """What the run's state, reports and `tools status` carry about where it came from."""
        lineage: dict[str, Any] = {"parentRun": self.run, "parentModel": self.arn}
        if self.dataset:
            lineage["parentDataset"] = self.dataset
        if self.dataset_version:
            lineage["parentDatasetVersion"] = self.dataset_version
        lineage["parentBaseModel"] = self.foundation_model
        lineage["parentCustomizationType"] = self.customization_type
        if self.hyperparameters:
            lineage["parentHyperParameters"] = dict(self.hyperparameters)
        return lineage


def resolve_parent(bedrock: Any, reference: str, environment: str) -> Parent:
    """The custom model `reference` (a run name or a custom-model ARN) names, checked to be one of
    this environment's and Active; raises ParentProblem otherwise.

    A run's model is found by listing (ListCustomModels, nameContains=<run id>): its name is the
    run's deterministic custom model name, which ends in `-<environment>-model-<run id>`. The
    tags are read before the model: the function may read only models tagged as this
    environment's (IAM), so another environment's model is refused by IAM, not read."""
    where = f"{KEY} {reference!r}"
    run_match = RUN_NAME.fullmatch(reference)
    if run_match:
        arn = _model_of_run(bedrock, reference, run_match["run_id"], environment)
    elif CUSTOM_MODEL_ARN.fullmatch(reference):
        arn = reference
    else:
        raise ParentProblem(syntax_problem(reference) or where)
    tags = _tags(bedrock, arn, where, environment)
    if tags.get("project") != PROJECT or tags.get("environment") != environment:
        owner = tags.get("environment") or "no environment"
        raise ParentProblem(
            f"{where}: {arn} is not a custom model of environment {environment!r} (its tags say {owner!r}): "
            "customize one of this environment's runs, or upload to the environment it belongs to"
        )
    try:
        model = bedrock.get_custom_model(modelIdentifier=arn)
    except ClientError as error:
        raise translated_error(error) from None
    status = model.get("modelStatus", ACTIVE)
    if status != ACTIVE:
        what = "wait until it is Active, then upload again" if status == "Creating" else "pick another run"
        raise ParentProblem(f"{where}: the custom model {arn} is {status}, not Active: {what}")
    run_id = tags.get("run")
    dataset = tags.get("dataset")
    run = reference if run_match else None
    if run is None and run_id and dataset is not None:
        run = RunNames(environment, dataset, slugify(dataset), run_id).execution_name
    return Parent(
        reference=reference,
        arn=model.get("modelArn", arn),
        name=model.get("modelName", ""),
        foundation_model=foundation_model_id(model.get("baseModelArn", "")),
        customization_type=model.get("customizationType", "FINE_TUNING"),
        run=run,
        dataset=dataset,
        hyperparameters=dict(model.get("hyperParameters") or {}),
        dataset_version=tags.get(DATASET_VERSION_TAG),
    )


def _model_of_run(bedrock: Any, run: str, run_id: str, environment: str) -> str:
    """The one custom model the run left: its job's, or its sweep's winner (sweep.run_models)."""
    slug = run[: -len(run_id) - 1]  # a run's name is `<slug>-<run id>` (customization.naming)
    models = run_models(bedrock, RunNames(environment, slug, slug, run_id))
    where = f"{KEY} {run!r}"
    if not models:
        raise ParentProblem(
            f"{where}: no custom model of that run in environment {environment!r} (a run has one once its job "
            f"completed and it was not deleted): pick one from `python -m tools status --env {environment}`"
        )
    if len(models) > 1:
        raise ParentProblem(
            f"{where}: that run kept {len(models)} custom models (a sweep with keepSweepModels): name the one to "
            f"customize by its ARN in {KEY} ({', '.join(sorted(models))})"
        )
    return next(iter(models))


def _tags(bedrock: Any, arn: str, where: str, environment: str) -> dict[str, str]:
    try:
        listed = bedrock.list_tags_for_resource(resourceARN=arn)["tags"]
    except ClientError as error:
        if error_code(error) in ("AccessDeniedException", "ResourceNotFoundException", "ValidationException"):
            # IAM lets this function read the tags of this environment's custom models only.
            raise ParentProblem(
                f"{where}: {arn} is not a custom model of environment {environment!r} (not found, or not tagged "
                f"as this environment's): pick one from `python -m tools status --env {environment}`"
            ) from None
        raise translated_error(error) from None
    return {tag["key"]: tag["value"] for tag in listed}
