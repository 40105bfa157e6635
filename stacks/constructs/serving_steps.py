"""The serving steps, where the environment serves its models: CreateServing (provisioned
throughput or an on-demand deployment), PollServing until it is ready, and DeleteServing,
which removes it when the model is not promoted (after a failure, Compensate does)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from customization.serving import PROVISIONED, ServingPlan
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, LIST_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction


class ServingSteps(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        plan: ServingPlan,
        data_key: kms.IKey,
        arns: BedrockArns,
        defaults: FunctionDefaults,
        delete_when_not_promoted: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.plan = plan
        self.resource = arns.serving(plan.mode)
        kind = "ProvisionedModelThroughput" if plan.mode == PROVISIONED else "CustomModelDeployment"
        self._kind = kind
        self.create = PipelineFunction(
            self,
            "CreateServing",
            handler_package="create_serving",
            description="Creates the serving the environment asks for",
            defaults=defaults,
            settings=[plan],
        )
        self._grant_create(kind, data_key, arns)
        self.create.acknowledge_wildcards([arns.custom_models, self.resource], BEDROCK_IDS_REASON)
        self.poll = PipelineFunction(
            self,
            "PollServing",
            handler_package="poll_serving",
            description="Reports whether the serving is ready",
            defaults=defaults,
            settings=[plan],
        )
        self.poll.grant(
            iam.PolicyStatement(actions=[f"bedrock:Get{kind}"], resources=[self.resource], conditions=arns.owned)
        )
        self.poll.acknowledge_wildcards([self.resource], BEDROCK_IDS_REASON)
        self._arns = arns
        # Only where a model that is not promoted loses its serving (after a failure, Compensate deletes).
        self.delete: PipelineFunction | None = None
        if delete_when_not_promoted:
            self.delete = PipelineFunction(
                self,
                "DeleteServing",
                handler_package="delete_serving",
                description="Deletes the serving of a model that was not promoted",
                defaults=defaults,
                settings=[plan],
                star_resource_reason=LIST_REASON,
            )
            self.grant_delete(self.delete)

    def _grant_create(self, kind: str, data_key: kms.IKey, arns: BedrockArns) -> None:
        via_bedrock = {"kms:ViaService": f"bedrock.{Stack.of(self).region}.amazonaws.com"}
        self.create.grant(
            # Create's resource is the custom model it serves (Service Authorization Reference):
            # only this environment's, and what it creates must carry the run's tags.
            iam.PolicyStatement(
                actions=[f"bedrock:Create{kind}"],
                resources=[arns.custom_models],
                conditions=_merged(arns.owned, arns.created_with_run_tags),
            ),
            iam.PolicyStatement(
                actions=["bedrock:TagResource"], resources=[self.resource], conditions=arns.created_with_run_tags
            ),
            # A retry of this run finds what it created by name.
            iam.PolicyStatement(actions=[f"bedrock:Get{kind}"], resources=[self.resource], conditions=arns.owned),
            # Serving needs the model Active (CreateCustomModelDeployment reference): checked first.
            iam.PolicyStatement(
                actions=["bedrock:GetCustomModel"], resources=[arns.custom_models], conditions=arns.owned
            ),
            # The job encrypted the model with the data key; whoever serves it must be able to use
            # that key (on-demand deployment prerequisites), and only through Bedrock.
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": via_bedrock},
            ),
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": via_bedrock, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        )

    def grant_delete(self, function: PipelineFunction) -> None:
        """Find the run's throughput or deployment by name in the list (a Get of one that was
        never created would be refused by the tag condition, not answered "not found"), and
        delete it if it is this environment's."""
        function.grant(
            iam.PolicyStatement(actions=[f"bedrock:List{self._kind}s"], resources=["*"]),
            iam.PolicyStatement(
                actions=[f"bedrock:Delete{self._kind}"], resources=[self.resource], conditions=self._arns.owned
            ),
        )
        function.acknowledge_wildcards([self.resource], BEDROCK_IDS_REASON)


def _merged(*conditions: dict) -> dict:
    """One Condition block from several: the operators' keys together (all must hold)."""
    merged: dict = {}
    for condition in conditions:
        for operator, keys in condition.items():
            merged.setdefault(operator, {}).update(keys)
    return merged
