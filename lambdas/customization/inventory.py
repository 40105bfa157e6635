"""What a deployed environment's runs left that costs money, found by the runs' tags, and
the sweep that deletes what is past its time.

Shared by `python -m tools cleanup` and the scheduled safety net (lambdas/safety_net), so the
two can never disagree on what is the pipeline's, what may be deleted, and how a failed
deletion is reported: item by item, the rest carrying on.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from customization.bedrock_errors import error_code, error_message
from customization.catalog import load_catalog
from customization.naming import PROJECT
from customization.settings import required

CUSTOM_MODEL = "custom model"


@dataclass
class Billable:
    kind: str  # "throughput", "deployment", CUSTOM_MODEL
    name: str
    arn: str
    created: dt.datetime
    cost: str
    deletable: bool
    reason: str

    def age_days(self, now: dt.datetime) -> float:
        return (now - self.created).total_seconds() / 86400

    def age_hours(self, now: dt.datetime) -> float:
        return (now - self.created).total_seconds() / 3600

    @property
    def serving(self) -> bool:
        return self.kind != CUSTOM_MODEL


@dataclass(frozen=True)
class SafetyNetSettings:
    """The hourly sweep of forgotten serving (`serving.timeToLiveHours` in cdk.json)."""

    time_to_live_hours: float

    def to_environment(self) -> dict[str, str]:
        return {"SERVING_TTL_HOURS": str(self.time_to_live_hours)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SafetyNetSettings:
        return cls(time_to_live_hours=float(required(environ, "SERVING_TTL_HOURS")))


@dataclass
class Sweep:
    """What one sweep did: deleted, due soon (within the warning window), and failed, with why."""

    deleted: list[Billable] = field(default_factory=list)
    due: list[Billable] = field(default_factory=list)
    failed: list[tuple[Billable, str]] = field(default_factory=list)


def sweep(
    bedrock: Any,
    items: Iterable[Billable],
    now: dt.datetime,
    *,
    older_than_hours: float,
    warning_hours: float = 0.0,
    deleting: bool = True,
) -> Sweep:
    """Delete each deletable item at least `older_than_hours` old; a failed deletion is recorded
    with its reason and the sweep carries on with the next item."""
    result = Sweep()
    for item in items:
        if not item.deletable:
            continue
        age = item.age_hours(now)
        if age >= older_than_hours:
            if not deleting:
                continue
            try:
                delete(bedrock, item)
            except ClientError as error:
                result.failed.append((item, f"{error_code(error)}: {error_message(error)}"))
            else:
                result.deleted.append(item)
        elif warning_hours and age >= older_than_hours - warning_hours:
            result.due.append(item)
    return result


def billables(bedrock: Any, environment: str, now: dt.datetime) -> list[Billable]:
    """What this environment's runs left that costs money, newest first."""
    catalog = load_catalog()
    ours = _tag_filter(bedrock, environment)
    found: list[Billable] = []
    served_models: set[str] = set()
    for item in _pages(bedrock, "list_provisioned_model_throughputs", "provisionedModelSummaries"):
        served_models.add(item["modelArn"])
        if not ours(item["provisionedModelArn"]):
            continue
        hourly = _throughput_price(catalog, item)
        committed = item.get("commitmentDuration")
        found.append(
            Billable(
                kind="throughput",
                name=item["provisionedModelName"],
                arn=item["provisionedModelArn"],
                created=item["creationTime"],
                cost=f"{'~$' + format(hourly, ',.2f') if hourly else 'unknown'}/h x {item['modelUnits']} unit(s)",
                deletable=not committed,
                reason=f"{committed} commitment until {item['commitmentExpirationTime']:%Y-%m-%d}"
                if committed
                else "bills hourly",
            )
        )
    for item in _pages(bedrock, "list_custom_model_deployments", "modelDeploymentSummaries"):
        served_models.add(item["modelArn"])
        if ours(item["customModelDeploymentArn"]):
            found.append(
                Billable(
                    kind="deployment",
                    name=item["customModelDeploymentName"],
                    arn=item["customModelDeploymentArn"],
                    created=item["createdAt"],
                    cost="per token when invoked",
                    deletable=True,
                    reason="on-demand: no idle cost, but keeps the model invocable",
                )
            )
    for item in _pages(bedrock, "list_custom_models", "modelSummaries", isOwned=True):
        if not ours(item["modelArn"]):
            continue
        storage = _storage_price(catalog, item)
        in_use = item["modelArn"] in served_models
        found.append(
            Billable(
                kind=CUSTOM_MODEL,
                name=item["modelName"],
                arn=item["modelArn"],
                created=item["creationTime"],
                cost=f"~${storage:,.2f}/month" if storage is not None else "storage/month unknown",
                deletable=not in_use,
                reason="serving uses it" if in_use else "stored, not served",
            )
        )
    return sorted(found, key=lambda b: b.created, reverse=True)


def delete(bedrock: Any, item: Billable) -> str:
    if item.kind == "throughput":
        bedrock.delete_provisioned_model_throughput(provisionedModelId=item.arn)
    elif item.kind == "deployment":
        bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=item.arn)
    else:
        bedrock.delete_custom_model(modelIdentifier=item.arn)
    return "deleted"


def _tag_filter(bedrock: Any, environment: str):
    def ours(arn: str) -> bool:
        try:
            tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
        except ClientError as error:
            # Gone between the list and this call: not ours to count. Any other error (access
            # denied, throttled) must not pass for "nothing billable left".
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return tags.get("project") == PROJECT and tags.get("environment") == environment

    return ours


def _pages(bedrock: Any, operation: str, key: str, **params) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        page = getattr(bedrock, operation)(**params, **({"nextToken": token} if token else {}))
        items += page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return items


def _model_id(arn: str) -> str:
    """`amazon.nova-micro-v1:0:128k` from a foundation-model or custom-model ARN."""
    return arn.split("/")[1] if "/" in arn else arn


def _throughput_price(catalog, item) -> float | None:
    model = catalog.models.get(_model_id(item.get("foundationModelArn", "")))
    if model is None:
        return None
    key = item.get("commitmentDuration") or "noCommitment"
    return model.prices.provisioned_per_hour_per_unit.get(key)


def _storage_price(catalog, item) -> float | None:
    model = catalog.models.get(_model_id(item.get("baseModelArn", "")))
    return model.prices.storage_per_month if model else None
