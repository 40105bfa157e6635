"""Serving the custom model the way the environment says: provisioned throughput or an
on-demand deployment. Creation is idempotent per run; what is created is deleted again
when the run fails after creating it, unless a commitment term forbids it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from customization.bedrock_errors import (
    BedrockRequestRejected,
    BedrockThrottled,
    error_code,
    error_message,
    translated_error,
)
from customization.naming import RunNames
from customization.settings import json_value

# How an environment serves its trained models (`serving.mode` in cdk.json).
NONE = "none"
PROVISIONED = "provisioned"
ON_DEMAND = "on-demand"
SERVING_MODES = (NONE, PROVISIONED, ON_DEMAND)
# Provisioned throughput terms; only no-commitment throughput can be deleted at will.
NO_COMMITMENT = "none"
COMMITMENTS = (NO_COMMITMENT, "OneMonth", "SixMonths")
# The status in which each kind of serving answers requests.
READY = {PROVISIONED: "InService", ON_DEMAND: "Active"}


@dataclass(frozen=True)
class ServingPlan:
    """What the environment serves a trained model with (a run's job.json may say none)."""

    mode: str = NONE
    model_units: int = 1
    commitment: str = NO_COMMITMENT

    @property
    def serves(self) -> bool:
        return self.mode != NONE

    @property
    def deletable(self) -> bool:
        """On-demand deployments and no-commitment throughput can be deleted at any time."""
        return self.mode == ON_DEMAND or self.commitment == NO_COMMITMENT

    def to_environment(self) -> dict[str, str]:
        return {
            "SERVING": json.dumps({"mode": self.mode, "modelUnits": self.model_units, "commitment": self.commitment})
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ServingPlan:
        serving = json_value(environ, "SERVING", {})
        return cls(
            mode=serving.get("mode", NONE),
            model_units=int(serving.get("modelUnits", 1)),
            commitment=serving.get("commitment", NO_COMMITMENT),
        )


class ServingNotReady(Exception):
    """Still Creating or Updating: the state machine retries with backoff."""


class ServingFailed(Exception):
    """Bedrock reports the throughput or deployment Failed."""


class CustomModelNotReady(Exception):
    """The job completed but its custom model is still Creating: serving needs it Active
    (CreateCustomModelDeployment reference). The state machine retries with backoff."""


class CustomModelFailed(Exception):
    """Bedrock could not create the custom model: nothing can serve it."""


def require_active_model(bedrock: Any, model_arn: str) -> None:
    """Raise unless the custom model can be served now."""
    try:
        model = bedrock.get_custom_model(modelIdentifier=model_arn)
    except ClientError as error:
        raise translated_error(error) from None
    status = model.get("modelStatus", "Active")
    if status == "Creating":
        raise CustomModelNotReady(f"{model_arn} is Creating: serving waits until it is Active")
    if status == "Failed":
        reason = (model.get("failureMessage") or "Bedrock gave no reason").rstrip(".")
        raise CustomModelFailed(f"{model_arn} failed ({reason}); nothing was served")


def create_serving(
    bedrock: Any, names: RunNames, model_arn: str, plan: ServingPlan, *, again: str | None = None
) -> dict[str, Any]:
    """Request the throughput or deployment of the run's model (idempotent), once the model is Active.

    `again`: a request after the run's own (`python -m tools serve`), with a token of its own:
    Bedrock could otherwise answer it as a repeat of the run's request and create nothing after
    that serving was deleted. Its name stays the run's, which keeps it from being created twice."""
    require_active_model(bedrock, model_arn)
    suffix = f"-{again}" if again else ""
    tags = [{"key": key, "value": value} for key, value in names.tags.items()]
    try:
        if plan.mode == PROVISIONED:
            request = {
                "modelUnits": plan.model_units,
                "provisionedModelName": names.provisioned_model_name,
                "modelId": model_arn,
                "clientRequestToken": names.client_token("pt") + suffix,
                "tags": tags,
            }
            if plan.commitment != NO_COMMITMENT:
                request["commitmentDuration"] = plan.commitment
            arn = bedrock.create_provisioned_model_throughput(**request)["provisionedModelArn"]
        elif plan.mode == ON_DEMAND:
            arn = bedrock.create_custom_model_deployment(
                modelDeploymentName=names.deployment_name,
                modelArn=model_arn,
                clientRequestToken=names.client_token("deploy") + suffix,
                tags=tags,
                # The slug, not the raw name: the description takes no line breaks and 200 characters.
                description=f"Bedrock customization pipeline, dataset {names.slug[:64]}, run {names.run_id}",
            )["customModelDeploymentArn"]
        else:
            raise ValueError(f"serving mode {plan.mode!r} creates nothing")
    except ClientError as error:
        arn = _existing_serving_of_this_run(bedrock, names, plan, error)
    return {
        "mode": plan.mode,
        "arn": arn,
        "modelUnits": plan.model_units if plan.mode == PROVISIONED else None,
        "commitment": plan.commitment if plan.mode == PROVISIONED else None,
        # Only no-commitment throughput and deployments can be deleted at will.
        "deletable": plan.deletable,
    }


def _existing_serving_of_this_run(bedrock: Any, names: RunNames, plan: ServingPlan, error: ClientError) -> str:
    if error_code(error) not in ("ConflictException", "ResourceInUseException"):
        raise translated_error(error) from None
    return serving_of_run(bedrock, names, plan.mode)[0]


def serving_of_run(bedrock: Any, names: RunNames, mode: str) -> tuple[str, dict[str, Any]]:
    """(ARN, Bedrock's description) of the throughput or deployment this run created, found by
    its deterministic name; the ClientError of the Get call when there is none."""
    if mode == PROVISIONED:
        current = bedrock.get_provisioned_model_throughput(provisionedModelId=names.provisioned_model_name)
        return current["provisionedModelArn"], current
    current = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=names.deployment_name)
    return current["customModelDeploymentArn"], current


def poll_serving(bedrock: Any, serving: dict[str, Any]) -> dict[str, Any]:
    try:
        if serving["mode"] == PROVISIONED:
            current = bedrock.get_provisioned_model_throughput(provisionedModelId=serving["arn"])
        else:
            current = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=serving["arn"])
    except ClientError as error:
        raise translated_error(error) from None
    status = current["status"]
    if status == "Failed":
        raise ServingFailed(f"{serving['arn']} failed: {current.get('failureMessage') or 'Bedrock gave no reason'}")
    if status != READY[serving["mode"]]:
        raise ServingNotReady(f"{serving['arn']} is {status}")
    return {**serving, "status": status}


def delete_command(mode: str) -> str:
    if mode == PROVISIONED:
        return "delete-provisioned-model-throughput --provisioned-model-id"
    return "delete-custom-model-deployment --custom-model-deployment-identifier"


def find_serving(bedrock: Any, names: RunNames, mode: str) -> dict[str, Any] | None:
    """The throughput or deployment this run created, as Bedrock lists it ("arn", "status" and,
    for throughput, its commitment), or None when there is none.

    Listed rather than fetched, for the reason find_job gives: a Get of something that does not
    exist is refused by the tag condition instead of answered "not found".
    """
    if mode == PROVISIONED:
        operation, summaries, name_key, arn_key = (
            "list_provisioned_model_throughputs",
            "provisionedModelSummaries",
            "provisionedModelName",
            "provisionedModelArn",
        )
        name = names.provisioned_model_name
    else:
        operation, summaries, name_key, arn_key = (
            "list_custom_model_deployments",
            "modelDeploymentSummaries",
            "customModelDeploymentName",
            "customModelDeploymentArn",
        )
        name = names.deployment_name
    try:
        for page in bedrock.get_paginator(operation).paginate(nameContains=name):
            for summary in page[summaries]:
                if summary[name_key] == name:
                    return {**summary, "arn": summary[arn_key]}
    except ClientError as error:
        raise translated_error(error) from None
    return None


def delete_serving(bedrock: Any, names: RunNames, plan: ServingPlan) -> dict[str, Any]:
    """Delete the throughput or deployment this run created, if any, so nothing keeps billing.

    Found by the run's deterministic name, so it works whatever step failed, including a
    create call that timed out after Bedrock accepted it.
    """
    if plan.mode not in (PROVISIONED, ON_DEMAND):
        return {"deleted": False, "reason": "the environment serves nothing"}
    current = find_serving(bedrock, names, plan.mode)
    if current is None:
        return {"deleted": False, "reason": "nothing was created"}
    arn = current["arn"]
    if current.get("commitmentDuration"):
        return {
            "deleted": False,
            "arn": arn,
            "reason": f"under a {current['commitmentDuration']} commitment: it cannot be deleted before "
            f"{current.get('commitmentExpirationTime')}",
        }
    try:
        if plan.mode == PROVISIONED:
            bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
        else:
            bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return {"deleted": False, "arn": arn, "reason": "it was already deleted"}
        translated = translated_error(error)
        if isinstance(translated, BedrockThrottled):
            raise translated from None  # retried on the step's throttling schedule
        raise BedrockRequestRejected(
            f"could not delete the run's {plan.mode} serving {arn}: {error_message(error)}; delete it by hand "
            f"(aws bedrock {delete_command(plan.mode)} {arn})"
        ) from None
    return {"deleted": True, "arn": arn}
