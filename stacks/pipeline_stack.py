"""Stateless resources: everything that can be replaced without touching the data.

Only wiring: each capability (stacks/constructs/) owns its functions, grants, alarms and
nag acknowledgments; this stack hands each one what it needs from the others, the way
`table.grant_read_write_data(function)` reads in CDK's own examples.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from constructs import Construct

from customization.inventory import SafetyNetSettings
from customization.job_watch import WatchSettings
from customization.sweep import SweepSettings
from customization.training import JobEnvironment
from stacks.config import EnvironmentConfig
from stacks.constructs.abort_guard import AbortGuard
from stacks.constructs.alarms import Alarms
from stacks.constructs.bedrock_arns import BedrockArns
from stacks.constructs.capability import CapabilityStack
from stacks.constructs.curves_step import TrainingCurvesStep
from stacks.constructs.customization_role import CustomizationServiceRole
from stacks.constructs.dashboard import PipelineDashboard
from stacks.constructs.evaluation_step import EvaluationStep
from stacks.constructs.graders import Graders
from stacks.constructs.notifications import Notifications
from stacks.constructs.run_slots import RunSlots
from stacks.constructs.safety_net import SafetyNet
from stacks.constructs.serving_steps import ServingSteps
from stacks.constructs.training_steps import TrainingSteps
from stacks.constructs.trigger import Trigger
from stacks.constructs.validation_step import ValidationStep
from stacks.constructs.workflow import CustomizationWorkflow, WorkflowFunctions
from stacks.storage_stack import StorageStack


class PipelineStack(CapabilityStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, storage: StorageStack, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.customization_role = CustomizationServiceRole(
            self,
            "CustomizationServiceRole",
            data_bucket=storage.data_bucket,
            output_bucket=storage.output_bucket,
            key=storage.key,
            job_vpc=config.job_vpc,
            teacher_models=config.customization.teacher_models,
            invocation_log_prefixes=config.customization.invocation_log_prefixes,
            invocation_log_key_arn=config.customization.invocation_log_key_arn,
        )
        self.notifications = Notifications(self, "Notifications", config=config)
        self.slots = RunSlots(self, "RunSlots", key=self.notifications.key, max_runs=config.limits.max_concurrent_runs)
        self.graders = Graders(
            self,
            "Graders",
            deployed=config.graders.deployed,
            defaults=self.notifications.function_defaults,
            customization_policy=self.customization_role.policy,
        )
        self.workflow = self._workflow(config, storage, self.notifications)
        state_machine = self.workflow.state_machine
        defaults = self.notifications.function_defaults
        self.trigger = Trigger(
            self, "Trigger", data_bucket=storage.data_bucket, state_machine=state_machine, defaults=defaults
        )
        AbortGuard(
            self,
            "AbortGuard",
            state_machine=state_machine,
            stop_job=self.training.stop_job,
            dead_letters=self.notifications.dead_letters,
        )
        self.safety_net = None
        if config.serving.time_to_live_hours:
            self.safety_net = SafetyNet(
                self,
                "SafetyNet",
                settings=SafetyNetSettings(config.serving.time_to_live_hours),
                notifications=self.notifications,
                arns=BedrockArns(self, config.name),
                defaults=defaults,
            ).function
        self._observability(config, state_machine)
        CfnOutput(self, "CustomizationRoleArn", value=self.customization_role.role.role_arn)
        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.notifications.topic.topic_arn)
        CfnOutput(self, "EscalationTopicArn", value=self.notifications.escalations.topic_arn)
        CfnOutput(self, "RunSlotsTableName", value=self.slots.table.table_name)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.notifications.dead_letters.queue_url)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)

    def _workflow(
        self, config: EnvironmentConfig, storage: StorageStack, notifications: Notifications
    ) -> CustomizationWorkflow:
        """The steps of a run, each a capability, and the state machine that runs them."""
        arns, defaults = BedrockArns(self, config.name), notifications.function_defaults
        base_models = config.customization.allowed_base_models
        plan = config.serving.plan()
        self.validation = ValidationStep(
            self,
            "Validation",
            run_defaults=config.run_defaults(),
            serving=plan,
            arns=arns,
            data_bucket=storage.data_bucket,
            data_key=storage.key,
            defaults=defaults,
        )
        self.training = TrainingSteps(
            self,
            "Training",
            job_environment=self._job_environment(config, storage),
            base_models=base_models,
            role=self.customization_role.role,
            data_key=storage.key,
            serving=plan,
            slots=self.slots,
            notifications=notifications,
            arns=arns,
            defaults=defaults,
            watch=WatchSettings(config.limits.max_job_hours),
            backstop=Duration.minutes(config.polling.backstop_minutes),
            sweep=SweepSettings(config.evaluation.sweep_metric) if config.limits.max_sweep_variants else None,
        )
        self.curves = TrainingCurvesStep(
            self,
            "TrainingCurves",
            data_bucket=storage.data_bucket,
            output_bucket=storage.output_bucket,
            data_key=storage.key,
            defaults=defaults,
        )
        self._serving_and_evaluation(config, storage, plan, arns, defaults)
        functions = WorkflowFunctions(
            validate=self.validation.function,
            start_job=self.training.start_job,
            watch_job=self.training.watch_job,
            stop_job=self.training.stop_job,
            read_curves=self.curves.function,
            select_winner=self.training.select_winner,
            create_serving=self.serving.create if self.serving else None,
            poll_serving=self.serving.poll if self.serving else None,
            delete_serving=self.serving.delete if self.serving else None,
            evaluate=self.evaluation.function if self.evaluation else None,
            notify=notifications.notify,
        )
        return CustomizationWorkflow(
            self, "Workflow", config=config, functions=functions, defaults=defaults, slots=self.slots
        )

    def _serving_and_evaluation(
        self, config: EnvironmentConfig, storage: StorageStack, plan, arns: BedrockArns, defaults
    ) -> None:
        """Where the environment serves its models: the serving steps and the evaluation."""
        self.serving = self.evaluation = None
        if plan.serves:
            self.serving = ServingSteps(
                self,
                "Serving",
                plan=plan,
                data_key=storage.key,
                arns=arns,
                defaults=defaults,
                delete_when_not_promoted=config.evaluation.delete_serving_when_not_promoted,
            )
            self.serving.grant_delete(self.training.stop_job)
            self.evaluation = EvaluationStep(
                self,
                "Evaluation",
                settings=config.evaluation.settings(),
                serving=plan,
                base_models=config.customization.allowed_base_models,
                data_bucket=storage.data_bucket,
                data_key=storage.key,
                arns=arns,
                defaults=defaults,
            )

    def _job_environment(self, config: EnvironmentConfig, storage: StorageStack) -> JobEnvironment:
        vpc = config.job_vpc
        return JobEnvironment(
            environment=config.name,
            role_arn=self.customization_role.role.role_arn,
            output_bucket=storage.output_bucket.bucket_name,
            kms_key_arn=storage.key.key_arn,
            cost_ceiling_usd=config.limits.cost_ceiling_usd,
            subnet_ids=tuple(vpc.subnet_ids) if vpc else (),
            security_group_ids=tuple(vpc.security_group_ids) if vpc else (),
            teachers=self.customization_role.teacher_identifiers,
            graders=self.graders.arns(),
            invocation_log_prefixes=tuple(config.customization.invocation_log_prefixes),
        )

    def _observability(self, config: EnvironmentConfig, state_machine) -> None:
        """Alarms that page people, and the dashboard that shows how runs go."""
        # WatchJob too: if it cannot tell runs how their jobs ended, they wait until their time limit.
        faults = [self.trigger.starter, self.training.watch_job, self.training.stop_job, self.notifications.notify]
        faults += [self.serving.delete] if self.serving and self.serving.delete else []
        faults += [self.safety_net] if self.safety_net else []
        Alarms(
            self,
            "Alarms",
            environment=config.name,
            state_machine=state_machine,
            dead_letters=self.notifications.dead_letters,
            always_faults=faults,
            topic=self.notifications.topic,
            escalations=self.notifications.escalations,
            notify=self.notifications.notify,
        )
        self.dashboard = PipelineDashboard(
            self,
            "Dashboard",
            environment=config.name,
            state_machine=state_machine,
            dead_letters=self.notifications.dead_letters,
            job_logs=self.training.watch_job.log_group,
            validate_logs=self.validation.function.log_group,
            notify_logs=self.notifications.notify.log_group,
            evaluate_logs=self.evaluation.function.log_group if self.evaluation else None,
        )
