"""Alarms that tell people when the pipeline needs a person: failed and timed-out runs,
dead letters waiting, and errors of the functions where an error is always a fault."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.capability import Capability
from stacks.constructs.functions import PipelineFunction

PERIOD = Duration.minutes(5)


class Alarms(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        state_machine: sfn.StateMachine,
        dead_letters: sqs.IQueue,
        always_faults: Sequence[PipelineFunction],
        topic: sns.ITopic,
        escalations: sns.ITopic,
        notify: PipelineFunction,
    ) -> None:
        """`always_faults`: functions whose every error is a fault. The polling and checking
        steps raise named errors as control flow (ServingNotReady every serving poll,
        DatasetInvalidError on a bad upload): a fault there fails the run, which RunsFailed
        reports with the cause."""
        super().__init__(scope, construct_id)
        metrics = {
            "RunsFailed": state_machine.metric_failed(period=PERIOD),
            "RunsTimedOut": state_machine.metric_timed_out(period=PERIOD),
            "DeadLettersWaiting": dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD),
        }
        for step in always_faults:
            metrics[f"{step.node.id}Errors"] = step.function.metric_errors(period=PERIOD)
        # Alarms about the notification channel itself go to the escalation topic: when the
        # first topic cannot deliver, they still reach someone.
        about_the_channel = {"DeadLettersWaiting", f"{notify.node.id}Errors"}
        self.alarms = []
        for name, metric in metrics.items():
            action = cloudwatch_actions.SnsAction(escalations if name in about_the_channel else topic)
            alarm = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{name} in the {environment} Bedrock customization pipeline",
            )
            alarm.add_alarm_action(action)
            self.alarms.append(alarm)
