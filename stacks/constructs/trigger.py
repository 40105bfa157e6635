"""The trigger: an upload of a training file under datasets/<name>/ starts one run."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from customization import layout
from customization.settings import TriggerSettings
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction

TRAINING_FILE_PATTERNS = [f"{layout.DATASETS_PREFIX}*/{name}" for name in layout.TRAINING_FILES]


class Trigger(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        state_machine: sfn.IStateMachine,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.starter = PipelineFunction(
            self,
            "StartRun",
            handler_package="start_run",
            description="Starts one execution per uploaded training file version",
            defaults=defaults,
            settings=[TriggerSettings(state_machine_arn=state_machine.state_machine_arn)],
            asynchronous=True,
        )
        uploads = data_bucket.arn_for_objects(f"{layout.DATASETS_PREFIX}*")
        self.starter.grant(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn]),
            # Only to tell a URL-encoded key from a real one ("a+b.jsonl"): HeadObject.
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[uploads]),
        )
        self.starter.acknowledge_wildcards(
            [uploads], "HeadObject on uploaded datasets (datasets/<name>/...), named at upload time"
        )
        self.rule = events.Rule(
            self,
            "TrainingFileUploaded",
            description="A training file under datasets/<name>/ starts a run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [data_bucket.bucket_name]},
                    "object": {"key": [{"wildcard": pattern} for pattern in TRAINING_FILE_PATTERNS]},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.starter.function,
                dead_letter_queue=defaults.dead_letters,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )
