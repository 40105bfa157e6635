"""What a deployed environment's runs left that costs money, found by the runs' tags.

Shared by `python -m tools cleanup` and the scheduled safety net (lambdas/safety_net), so the
two can never disagree on what is the pipeline's and what may be deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from customization.catalog import load_catalog
from customization.naming import PROJECT


@dataclass
class Billable:
    kind: str  # "throughput", "deployment", "custom model"
    name: str
    arn: str
    created: dt.datetime
    cost: str
    deletable: bool
    reason: str

    def age_days(self, now: dt.datetime) -> float:
        return (now - self.created).total_seconds() / 86400


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
                kind="custom model",
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
        except ClientError:
            return False
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
