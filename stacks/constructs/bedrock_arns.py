"""ARNs of the Bedrock resources the pipeline's functions act on, in one stack's account and
Region: what every capability grants on, written once."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack

from customization.catalog import load_catalog
from customization.naming import ALL_RUN_TAG_KEYS, PROJECT
from customization.serving import PROVISIONED

# Why the grants end in a wildcard: the reason every acknowledgment of one gives.
BEDROCK_IDS_REASON = (
    "Bedrock assigns job, custom model, throughput and deployment IDs at creation, so the grant is the "
    "resource type in this account and region; the names the pipeline picks are not part of these ARNs. "
    "Actions on existing resources are confined to this environment's by their project and environment "
    "tags (aws:ResourceTag), and creation must tag with them (aws:RequestTag, aws:TagKeys): the Service "
    "Authorization Reference lists both keys for these resource types and Create actions"
)
# Why a function that finds the run's resources by name may list "*".
LIST_REASON = (
    "X-Ray tracing, and Bedrock's List* actions, which take no resource-level permissions (Service "
    "Authorization Reference): the run's job and serving are found by name in the list, because a Get of "
    "one that does not exist is refused by the tag condition rather than answered as not found"
)


# Where the tag conditions come from (Service Authorization Reference, "Actions, resources, and
# condition keys for Amazon Bedrock", read 2026-11-29,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html):
# - model-customization-job, custom-model, provisioned-model and custom-model-deployment take
#   aws:ResourceTag/${TagKey} (Resource types table), so every Get, Stop, Delete and Invoke on them
#   can be confined to the resources this environment's runs tagged;
# - CreateModelCustomizationJob, CreateProvisionedModelThroughput, CreateCustomModelDeployment
#   and TagResource take aws:RequestTag/${TagKey} and aws:TagKeys, so creation can require the tags;
# - the List* actions take no resource and no condition key: they are granted on "*", and the
#   code keeps only what carries this environment's name and tags.
class BedrockArns:
    """ARNs and tag conditions for one environment's Bedrock resources."""

    def __init__(self, stack: Stack, environment: str) -> None:
        self._stack = stack
        self.environment = environment

    @property
    def owned(self) -> dict[str, Any]:
        """Condition: the resource carries this environment's project and environment tags."""
        return {
            "StringEquals": {
                "aws:ResourceTag/project": PROJECT,
                "aws:ResourceTag/environment": self.environment,
            }
        }

    @property
    def created_with_run_tags(self) -> dict[str, Any]:
        """Condition: the request tags what it creates as a run of this environment, with the
        run's tag keys and no others."""
        return {
            "StringEquals": {
                "aws:RequestTag/project": PROJECT,
                "aws:RequestTag/environment": self.environment,
            },
            "ForAllValues:StringEquals": {"aws:TagKeys": list(ALL_RUN_TAG_KEYS)},
        }

    @property
    def customized_from_own_models(self) -> dict[str, Any]:
        """CreateModelCustomizationJob's condition: created with the run's tags, and, where the
        base is a custom model (re-fine-tuning), that model is this environment's.

        IAM authorizes the action on each resource of the request: the base (a foundation model,
        or the parent custom model) and the custom model it creates, both `custom-model/*` for a
        re-fine-tuning run. aws:ResourceTag is checked IfExists: the model being created and the
        foundation models carry no tags yet, so a plain StringEquals would refuse every job, while
        a parent tagged as another environment's is refused. An untagged custom model of the
        account is not refused here; ValidateDataset refuses it (it checks the parent's tags)."""
        return {
            **self.created_with_run_tags,
            "StringEqualsIfExists": {
                "aws:ResourceTag/project": PROJECT,
                "aws:ResourceTag/environment": self.environment,
            },
        }

    def of(self, resource: str) -> str:
        """`arn:<partition>:bedrock:<region>:<account>:<resource>` for `custom-model/*` and the like."""
        kind, _, name = resource.partition("/")
        return self._stack.format_arn(service="bedrock", resource=kind, resource_name=name)

    @property
    def jobs(self) -> str:
        return self.of("model-customization-job/*")

    @property
    def custom_models(self) -> str:
        return self.of("custom-model/*")

    def serving(self, mode: str) -> str:
        """Every throughput (`provisioned`) or every on-demand deployment of the account."""
        return self.of("provisioned-model/*" if mode == PROVISIONED else "custom-model-deployment/*")

    def foundation_models(self, model_ids: list[str]) -> list[str]:
        """The base models to customize (foundation-model ARNs carry no account)."""
        return [
            self._stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=model)
            for model in model_ids
        ]

    def invocable_base_models(self, model_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """What invoking each base model on demand needs: the in-Region model, or an inference
        profile plus the model in every Region the profile routes to. Returns the ARNs to grant
        as they are, and {model ARN in any Region: the profile it is reached by}."""
        direct: list[str] = []
        through_profile: dict[str, str] = {}
        for model_id in model_ids:
            invocation = load_catalog().model(model_id).invocation
            if invocation.inference_profile:
                profile = self._stack.format_arn(
                    service="bedrock", resource="inference-profile", resource_name=invocation.model_id
                )
                direct.append(profile)
                any_region = f"arn:{self._stack.partition}:bedrock:*::foundation-model/{invocation.base_model_id}"
                through_profile[any_region] = profile
            else:
                direct.append(
                    self._stack.format_arn(
                        service="bedrock", account="", resource="foundation-model", resource_name=invocation.model_id
                    )
                )
        return direct, through_profile
