"""The environment's CloudWatch dashboard: runs, job durations, rejected datasets, dead
letters, the estimated spend of the runs and how many trained models were promoted, on one page."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from customization.log_events import JOB_COMPLETED, MODEL_EVALUATED, NOTIFICATION_SENT, LogEvent
from customization.validation.upload import DatasetInvalidError

PERIOD = Duration.hours(1)


class PipelineDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        state_machine: sfn.StateMachine,
        dead_letters: sqs.IQueue,
        job_logs: logs.ILogGroup,
        validate_logs: logs.ILogGroup,
        notify_logs: logs.ILogGroup,
        evaluate_logs: logs.ILogGroup | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        namespace = f"BedrockCustomization/{environment}"
        # Figures the functions already log as JSON fields, turned into metrics.
        job_hours = self._metric_from_logs("JobHours", job_logs, namespace, JOB_COMPLETED, "trainingHours", "Maximum")
        spend = self._metric_from_logs(
            "EstimatedTrainingUsd", notify_logs, namespace, NOTIFICATION_SENT, "estimatedTrainingUsd", "Sum"
        )
        rejected = self._rejected_datasets(validate_logs, namespace)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.days(14))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Runs", left=self._runs(state_machine), width=12),
            cloudwatch.GraphWidget(title="Job duration (hours)", left=[job_hours], width=12),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Rejected datasets", left=[rejected], width=8),
            cloudwatch.GraphWidget(
                title="Dead letters waiting",
                left=[dead_letters.metric_approximate_number_of_messages_visible(period=Duration.minutes(5))],
                width=8,
            ),
            cloudwatch.GraphWidget(title="Estimated training spend (USD, estimates)", left=[spend], width=8),
        )
        if evaluate_logs is not None:
            verdicts = [self._verdicts(evaluate_logs, namespace, promoted) for promoted in (True, False)]
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(title="Trained models: promoted / not promoted", left=verdicts, width=12)
            )

    @staticmethod
    def _runs(state_machine: sfn.StateMachine) -> list[cloudwatch.IMetric]:
        return [
            state_machine.metric_started(period=PERIOD, label="started"),
            state_machine.metric_succeeded(period=PERIOD, label="succeeded"),
            state_machine.metric_failed(period=PERIOD, label="failed"),
            state_machine.metric_aborted(period=PERIOD, label="aborted"),
            state_machine.metric_timed_out(period=PERIOD, label="timed out"),
        ]

    def _rejected_datasets(self, validate_logs: logs.ILogGroup, namespace: str) -> cloudwatch.Metric:
        return logs.MetricFilter(
            self,
            "RejectedDatasetsFilter",
            log_group=validate_logs,
            metric_namespace=namespace,
            metric_name="RejectedDatasets",
            # Lambda logs an unhandled exception with its class as errorType.
            filter_pattern=logs.FilterPattern.string_value("$.errorType", "=", DatasetInvalidError.__name__),
            metric_value="1",
        ).metric(statistic="Sum", period=PERIOD)

    def _verdicts(self, log_group, namespace, promoted: bool) -> cloudwatch.Metric:
        return self._log_metric(
            "ModelsPromoted" if promoted else "ModelsNotPromoted",
            log_group,
            namespace,
            MODEL_EVALUATED,
            logs.FilterPattern.boolean_value("$.promoted", promoted),
            "1",
            "Sum",
        ).with_(label="promoted" if promoted else "not promoted")

    def _metric_from_logs(self, name, log_group, namespace, event: LogEvent, field, statistic) -> cloudwatch.Metric:
        """The value of `field` in `event`'s log lines (the numeric comparison also skips lines
        where the value is null: no estimate)."""
        if field not in event.fields:
            raise ValueError(f"{event.message!r} lines do not carry {field}")
        value = f"$.{field}"
        condition = logs.FilterPattern.number_value(value, ">=", 0)
        return self._log_metric(name, log_group, namespace, event, condition, value, statistic)

    def _log_metric(
        self, name, log_group, namespace, event: LogEvent, condition, value, statistic
    ) -> cloudwatch.Metric:
        """A metric from the JSON log lines of `event` that meet `condition`."""
        return logs.MetricFilter(
            self,
            f"{name}Filter",
            log_group=log_group,
            metric_namespace=namespace,
            metric_name=name,
            filter_pattern=logs.FilterPattern.all(
                logs.FilterPattern.string_value("$.message", "=", event.message), condition
            ),
            metric_value=value,
        ).metric(statistic=statistic, period=PERIOD)
