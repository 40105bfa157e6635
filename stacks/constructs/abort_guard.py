"""The abort guard: an execution that is aborted or times out stops its Bedrock job, deletes
its serving, gives back its slot and tells people, since the state machine can no longer do
any of it; a failed execution has its job stopped and its slot freed once more, in case its own
compensation could not finish; a successful one has its slot freed once more. So no way a run
ends leaves anything training or billing, or a slot held."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.capability import Capability
from stacks.constructs.functions import PipelineFunction


class AbortGuard(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        stop_job: PipelineFunction,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "RunEnded",
            description="An execution that ends stops its Bedrock job if it trains on, and frees its slot",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    # SUCCEEDED too: only its slot, in case the run could not give it back.
                    "status": ["ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED"],
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                stop_job.function,
                dead_letter_queue=dead_letters,
                retry_attempts=8,
                max_event_age=Duration.hours(6),
            )
        )
