"""The customization workflow as a Step Functions state machine (Standard).

ValidateDataset -> StartCustomizationJob -> PollJob -> [CreateServing -> PollServing ->
EvaluateModel -> (DeleteServingNotPromoted)] -> NotifySuccess. Waiting is done by Retry on a named error (JobStillRunning,
ServingNotReady, CapacityUnavailable) rather than a Wait/Task/Choice loop: each poll then
costs one state transition instead of three, which is how a 12-hour job stays under 60
transitions while completion is still noticed within the poll ceiling (see
`poll_schedule` and `make bench`). Every failure ends in NotifyFailure and a Fail state
whose error and cause say what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from customization import run_state
from customization.serving import NONE
from stacks.config import EnvironmentConfig
from stacks.constructs.functions import FunctionDefaults, PipelineFunction
from stacks.nag import acknowledge

# Lambda's own transient errors, retried on every task.
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
BEDROCK_TRANSIENT_ERRORS = ["BedrockThrottled"]
# A step makes a few API calls; validation, which reads the whole dataset, gets its own.
STEP_TIMEOUT = Duration.minutes(2)
# The function's own limit (15 min) plus a minute; its throttling retries can repeat it.
EVALUATION_TIMEOUT = Duration.minutes(16)
# Its 16 minutes, up to five more times on BedrockThrottled with their waits (5 min): 101 min.
EVALUATION_HOURS = 2


@dataclass(frozen=True)
class PollSchedule:
    """Retry settings that wait up to `limit` between a first and a largest interval."""

    first: Duration
    largest: Duration
    backoff_rate: float
    attempts: int

    @classmethod
    def covering(cls, limit_seconds: float, first_s: float, largest_s: float, backoff: float) -> PollSchedule:
        waited, interval, attempts = 0.0, first_s, 0
        while waited < limit_seconds:
            waited += min(interval, largest_s)
            interval *= backoff
            attempts += 1
        return cls(Duration.seconds(round(first_s)), Duration.seconds(round(largest_s)), backoff, max(attempts, 1))

    def retry(self, task: sfn.TaskStateBase, error: str) -> None:
        """Make `task` wait by retrying on `error` with this schedule (no jitter: the schedule is the design)."""
        task.add_retry(
            errors=[error],
            interval=self.first,
            max_delay=self.largest,
            backoff_rate=self.backoff_rate,
            max_attempts=self.attempts,
            jitter_strategy=sfn.JitterType.NONE,
        )

    def delays(self) -> list[float]:
        """The waits Step Functions will make, in seconds (without jitter, which is off)."""
        first, largest = self.first.to_seconds(), self.largest.to_seconds()
        return [min(first * self.backoff_rate**n, largest) for n in range(self.attempts)]


def job_poll_schedule(config: EnvironmentConfig) -> PollSchedule:
    polling = config.polling
    return PollSchedule.covering(
        config.limits.max_job_hours * 3600,
        polling.first_poll_minutes * 60,
        polling.max_poll_minutes * 60,
        polling.backoff_rate,
    )


def serving_poll_schedule(config: EnvironmentConfig) -> PollSchedule:
    return PollSchedule.covering(config.limits.max_serving_setup_hours * 3600, 60, 300, 1.5)


def capacity_wait_schedule(config: EnvironmentConfig) -> PollSchedule:
    return PollSchedule.covering(config.limits.quota_wait_hours * 3600, 300, 1800, 1.5)


def execution_timeout(config: EnvironmentConfig) -> Duration:
    limits = config.limits
    # Every bounded wait, plus an hour for validation, notifications and retries.
    hours = limits.quota_wait_hours + limits.max_job_hours + limits.max_serving_setup_hours + 1
    if config.serving.mode != NONE:
        hours += EVALUATION_HOURS
    return Duration.minutes(round(hours * 60))


@dataclass(frozen=True)
class WorkflowFunctions:
    validate: PipelineFunction
    start_job: PipelineFunction
    poll_job: PipelineFunction
    stop_job: PipelineFunction
    create_serving: PipelineFunction | None
    poll_serving: PipelineFunction | None
    delete_serving: PipelineFunction | None
    evaluate: PipelineFunction | None
    notify: PipelineFunction


class CustomizationWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        functions: WorkflowFunctions,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        notify_failure = self._failure_path(functions)
        notify_success = self._task(
            "NotifySuccess",
            functions.notify,
            {"outcome": "succeeded", "state": sfn.JsonPath.entire_payload, "executionArn": sfn.JsonPath.execution_id},
            result_path=run_state.NOTIFICATION,
        )
        succeeded = sfn.Succeed(self, "RunSucceeded")
        chain = self._training(config, functions, notify_failure)
        if config.serving.mode == NONE:
            chain = chain.next(notify_success)
        else:
            chain = chain.next(self._serving(config, functions, notify_failure, notify_success))
        notify_success.add_catch(succeeded, errors=["States.ALL"], result_path=run_state.NOTIFICATION_ERROR)
        notify_success.next(succeeded)
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=defaults.log_retention,
            encryption_key=defaults.log_key,
            removal_policy=defaults.removal_policy,
        )
        self.role = self._role(functions)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=execution_timeout(config),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment=f"Bedrock customization ({config.name}): validate, train, serve, notify",
            # Its policy below is complete: CDK's automatic grants would add an inline policy
            # with `function:*` version wildcards that the tasks never invoke.
            role=self.role.without_policy_updates(),
        )

    def _failure_path(self, functions: WorkflowFunctions) -> sfn.TaskStateBase:
        """NotifyFailure, then a Fail state whose error and cause say what happened."""
        fail = sfn.Fail(
            self, "RunFailed", error_path=f"{run_state.FAILURE}.Error", cause_path=f"{run_state.FAILURE}.Cause"
        )
        notify_failure = self._task(
            "NotifyFailure",
            functions.notify,
            {"outcome": "failed", "state": sfn.JsonPath.entire_payload, "executionArn": sfn.JsonPath.execution_id},
            result_path=run_state.NOTIFICATION,
        )
        # A failed notification must not hide the run's own failure: the Fail state still follows.
        notify_failure.add_catch(fail, errors=["States.ALL"], result_path=run_state.NOTIFICATION_ERROR)
        notify_failure.next(fail)
        return notify_failure

    def _training(self, config: EnvironmentConfig, functions: WorkflowFunctions, notify_failure) -> sfn.Chain:
        """ValidateDataset -> StartCustomizationJob -> PollJob, with the job's time limit."""
        validate = self._task(
            "ValidateDataset",
            functions.validate,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD)},
            result_path=run_state.VALIDATION,
            timeout=Duration.minutes(15),
        )
        start_job = self._task(
            "StartCustomizationJob",
            functions.start_job,
            {
                "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                "executionArn": sfn.JsonPath.execution_id,
            },
            result_path=run_state.JOB,
        )
        if config.limits.quota_wait_hours > 0:
            capacity_wait_schedule(config).retry(start_job, "CapacityUnavailable")
        poll_job = self._task(
            "PollJob",
            functions.poll_job,
            {"jobName": sfn.JsonPath.string_at(f"{run_state.JOB}.jobName")},
            result_path=run_state.RESULT,
        )
        job_poll_schedule(config).retry(poll_job, "JobStillRunning")
        poll_job.add_catch(
            self._time_limit(config, functions, notify_failure),
            errors=["JobStillRunning"],
            result_path=run_state.FAILURE,
        )
        for step in (validate, start_job, poll_job):
            step.add_catch(notify_failure, errors=["States.ALL"], result_path=run_state.FAILURE)
        return validate.next(start_job).next(poll_job)

    def _time_limit(self, config: EnvironmentConfig, functions: WorkflowFunctions, notify_failure) -> sfn.IChainable:
        """A job still running when the poll schedule (limits.maxJobHours) runs out is stopped."""
        stop_after_limit = self._task(
            "StopJobAfterTimeLimit",
            functions.stop_job,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD)},
            result_path=run_state.CLEANUP,
        )
        time_limit = sfn.Pass(
            self,
            "JobTimeLimitExceeded",
            parameters={
                "Error": "JobTimeLimitExceeded",
                "Cause": f"The customization job ran past limits.maxJobHours ({config.limits.max_job_hours:g} h) "
                "and the pipeline stopped it. Raise the limit in cdk.json or train on less data.",
            },
            result_path=run_state.FAILURE,
        )
        stop_after_limit.add_catch(time_limit, errors=["States.ALL"], result_path=run_state.CLEANUP_ERROR)
        stop_after_limit.next(time_limit)
        time_limit.next(notify_failure)
        return stop_after_limit

    def _role(self, functions: WorkflowFunctions) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the customization workflow: invokes its functions, logs, traces",
        )
        policy = iam.ManagedPolicy(self, "Policy", roles=[role], description="What the workflow may do")
        steps = [step.function.function_arn for step in vars(functions).values() if step is not None]
        policy.add_statements(
            iam.PolicyStatement(sid="InvokeSteps", actions=["lambda:InvokeFunction"], resources=steps),
            iam.PolicyStatement(
                sid="Traces",
                actions=[
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                ],
                resources=["*"],
            ),
            # Vended log delivery to CloudWatch Logs takes these on "*" only (Step Functions
            # developer guide, "IAM policies for logging to CloudWatch Logs").
            iam.PolicyStatement(
                sid="ExecutionLogDelivery",
                actions=[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                resources=["*"],
            ),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Only X-Ray tracing and CloudWatch Logs vended log delivery, which take no resource-level "
            "permissions; the functions it invokes are listed one by one",
        )
        return role

    def _serving(self, config, functions: WorkflowFunctions, notify_failure, notify_success) -> sfn.IChainable:
        create = self._task(
            "CreateServing",
            functions.create_serving,
            {
                "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                "customModelArn": sfn.JsonPath.string_at(f"{run_state.RESULT}.customModelArn"),
            },
            result_path=run_state.SERVING,
        )
        poll = self._task(
            "PollServing",
            functions.poll_serving,
            {"serving": sfn.JsonPath.object_at(run_state.SERVING)},
            result_path=run_state.SERVING,
        )
        serving_poll_schedule(config).retry(poll, "ServingNotReady")
        # The job's model may still be Creating when the job completes: serving waits for it.
        serving_poll_schedule(config).retry(create, "CustomModelNotReady")
        # Whatever this run created goes again when serving fails: nothing keeps billing.
        delete = self._delete_serving("DeleteServingAfterFailure", functions, result_path=run_state.CLEANUP)
        delete.add_catch(notify_failure, errors=["States.ALL"], result_path=run_state.CLEANUP_ERROR)
        delete.next(notify_failure)
        create.add_catch(delete, errors=["States.ALL"], result_path=run_state.FAILURE)
        poll.add_catch(delete, errors=["States.ALL"], result_path=run_state.FAILURE)
        # A dataset's job.json may skip serving for its run ({"serving": {"mode": "none"}}).
        serve_this_run = (
            sfn.Choice(self, "ServeThisRun")
            .when(sfn.Condition.string_equals(f"{run_state.VALIDATION}.settings.servingMode", NONE), notify_success)
            .otherwise(create)
        )
        create.next(poll).next(self._evaluation(config, functions, delete, notify_failure, notify_success))
        return serve_this_run

    def _evaluation(self, config, functions: WorkflowFunctions, delete_after_failure, notify_failure, notify_success):
        """EvaluateModel, then (where the environment asks) DeleteServingNotPromoted for a model
        that lost to its base model. A run whose model is not promoted still succeeds: the
        pipeline did its job, and the notification says what the model scored."""
        evaluate = self._task(
            "EvaluateModel",
            functions.evaluate,
            {
                "state": {
                    "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                    "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                    "serving": sfn.JsonPath.object_at(run_state.SERVING),
                }
            },
            result_path=run_state.EVALUATION,
            timeout=EVALUATION_TIMEOUT,
        )
        if not config.evaluation.delete_serving_when_not_promoted:
            evaluate.add_catch(notify_failure, errors=["States.ALL"], result_path=run_state.FAILURE)
            return evaluate.next(notify_success)
        # A model whose evaluation failed is not promoted either (one with nothing to compare,
        # "skipped", is not judged and keeps its serving).
        evaluate.add_catch(delete_after_failure, errors=["States.ALL"], result_path=run_state.FAILURE)
        retire = self._delete_serving("DeleteServingNotPromoted", functions, result_path=run_state.RETIRED)
        retire.add_catch(notify_failure, errors=["States.ALL"], result_path=run_state.FAILURE)
        retire.next(notify_success)
        not_promoted = sfn.Condition.and_(
            sfn.Condition.is_boolean(f"{run_state.EVALUATION}.promoted"),
            sfn.Condition.boolean_equals(f"{run_state.EVALUATION}.promoted", False),
        )
        return evaluate.next(sfn.Choice(self, "PromotedOrNot").when(not_promoted, retire).otherwise(notify_success))

    def _delete_serving(self, name: str, functions: WorkflowFunctions, *, result_path: str):
        """The run's throughput or deployment, found by its deterministic name, deleted."""
        return self._task(
            name,
            functions.delete_serving,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD)},
            result_path=result_path,
        )

    def _task(
        self, name, function: PipelineFunction, payload: dict, *, result_path: str, timeout: Duration = STEP_TIMEOUT
    ):
        # Every step gets the execution ARN, so each function's JSON logs can carry it.
        payload = {"executionArn": sfn.JsonPath.execution_id, **payload}
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function.function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            result_path=result_path,
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        task.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, interval=Duration.seconds(2), backoff_rate=2, max_attempts=6)
        task.add_retry(errors=BEDROCK_TRANSIENT_ERRORS, interval=Duration.seconds(10), backoff_rate=2, max_attempts=5)
        return task
