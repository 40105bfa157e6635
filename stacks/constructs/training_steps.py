"""The training steps: StartCustomizationJob (the cost guard, then the job); WatchJob, which
learns how the job ended from Bedrock's event (the rule JobStateChanged) or from an hourly
backstop (JobWatchBackstop) and tells the run waiting on its task token; and StopJob, which
compensation and the abort guard call so that no job trains on alone."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from customization.job_watch import WatchSettings
from customization.serving import ServingPlan
from customization.sweep import SweepSettings
from customization.training import JobEnvironment
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, LIST_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction
from stacks.constructs.notifications import Notifications
from stacks.constructs.run_slots import RunSlots

# Why WatchJob may send task results on "*": what confines it.
SEND_TASK_REASON = (
    "X-Ray tracing, and states:SendTaskSuccess/SendTaskFailure, which take no resource types or condition "
    "keys (Service Authorization Reference, Step Functions): the function only answers tokens it reads from "
    "this environment's Coordination table, which only this state machine's WaitForJob task writes, and a "
    "token names one waiting task of one execution"
)


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
        watch: WatchSettings,
        backstop: Duration,
        sweep: SweepSettings | None = None,
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
        self.watch_job = self._watch_job(role, slots, arns, defaults, watch, backstop)
        self.stop_job = self._stop_job(serving, slots, notifications, arns, defaults)
        for step in (self.start_job, self.watch_job, self.stop_job):
            step.acknowledge_wildcards([arns.jobs], BEDROCK_IDS_REASON)
        # Only where the environment allows sweeps (limits.maxSweepVariants > 0).
        self.select_winner = self._select_winner(sweep, arns, defaults) if sweep else None

    def _select_winner(self, sweep: SweepSettings, arns: BedrockArns, defaults: FunctionDefaults) -> PipelineFunction:
        select = PipelineFunction(
            self,
            "SelectWinner",
            handler_package="select_winner",
            description="Picks a sweep's winner by validation loss and deletes the losers' custom models",
            defaults=defaults,
            settings=[sweep],
        )
        # The losers' custom models: only ever this environment's (tag-conditioned).
        select.grant(
            iam.PolicyStatement(
                actions=["bedrock:DeleteCustomModel"], resources=[arns.custom_models], conditions=arns.owned
            )
        )
        select.acknowledge_wildcards([arns.custom_models], BEDROCK_IDS_REASON)
        return select

    def _watch_job(
        self,
        role: iam.IRole,
        slots: RunSlots,
        arns: BedrockArns,
        defaults: FunctionDefaults,
        watch: WatchSettings,
        backstop: Duration,
    ) -> PipelineFunction:
        watch_job = PipelineFunction(
            self,
            "WatchJob",
            handler_package="watch_job",
            description="Tells the waiting run how its customization job ended: from Bedrock's event, or the backstop",
            defaults=defaults,
            settings=[slots.settings, watch],
            # Invoked by EventBridge too: events it fails on are kept for a person.
            asynchronous=True,
            star_resource_reason=SEND_TASK_REASON,
        )
        watch_job.grant(
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob"], resources=[arns.jobs], conditions=arns.owned
            ),
            # No resource types for these actions (Service Authorization Reference, Step Functions).
            iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=["*"]),
        )
        slots.grant_tokens(watch_job)
        # Bedrock's event for this environment's jobs: the customization role is this environment's.
        self.job_events = events.Rule(
            self,
            "JobStateChanged",
            description="A customization job of this environment ended: tell the run that waits",
            event_pattern=events.EventPattern(
                source=["aws.bedrock"],
                detail_type=["Model Customization Job State Change"],
                detail={"jobStatus": ["Completed", "Failed", "Stopped"], "roleArn": [role.role_arn]},
            ),
        )
        self.backstop = events.Rule(
            self,
            "JobWatchBackstop",
            description="In case a job's event was lost: read the status of every job a run waits for",
            schedule=events.Schedule.rate(backstop),
        )
        for rule in (self.job_events, self.backstop):
            rule.add_target(
                targets.LambdaFunction(
                    watch_job.function,
                    dead_letter_queue=defaults.dead_letters,
                    retry_attempts=8,
                    max_event_age=Duration.hours(6),
                )
            )
        return watch_job

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
            # A re-fine-tuning run's base is a custom model: only one of this environment's.
            iam.PolicyStatement(
                actions=["bedrock:CreateModelCustomizationJob"],
                resources=[*arns.foundation_models(base_models), arns.custom_models],
                conditions=arns.customized_from_own_models,
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
