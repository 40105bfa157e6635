"""The training steps: StartCustomizationJob (the cost guard, then the job), PollJob, and
StopJob, which the time limit and the abort guard call so that no job trains on alone."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from customization.serving import ServingPlan
from customization.training import JobEnvironment
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction


class TrainingSteps(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_environment: JobEnvironment,
        base_models: list[str],
        role: iam.IRole,
        data_key: kms.IKey,
        serving: ServingPlan,
        arns: BedrockArns,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.start_job = PipelineFunction(
            self,
            "StartCustomizationJob",
            handler_package="start_job",
            description="Checks the cost ceiling and starts the Bedrock customization job",
            defaults=defaults,
            settings=[job_environment],
        )
        self._grant_start(base_models, role, data_key, arns)
        self.poll_job = PipelineFunction(
            self,
            "PollJob",
            handler_package="poll_job",
            description="Reports the customization job's status and metrics",
            defaults=defaults,
        )
        self.poll_job.grant(iam.PolicyStatement(actions=["bedrock:GetModelCustomizationJob"], resources=[arns.jobs]))
        self.stop_job = PipelineFunction(
            self,
            "StopJob",
            handler_package="stop_job",
            description="Stops the run's job (and serving) when the run is aborted or over its time limit",
            defaults=defaults,
            settings=[serving],
            # Invoked asynchronously by EventBridge: events it fails on are kept for a person.
            asynchronous=True,
        )
        self.stop_job.grant(
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
                resources=[arns.jobs],
            )
        )
        for step in (self.start_job, self.poll_job, self.stop_job):
            step.acknowledge_wildcards([arns.jobs], BEDROCK_IDS_REASON)

    def _grant_start(self, base_models: list[str], role: iam.IRole, data_key: kms.IKey, arns: BedrockArns) -> None:
        self.start_job.grant(
            iam.PolicyStatement(
                actions=["bedrock:CreateModelCustomizationJob"],
                resources=[*arns.foundation_models(base_models), arns.custom_models, arns.jobs],
            ),
            iam.PolicyStatement(actions=["bedrock:GetModelCustomizationJob"], resources=[arns.jobs]),
            iam.PolicyStatement(actions=["bedrock:TagResource"], resources=[arns.jobs, arns.custom_models]),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            ),
            # customModelKmsKeyId: Bedrock encrypts the custom model with the data key on our behalf.
            iam.PolicyStatement(
                actions=["kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey", "kms:Decrypt"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"bedrock.{Stack.of(self).region}.amazonaws.com"}},
            ),
        )
        self.start_job.acknowledge_wildcards([arns.custom_models], BEDROCK_IDS_REASON)
