"""ARNs of the Bedrock resources the pipeline's functions act on, in one stack's account and
Region: what every capability grants on, written once."""

from __future__ import annotations

from aws_cdk import Stack

from customization.catalog import load_catalog
from customization.serving import PROVISIONED

# Why the grants end in a wildcard: the reason every acknowledgment of one gives.
BEDROCK_IDS_REASON = (
    "Bedrock assigns job, custom model, throughput and deployment IDs at creation, so the grant is the "
    "resource type in this account and region; the names the pipeline picks are not part of these ARNs"
)


class BedrockArns:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack

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
