"""The training steps: StartCustomizationJob (the cost guard, then the job), PollJob, and
StopJob, which the time limit and the abort guard call so that no job trains on alone."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from customization.serving import ServingPlan
from customization.training import JobEnvironment
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, LIST_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction
from stacks.constructs.notifications import Notifications
from stacks.constructs.run_slots import RunSlots


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
        slots: RunSlots,
        notifications: Notifications,
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
        self.poll_job.grant(
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob"], resources=[arns.jobs], conditions=arns.owned
            )
        )
        self.stop_job = self._stop_job(serving, slots, notifications, arns, defaults)
        for step in (self.start_job, self.poll_job, self.stop_job):
            step.acknowledge_wildcards([arns.jobs], BEDROCK_IDS_REASON)

    def _stop_job(
        self,
        serving: ServingPlan,
        slots: RunSlots,
        notifications: Notifications,
        arns: BedrockArns,
        defaults: FunctionDefaults,
    ) -> PipelineFunction:
        stop_job = PipelineFunction(
            self,
            "StopJob",
            handler_package="stop_job",
            description="Stops the run's job and deletes its serving when the run fails, is aborted or times out",
            defaults=defaults,
            settings=[serving, slots.settings, notifications.topic_settings, notifications.dead_letter_settings],
            # Invoked asynchronously by EventBridge: events it fails on are kept for a person.
            asynchronous=True,
            star_resource_reason=LIST_REASON,
        )
        stop_job.grant(
            # The job is looked up by name in the list first: a Get of a job that was never
            # created would be refused by the tag condition (nothing carries the tags), not
            # answered with "not found". List actions take no resource (Service Authorization
            # Reference): "*".
            iam.PolicyStatement(actions=["bedrock:ListModelCustomizationJobs"], resources=["*"]),
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
                resources=[arns.jobs],
                conditions=arns.owned,
            ),
        )
        # The abort guard gives back the slot of an aborted run and tells people.
        slots.grant_release(stop_job)
        notifications.grant_publish(stop_job)
        return stop_job

    def _grant_start(self, base_models: list[str], role: iam.IRole, data_key: kms.IKey, arns: BedrockArns) -> None:
        region = Stack.of(self).region
        self.start_job.grant(
            # The action's resources are the base model and the custom model it creates (no job
            # resource: Service Authorization Reference); it must tag both as this environment's.
            iam.PolicyStatement(
                actions=["bedrock:CreateModelCustomizationJob"],
                resources=[*arns.foundation_models(base_models), arns.custom_models],
                conditions=arns.created_with_run_tags,
            ),
            # A retry of this run finds its job by name: only ever one of this environment's.
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob"], resources=[arns.jobs], conditions=arns.owned
            ),
            iam.PolicyStatement(
                actions=["bedrock:TagResource"],
                resources=[arns.jobs, arns.custom_models],
                conditions=arns.created_with_run_tags,
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            ),
            # customModelKmsKeyId: Bedrock encrypts the custom model with the data key on our behalf.
            iam.PolicyStatement(
                actions=["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}},
            ),
            # Grants only for Bedrock's own use of the key (kms:GrantIsForAWSResource, KMS
            # developer guide "AWS KMS condition keys", read 2026-11-29).
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[data_key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"},
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            ),
        )
        self.start_job.acknowledge_wildcards([arns.custom_models], BEDROCK_IDS_REASON)
