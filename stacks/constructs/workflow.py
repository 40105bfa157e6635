"""The customization workflow as a Step Functions state machine (Standard).

ValidateDataset -> AcquireRunSlot -> StartCustomizationJob -> WaitForJob -> ReadTrainingCurves ->
[CreateServing -> PollServing -> EvaluateModel -> (DeleteServingNotPromoted)] -> ReleaseRunSlot ->
NotifySuccess.
A run whose job.json sweeps hyperparameters goes from StartCustomizationJob (its SweepRun
error) to TrainVariants, a Map of start/wait/curves per variant, then SelectWinner puts the
winner where the single job's results go and the run goes on to serving as above.

The job is not polled: WaitForJob waits on a task token that WatchJob completes when Bedrock's
"Model Customization Job State Change" event arrives (seconds after the job ends), or at the
next hourly backstop if the event was lost; one state transition, however long the job trains.
Other waits are done by Retry on a named error (ServingNotReady, CustomModelNotReady,
CapacityUnavailable, a taken run slot) rather than a Wait/Task/Choice loop: each poll then
costs one state transition instead of three (see `PollSchedule` and `make bench`).

Nothing is left running or billing on any path: every failure once a job may exist (a start
that timed out after Bedrock accepted it included) goes through Compensate, which stops the
run's job if it still trains and deletes its no-commitment serving, found by their
deterministic names, then gives back the run slot and notifies. Aborted and timed-out
executions never reach those states: the abort guard does the same for them. A notification
that cannot be sent ends the run in NotificationFailed, whose alarm goes to a second topic.
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
from stacks.constructs.run_slots import DYNAMODB_TRANSIENT_ERRORS, SLOT_TAKEN, RunSlots
from stacks.nag import acknowledge

# StartCustomizationJob's error for a run with a sweep (start_job.handler.SweepRun).
SWEEP_RUN = "SweepRun"

# Lambda's own transient errors, retried on every task.
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
BEDROCK_TRANSIENT_ERRORS = ["BedrockThrottled"]
# A Lambda that ran out of time (its own timeout, or the task's): retried only where the step
# is idempotent.
LAMBDA_TIMEOUTS = ["Sandbox.Timedout", "States.Timeout"]


@dataclass(frozen=True)
class ThrottlingRetry:
    """How long a step keeps retrying Bedrock's throttling and transient errors."""

    first_seconds: int
    largest_seconds: int
    attempts: int


# Most steps: about five minutes, then the run fails (and cleans up).
BRIEF_THROTTLING = ThrottlingRetry(first_seconds=10, largest_seconds=160, attempts=5)
# Polling a job that trains for hours, and cleaning up after a failure: tolerate an outage of
# about two hours (1 + 2 + 4 + 8 + 15 x 7 minutes), but not forever.
PERSISTENT_THROTTLING = ThrottlingRetry(first_seconds=60, largest_seconds=900, attempts=11)
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


def serving_poll_schedule(config: EnvironmentConfig) -> PollSchedule:
    """Serving has no state-change event: it is polled (polling.serving*, cdk.json)."""
    polling = config.polling
    return PollSchedule.covering(
        config.limits.max_serving_setup_hours * 3600,
        polling.serving_first_poll_seconds,
        polling.serving_max_poll_seconds,
        polling.serving_backoff_rate,
    )


def slot_wait_schedule(config: EnvironmentConfig) -> PollSchedule:
    """Waiting for a run slot: every 5 minutes at first, then every 30."""
    return PollSchedule.covering(config.limits.run_slot_wait_hours * 3600, 300, 1800, 1.5)


def capacity_wait_schedule(config: EnvironmentConfig) -> PollSchedule:
    return PollSchedule.covering(config.limits.quota_wait_hours * 3600, 300, 1800, 1.5)


def _no_slot_cause(config: EnvironmentConfig) -> str:
    limits = config.limits
    held = f"All {limits.max_concurrent_runs} run slots of {config.name} (limits.maxConcurrentRuns) were held by other runs"
    waited = (
        "and limits.runSlotWaitHours is 0"
        if limits.run_slot_wait_hours == 0
        else f"for all of limits.runSlotWaitHours ({limits.run_slot_wait_hours:g} h)"
    )
    return (
        f"{held} {waited}: no job was started. Upload the training file again later, or raise "
        "limits.maxConcurrentRuns in cdk.json."
    )


def execution_timeout(config: EnvironmentConfig) -> Duration:
    limits = config.limits
    # Every bounded wait (serving may wait for the custom model, then for itself), plus an hour
    # for validation, notifications and retries.
    hours = (
        limits.run_slot_wait_hours
        + limits.quota_wait_hours
        + limits.max_job_hours
        + 2 * limits.max_serving_setup_hours
        + 1
    )
    if config.serving.mode != NONE:
        hours += EVALUATION_HOURS
    # A sweep trains its variants in waves of limits.maxParallelJobs: each wave after the first
    # may take maxJobHours more (with its wait for the account's quota).
    waves = -(-limits.max_sweep_variants // limits.max_parallel_jobs)
    hours += max(waves - 1, 0) * (limits.max_job_hours + limits.quota_wait_hours)
    return Duration.minutes(round(hours * 60))


@dataclass(frozen=True)
class WorkflowFunctions:
    validate: PipelineFunction
    start_job: PipelineFunction
    watch_job: PipelineFunction
    stop_job: PipelineFunction
    read_curves: PipelineFunction
    create_serving: PipelineFunction | None
    poll_serving: PipelineFunction | None
    delete_serving: PipelineFunction | None
    evaluate: PipelineFunction | None
    notify: PipelineFunction
    # Only where the environment allows hyperparameter sweeps (limits.maxSweepVariants > 0).
    select_winner: PipelineFunction | None = None


class CustomizationWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        functions: WorkflowFunctions,
        defaults: FunctionDefaults,
        slots: RunSlots,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config, self.functions, self.slots = config, functions, slots
        self.not_told = sfn.Fail(
            self,
            "NotificationFailed",
            error="NotificationFailed",
            cause="The run ended but its notification could not be sent (the error is in $.notificationError of "
            "the execution's last state): the NotifyErrors alarm goes to the Escalations topic, and a message "
            "SNS refused is kept in the dead-letter queue",
        )
        failed = sfn.Fail(
            self, "RunFailed", error_path=f"{run_state.FAILURE}.Error", cause_path=f"{run_state.FAILURE}.Cause"
        )
        self.notify_failure = self._notify("NotifyFailure", "failed", failed)
        self.compensate = self._compensation(self._release("ReleaseRunSlotAfterFailure", self.notify_failure))
        notify_success = self._notify("NotifySuccess", "succeeded", sfn.Succeed(self, "RunSucceeded"))
        self.finish = self._release("ReleaseRunSlot", notify_success)
        after_training = self.finish if config.serving.mode == NONE else self._serving(config, functions)
        chain = self._training(config, functions, after_training).next(after_training)
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

    def _notify(self, name: str, outcome: str, then: sfn.INextable) -> sfn.TaskStateBase:
        """Tell people, then `then`; a notification that cannot be sent ends in NotificationFailed."""
        notify = self._task(
            name,
            self.functions.notify,
            {"outcome": outcome, "state": sfn.JsonPath.entire_payload, "executionArn": sfn.JsonPath.execution_id},
            result_path=run_state.NOTIFICATION,
        )
        notify.add_catch(self.not_told, errors=["States.ALL"], result_path=run_state.NOTIFICATION_ERROR)
        notify.next(then)
        return notify

    def _release(self, name: str, then: sfn.IChainable) -> sfn.TaskStateBase:
        """Give back the run slot, then `then`, even when DynamoDB cannot be reached (the next
        run would wait for the slot, never train twice)."""
        release = self.slots.release(self, name)
        release.add_catch(then, errors=["States.ALL"], result_path=run_state.SLOT_ERROR)
        release.next(then)
        return release

    def _compensation(self, then: sfn.IChainable) -> sfn.TaskStateBase:
        """Stop the run's job if it still trains and delete its no-commitment serving, whatever
        failed; both are found by their deterministic names, so this works after any step."""
        compensate = self._task(
            "Compensate",
            self.functions.stop_job,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD), "reason": "failure"},
            result_path=run_state.CLEANUP,
            throttled=PERSISTENT_THROTTLING,
        )
        # Still tell people (the notification says what could not be cleaned up).
        compensate.add_catch(then, errors=["States.ALL"], result_path=run_state.CLEANUP_ERROR)
        compensate.next(then)
        return compensate

    def _training(self, config: EnvironmentConfig, functions: WorkflowFunctions, after: sfn.IChainable) -> sfn.Chain:
        """ValidateDataset -> AcquireRunSlot -> StartCustomizationJob -> WaitForJob, with the job's time limit;
        a sweep's run goes from StartCustomizationJob (its SweepRun error) to TrainVariants, then `after`."""
        validate = self._task(
            "ValidateDataset",
            functions.validate,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD)},
            result_path=run_state.VALIDATION,
            timeout=Duration.minutes(15),
        )
        validate.add_catch(self.notify_failure, errors=["States.ALL"], result_path=run_state.FAILURE)
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
        # Starting is idempotent (the job's name and token): a start that timed out, perhaps
        # after Bedrock accepted the job, is tried again and finds that job.
        start_job.add_retry(errors=LAMBDA_TIMEOUTS, interval=Duration.seconds(5), backoff_rate=2, max_attempts=2)
        if functions.select_winner is not None:
            # Routed by a catch, not a Choice: a run without a sweep keeps its 20 transitions.
            start_job.add_catch(self._sweep(config, functions, after), errors=[SWEEP_RUN], result_path=run_state.JOB)
        start_job.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        wait_for_job = self._wait_for_job(config, functions)
        chain = validate.next(self._acquire_slot(config)).next(start_job).next(wait_for_job)
        return chain.next(self._read_curves(functions))

    def _sweep(self, config: EnvironmentConfig, functions: WorkflowFunctions, after: sfn.IChainable) -> sfn.IChainable:
        """TrainVariants (a Map over $.validation.variants, limits.maxParallelJobs at once): each
        iteration starts its variant's job (names ending -v<n>), waits on its task token and reads
        its curves; a variant that fails has its job stopped and records the error, and the others
        go on. SelectWinner then puts the winner where the single job's results go ($.job,
        $.result, $.curves) and deletes the losers' custom models; no winner: Compensate."""
        train = sfn.Map(
            self,
            "TrainVariants",
            items_path=f"{run_state.VALIDATION}.variants",
            max_concurrency=config.limits.max_parallel_jobs,
            item_selector={
                "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                "variant": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            },
            result_path=run_state.SWEEP,
        )
        train.item_processor(self._variant(config, functions))
        train.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        select = self._task(
            "SelectWinner", functions.select_winner, {"state": sfn.JsonPath.entire_payload}, result_path="$"
        )
        select.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        train.next(select).next(after)
        return train

    def _variant(self, config: EnvironmentConfig, functions: WorkflowFunctions) -> sfn.IChainable:
        """One iteration of TrainVariants: StartVariantJob -> WaitForVariantJob -> ReadVariantCurves
        -> VariantTrained; a start or wait that fails goes to StopVariantJob -> VariantFailed."""
        variant = sfn.JsonPath.object_at("$.variant")
        start = self._task(
            "StartVariantJob",
            functions.start_job,
            {
                "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                "variant": variant,
            },
            result_path=run_state.JOB,
        )
        if config.limits.quota_wait_hours > 0:
            capacity_wait_schedule(config).retry(start, "CapacityUnavailable")
        start.add_retry(errors=LAMBDA_TIMEOUTS, interval=Duration.seconds(5), backoff_rate=2, max_attempts=2)
        wait = self._wait_for_job(config, functions, name="WaitForVariantJob")
        read = self._task(
            "ReadVariantCurves",
            functions.read_curves,
            {
                "state": {
                    "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                    "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                    "job": sfn.JsonPath.object_at(run_state.JOB),
                    "variant": variant,
                }
            },
            result_path=run_state.CURVES,
        )
        done = sfn.Pass(
            self,
            "VariantTrained",
            parameters={
                "variant": variant,
                "job": sfn.JsonPath.object_at(run_state.JOB),
                "result": sfn.JsonPath.object_at(run_state.RESULT),
                "curves": sfn.JsonPath.object_at(run_state.CURVES),
            },
        )
        read.add_catch(done, errors=["States.ALL"], result_path=run_state.CURVES)
        self._variant_failure(config, functions, start, wait)
        return start.next(wait).next(read).next(done)

    def _variant_failure(
        self, config: EnvironmentConfig, functions: WorkflowFunctions, start: sfn.TaskStateBase, wait: sfn.TaskStateBase
    ) -> None:
        """A variant's start or wait that fails: StopVariantJob -> VariantFailed, inside its iteration."""
        variant = sfn.JsonPath.object_at("$.variant")
        failed = sfn.Pass(
            self, "VariantFailed", parameters={"variant": variant, "failure": sfn.JsonPath.object_at(run_state.FAILURE)}
        )
        stop = self._task(
            "StopVariantJob",
            functions.stop_job,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD), "variant": variant, "reason": "variant failed"},
            result_path=run_state.CLEANUP,
            throttled=PERSISTENT_THROTTLING,
        )
        stop.add_catch(failed, errors=["States.ALL"], result_path=run_state.CLEANUP_ERROR)
        stop.next(failed)
        # At limits.maxJobHours the variant fails as the run's one job would, named so in the table.
        wait.add_catch(
            self._time_limit(config, "VariantTimeLimitExceeded", then=stop),
            errors=["States.Timeout"],
            result_path=run_state.FAILURE,
        )
        for step in (start, wait):
            step.add_catch(stop, errors=["States.ALL"], result_path=run_state.FAILURE)

    def _read_curves(self, functions: WorkflowFunctions) -> sfn.TaskStateBase:
        """The completed job's curves and diagnosis, on every path that goes on (serving or not).
        Curves are advice, never a gate: the function reports unreadable files itself, and
        anything it cannot (a crash, a timeout) is caught into $.curves as {Error, Cause}, which
        the readers show as "no curve available" (run_state.curves_of); the run goes on."""
        read = self._task(
            "ReadTrainingCurves",
            functions.read_curves,
            {
                "state": {
                    "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                    "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                    "job": sfn.JsonPath.object_at(run_state.JOB),
                }
            },
            result_path=run_state.CURVES,
        )
        go_on = sfn.Pass(self, "CurvesUnavailable")
        read.add_catch(go_on, errors=["States.ALL"], result_path=run_state.CURVES)
        return sfn.Chain.custom(read, [read, go_on], read)

    def _wait_for_job(
        self, config: EnvironmentConfig, functions: WorkflowFunctions, name: str = "WaitForJob"
    ) -> sfn.TaskStateBase:
        """Wait, on a task token, until WatchJob says how the job ended: from Bedrock's event in
        seconds, or from the hourly backstop if the event was lost. A job still training at
        limits.maxJobHours times the task out, and the run stops it (Compensate)."""
        wait = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=functions.watch_job.function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "taskToken": sfn.JsonPath.task_token,
                    "executionArn": sfn.JsonPath.execution_id,
                    "jobName": sfn.JsonPath.string_at(f"{run_state.JOB}.jobName"),
                }
            ),
            result_path=run_state.RESULT,
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(Duration.minutes(round(config.limits.max_job_hours * 60))),
        )
        # Keeping the token is idempotent (a retry replaces it): Lambda's own errors are retried.
        wait.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, interval=Duration.seconds(2), backoff_rate=2, max_attempts=6)
        if name == "WaitForJob":  # a sweep's variant: its iteration's own catch stops it
            wait.add_catch(self._time_limit(config), errors=["States.Timeout"], result_path=run_state.FAILURE)
            wait.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        return wait

    def _acquire_slot(self, config: EnvironmentConfig) -> sfn.TaskStateBase:
        """Wait for one of the environment's run slots (limits.maxConcurrentRuns) before any spend."""
        acquire = self.slots.acquire(self, "AcquireRunSlot")
        if config.limits.run_slot_wait_hours > 0:  # 0: fail at once while every slot is taken
            slot_wait_schedule(config).retry(acquire, SLOT_TAKEN)
        acquire.add_retry(
            errors=DYNAMODB_TRANSIENT_ERRORS, interval=Duration.seconds(2), backoff_rate=2, max_attempts=6
        )
        no_slot = sfn.Pass(
            self,
            "NoRunSlot",
            parameters={
                "Error": "NoRunSlot",
                "Cause": _no_slot_cause(config),
            },
            result_path=run_state.FAILURE,
        )
        no_slot.next(self.notify_failure)
        # Only "all slots taken" is NoRunSlot; any other error (access, DynamoDB) is told as itself.
        acquire.add_catch(no_slot, errors=[SLOT_TAKEN], result_path=run_state.FAILURE)
        acquire.add_catch(self.notify_failure, errors=["States.ALL"], result_path=run_state.FAILURE)
        return acquire

    def _time_limit(
        self, config: EnvironmentConfig, state_name: str = "JobTimeLimitExceeded", then: sfn.IChainable | None = None
    ) -> sfn.IChainable:
        """A job still training at limits.maxJobHours (its wait times out) is stopped: by the run's
        compensation, or for a sweep's variant by `then` (its iteration's StopVariantJob)."""
        time_limit = sfn.Pass(
            self,
            state_name,
            parameters={
                "Error": "JobTimeLimitExceeded",
                "Cause": f"The customization job ran past limits.maxJobHours ({config.limits.max_job_hours:g} h) "
                "and the pipeline stopped it. Raise the limit in cdk.json or train on less data.",
            },
            result_path=run_state.FAILURE,
        )
        time_limit.next(then or self.compensate)
        return time_limit

    def _role(self, functions: WorkflowFunctions) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs the customization workflow: invokes its functions, logs, traces",
        )
        policy = iam.ManagedPolicy(self, "Policy", roles=[role], description="What the workflow may do")
        steps = [step.function.function_arn for step in vars(functions).values() if step is not None]
        # Takes and gives back run slots, directly in DynamoDB.
        policy.add_statements(*self.slots.update_statements())
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

    def _serving(self, config: EnvironmentConfig, functions: WorkflowFunctions) -> sfn.IChainable:
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
        for step in (create, poll):
            step.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        # A dataset's job.json may skip serving for its run ({"serving": {"mode": "none"}}).
        serve_this_run = (
            sfn.Choice(self, "ServeThisRun")
            .when(sfn.Condition.string_equals(f"{run_state.VALIDATION}.settings.servingMode", NONE), self.finish)
            .otherwise(create)
        )
        create.next(poll).next(self._evaluation(config, functions))
        return serve_this_run

    def _evaluation(self, config: EnvironmentConfig, functions: WorkflowFunctions) -> sfn.IChainable:
        """EvaluateModel, then (where the environment asks) DeleteServingNotPromoted for a model
        that lost to its base model. A run whose model is not promoted still succeeds: the
        pipeline did its job, and the notification says what the model scored. A run whose
        evaluation failed is a failure: its serving is deleted like any other's."""
        evaluate = self._task(
            "EvaluateModel",
            functions.evaluate,
            {
                "state": {
                    "upload": sfn.JsonPath.object_at(run_state.UPLOAD),
                    "validation": sfn.JsonPath.object_at(run_state.VALIDATION),
                    "serving": sfn.JsonPath.object_at(run_state.SERVING),
                    "curves": sfn.JsonPath.object_at(run_state.CURVES),
                }
            },
            result_path=run_state.EVALUATION,
            timeout=EVALUATION_TIMEOUT,
        )
        evaluate.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        if not config.evaluation.delete_serving_when_not_promoted:
            return evaluate.next(self.finish)
        retire = self._task(
            "DeleteServingNotPromoted",
            functions.delete_serving,
            {"upload": sfn.JsonPath.object_at(run_state.UPLOAD)},
            result_path=run_state.RETIRED,
        )
        retire.add_catch(self.compensate, errors=["States.ALL"], result_path=run_state.FAILURE)
        retire.next(self.finish)
        not_promoted = sfn.Condition.and_(
            sfn.Condition.is_boolean(f"{run_state.EVALUATION}.promoted"),
            sfn.Condition.boolean_equals(f"{run_state.EVALUATION}.promoted", False),
        )
        return evaluate.next(sfn.Choice(self, "PromotedOrNot").when(not_promoted, retire).otherwise(self.finish))

    def _task(
        self,
        name,
        function: PipelineFunction,
        payload: dict,
        *,
        result_path: str,
        timeout: Duration = STEP_TIMEOUT,
        throttled: ThrottlingRetry = BRIEF_THROTTLING,
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
        task.add_retry(
            errors=BEDROCK_TRANSIENT_ERRORS,
            interval=Duration.seconds(throttled.first_seconds),
            max_delay=Duration.seconds(throttled.largest_seconds),
            backoff_rate=2,
            max_attempts=throttled.attempts,
        )
        return task
