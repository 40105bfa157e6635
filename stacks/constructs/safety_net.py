"""The dev safety net: every hour, delete this environment's no-commitment serving that is
older than serving.timeToLiveHours, and warn an hour before."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from customization.inventory import SafetyNetSettings
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction
from stacks.constructs.notifications import Notifications


class SafetyNet(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: SafetyNetSettings,
        notifications: Notifications,
        arns: BedrockArns,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "SafetyNet",
            handler_package="safety_net",
            description="Deletes forgotten no-commitment serving after serving.timeToLiveHours, with notifications",
            defaults=defaults,
            settings=[settings, notifications.topic_settings, notifications.dead_letter_settings],
            timeout=Duration.minutes(5),
            asynchronous=True,
            star_resource_reason="X-Ray tracing, and Bedrock's List* actions, which take no resource-level "
            "permissions; deletion is scoped to throughput and deployments, and in code to this environment's "
            "tagged, uncommitted ones",
        )
        listed = [arns.of(r) for r in ("provisioned-model/*", "custom-model-deployment/*", "custom-model/*")]
        self.function.grant(
            # List actions take no resource-level permissions (Service Authorization Reference, Bedrock).
            iam.PolicyStatement(
                actions=[
                    "bedrock:ListProvisionedModelThroughputs",
                    "bedrock:ListCustomModelDeployments",
                    "bedrock:ListCustomModels",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(actions=["bedrock:ListTagsForResource"], resources=listed),
            # Reading tags must work on any resource, to tell this environment's from the others;
            # deleting works on this environment's only.
            iam.PolicyStatement(
                actions=["bedrock:DeleteProvisionedModelThroughput", "bedrock:DeleteCustomModelDeployment"],
                resources=listed[:2],
                conditions=arns.owned,
            ),
        )
        notifications.grant_publish(self.function)
        self.function.acknowledge_wildcards(listed, BEDROCK_IDS_REASON)
        self.schedule = events.Rule(
            self,
            "SafetyNetSchedule",
            description="Hourly sweep of forgotten serving",
            schedule=events.Schedule.rate(Duration.hours(1)),
        )
        self.schedule.add_target(
            targets.LambdaFunction(self.function.function, dead_letter_queue=defaults.dead_letters, retry_attempts=2)
        )
