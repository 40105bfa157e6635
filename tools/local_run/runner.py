"""Runs one scenario: synth, "deploy" into moto, upload, follow the execution, report."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import moto.stepfunctions.parser.asl.component.common.retry.retrier_decl as retrier_decl
from moto import mock_aws
from moto.awslambda_simple.models import lambda_simple_backends
from moto.core.responses import EmptyResult
from moto.dynamodb.models import DynamoDBBackend
from moto.events.models import EventPattern
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from customization import layout
from customization.catalog import BEDROCK_CONVERSATION, CLAUDE_MESSAGES, PROMPT_COMPLETION, load_catalog
from customization.evaluation.cases import to_case
from customization.naming import PROJECT
from customization.run_state import curves_of, serving_deleted
from stacks.config import cdk_json_context
from tools.assembly import CloudAssembly
from tools.local_run.bedrock import ACCOUNT, BedrockEmulator, SimulatedClock
from tools.local_run.deployment import ENVIRONMENT_LOCK, ROOT, LocalDeployment
from tools.local_run.iam import decide
from tools.local_run.scenarios import Scenario, merged
from tools.local_run.strict import strict_validation
from tools.synth import synthesize

REGION = "us-east-1"
START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
REAL_TIMEOUT_SECONDS = 120
_assemblies: dict[str, CloudAssembly] = {}
_assemblies_lock = threading.Lock()


def assembly_for(environment: str, settings: dict[str, Any]) -> CloudAssembly:
    """The environment synthesized with the scenario's settings (cached per configuration)."""
    environments = cdk_json_context()["environments"]
    if environment not in environments:
        raise ValueError(f"unknown environment {environment!r}; allowed: {', '.join(environments)}")
    configured = {**environments, environment: merged(environments[environment], settings)}
    key = json.dumps([environment, configured[environment]], sort_keys=True)
    with _assemblies_lock:
        if key not in _assemblies:
            outdir = Path(tempfile.mkdtemp(prefix="local-run-cdk-out-"))
            assembly, _ = synthesize(
                outdir, environment=environment, context_overrides={"environments": configured}, nag=False
            )
            _assemblies[key] = assembly
        return _assemblies[key]


@dataclass
class TimelineEntry:
    time: dt.datetime
    source: str  # "step", "bedrock", "upload", "event", "abort"
    text: str


@dataclass
class RunReport:
    scenario: str
    environment: str
    executions: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    bedrock_calls: dict[str, int] = field(default_factory=dict)
    notifications: list[dict[str, str]] = field(default_factory=list)
    jobs_created: int = 0
    left_running: list[str] = field(default_factory=list)
    left_billed: list[str] = field(default_factory=list)
    # What the runs hand over on purpose, and what it costs while it exists.
    kept_serving: list[str] = field(default_factory=list)
    kept_models: list[str] = field(default_factory=list)
    max_concurrent_jobs: int = 0  # the most jobs training at one time (limits.maxConcurrentRuns caps it)
    report_objects: list[str] = field(default_factory=list)
    # Seconds between a job's end and the poll that saw it, per job that ended.
    detection_delays: list[float] = field(default_factory=list)
    started_at: dt.datetime = START
    saved_reports: dict[str, str] = field(default_factory=dict)  # S3 URI -> local copy

    @property
    def statuses(self) -> list[str]:
        return [execution["status"] for execution in self.executions]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "environment": self.environment,
            "executions": self.executions,
            "timeline": [{"time": e.time.isoformat(), "source": e.source, "text": e.text} for e in self.timeline],
            "bedrockCalls": self.bedrock_calls,
            "jobsCreated": self.jobs_created,
            "notifications": self.notifications,
            "leftRunning": self.left_running,
            "leftBilled": self.left_billed,
            "keptServing": self.kept_serving,
            "keptModels": self.kept_models,
            "maxConcurrentJobs": self.max_concurrent_jobs,
            "reports": self.report_objects,
            "detectionDelaysSeconds": self.detection_delays,
            "savedReports": self.saved_reports,
        }


class _Timeline:
    """Entries as they happen, printed live, with repeated polls folded into one line."""

    def __init__(self, clock: SimulatedClock, emit: Callable[[str], None] | None) -> None:
        self.clock, self.emit = clock, emit
        self.entries: list[TimelineEntry] = []
        self._fold: tuple[str, int, dt.datetime] | None = None
        self._lock = threading.Lock()

    def add(self, source: str, text: str, fold_key: str | None = None) -> None:
        with self._lock:
            now = self.clock.now()
            if fold_key is not None and self._fold and self._fold[0] == fold_key:
                self._fold = (fold_key, self._fold[1] + 1, self._fold[2])
                return
            self._flush(now)
            if fold_key is not None:
                self._fold = (fold_key, 1, now)
            self._record(TimelineEntry(now, source, text))

    def finish(self) -> None:
        with self._lock:
            self._flush(self.clock.now())

    def _flush(self, now: dt.datetime) -> None:
        if self._fold and self._fold[1] > 1:
            key, count, since = self._fold
            span = _duration(now - since)
            if key == "WatchJob backstop":
                text = f"WatchJob: the backstop ran {count} times over {span}; every job was still training"
            else:
                text = f"{key}: {count} times over {span} (deployed retry schedule)"
            self._record(TimelineEntry(now, "step", text))
        self._fold = None

    def _record(self, entry: TimelineEntry) -> None:
        self.entries.append(entry)
        if self.emit:
            prefix = f"  +{_duration(entry.time - START):>9}  {entry.source:<8} "
            self.emit(prefix + entry.text.replace("\n", "\n" + " " * len(prefix) + "  "))


def run(
    scenario: Scenario,
    *,
    environment: str = "dev",
    dataset: Path | None = None,
    emit: Callable[[str], None] | None = None,
    reports_dir: Path | None = None,
) -> RunReport:
    """Run `scenario`; with `reports_dir`, the reports the run wrote (validation, evaluation)
    are copied there from the emulated bucket, under the same keys."""
    assembly = assembly_for(environment, scenario.settings)
    report = RunReport(scenario=scenario.name, environment=environment)
    clock = SimulatedClock(START)
    timeline = _Timeline(clock, emit)
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    # Every request the run sends is checked as strictly as AWS checks it (patterns, lengths,
    # ranges, enums): what runs here would not be refused by a real account.
    with _offline(), strict_validation(), mock_aws(config=config), _interpreter_patches(clock):
        deployment = LocalDeployment(assembly, environment, REGION, PROJECT)
        deployment.create(capture_queue="local-capture")
        parser_backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        clock.running_executions = lambda: len(parser_backend._get_executions(ExecutionStatus.RUNNING))
        source = dataset or (ROOT / scenario.dataset)
        emulator = BedrockEmulator(
            clock=clock,
            region=REGION,
            behaviour=scenario.behaviour,
            answers=answer_key(source),
            base_models=frozenset(model.invocation.model_id for model in load_catalog().models.values()),
            key_policies=deployment.key_policies(),
            today=START.date(),
            # Each function may do in Bedrock what its deployed policy allows, and no more.
            policies_of=deployment.function_policies().get,
        )
        # Status reads while waiting are summed up by the step's folded line, and the
        # evaluation's questions by its result line: neither is listed one by one.
        emulator.on_call = lambda call: (
            None
            if call["summary"].endswith(("-> InProgress", "-> Creating")) or call["operation"] == "Converse"
            else (timeline.add("bedrock", call["summary"]))
        )
        # A completed job's metrics files land in the output bucket, as Bedrock writes them.
        emulator.write_output = lambda uri, body: boto3.client("s3", region_name=REGION).put_object(
            Bucket=uri.removeprefix("s3://").split("/", 1)[0], Key=uri.removeprefix("s3://").split("/", 1)[1], Body=body
        )
        invoker = _invoker(deployment, emulator, clock, timeline)
        # Reinforcement fine-tuning: the job reads its records and calls the deployed grader.
        emulator.read_input = lambda uri: (
            boto3.client("s3", region_name=REGION)
            .get_object(
                Bucket=uri.removeprefix("s3://").split("/", 1)[0], Key=uri.removeprefix("s3://").split("/", 1)[1]
            )["Body"]
            .read()
        )
        emulator.invoke_grader = lambda arn, batch: invoker.grade(arn, batch, emulator.behaviour.fault_after)
        grader_names = _grader_names(deployment)
        emulator.on_grading = lambda job_name, rewards: timeline.add(
            "bedrock",
            f"grader {grader_names.get(rewards['grader'], rewards['grader'].rsplit(':', 1)[-1])} scored "
            f"{rewards['samples']} sampled answers to "
            f"{rewards['prompts']} prompts of {job_name}: mean reward {rewards['meanReward']:.2f} "
            f"(min {rewards['minReward']:.2f}, max {rewards['maxReward']:.2f})",
        )
        if scenario.invocation_logs:
            _put_invocation_logs(s3_client := boto3.client("s3", region_name=REGION), source, scenario.invocation_logs)
            emulator.read_logs = _log_reader(s3_client, deployment.role_policies())
            emulator.on_logs = lambda job_name, logs: timeline.add(
                "bedrock",
                f"{job_name} read {logs['read']} logged invocations under {logs['uri']}: {logs['prompts']} prompts "
                f"matched the request metadata filters"
                + (" (with their logged responses)" if logs["usePromptResponse"] else " (the teacher answers them)"),
            )
        watcher = _JobWatcher(deployment, invoker, clock, timeline)
        emulator.publish_event = watcher.bedrock_event
        backend = lambda_simple_backends[ACCOUNT][REGION]
        backend.invoke = lambda name, qualifier, body, headers, response_headers: invoker.lambda_invoke(
            name, body, response_headers
        )
        s3 = boto3.client("s3", region_name=REGION)
        data_bucket = deployment.bucket("DataBucket")
        name = source.name
        uploads = 2 if scenario.upload_twice else 1
        names = [f"{name}-{n}" for n in range(1, scenario.burst_uploads + 1)] if scenario.burst_uploads else [name]
        job_file = (
            json.dumps({**json.loads((source / "job.json").read_text()), **scenario.job}).encode()
            if scenario.job
            else None
        )
        for dataset_name in names:
            for _ in range(uploads):
                _upload(
                    s3,
                    data_bucket,
                    source,
                    dataset_name,
                    broken=scenario.broken_dataset,
                    timeline=timeline,
                    job=job_file,
                )
        pattern = EventPattern.load(json.dumps(deployment.rule_pattern("TrainingFileUploaded")))
        starter = invoker.function("StartRun")

        def start_runs() -> None:
            for event in _captured_upload_events(deployment):
                assert pattern.matches_event(event), "the captured event must match the deployed rule"
                deliveries = 2 if scenario.duplicate_event else 1
                for delivery in range(deliveries):
                    timeline.add(
                        "event",
                        f"S3 Object Created {event['detail']['object']['key']} "
                        f"(version {event['detail']['object']['version-id'][:8]}…)"
                        + (" delivered again" if delivery else ""),
                    )
                    invoker.call(starter, event)

        start_runs()
        sfn = boto3.client("stepfunctions", region_name=REGION)
        watcher.start_backstop()
        try:
            executions = _follow(sfn, deployment, scenario, clock, timeline)
            if scenario.re_fine_tune:
                # The second upload customizes the first run's model further (job.json baseRun).
                parent = sfn.describe_execution(executionArn=executions[0])["name"]
                job = {**json.loads((source / "job.json").read_text()), "baseRun": parent}
                job.pop("baseModel", None)  # a re-fine-tuned run trains on its parent's base
                _upload(
                    s3,
                    data_bucket,
                    source,
                    f"{name}-refined",
                    broken=False,
                    timeline=timeline,
                    job=json.dumps(job).encode(),
                )
                start_runs()
                executions = _follow(sfn, deployment, scenario, clock, timeline)
        finally:
            watcher.stop()
        _abort_guard(deployment, invoker, executions, timeline)
        # What is still on its way (a job's late Stopped event) arrives, and finds nobody waiting.
        clock.drain()
        timeline.finish()
        report.executions = [_with_evaluation_report(s3, _execution_summary(sfn, arn)) for arn in executions]
        for execution in report.executions:
            job = emulator.jobs.get(execution.get("jobName") or "")
            # How long the run waited (for a run slot, a quota) before its job started.
            execution["jobStartedAfter"] = _duration(job.created - START) if job else None
            if job and job.rewards:
                execution["rewards"] = job.rewards  # RFT: what the grader scored, as Bedrock's console graphs it
        report.timeline = timeline.entries
        report.bedrock_calls = emulator.counts()
        report.jobs_created = len(emulator.jobs)
        report.left_running = emulator.running_jobs()
        billed = emulator.billed_servings()
        report.left_billed = [arn for arn in billed if not _intended_serving(report, arn)]
        report.kept_serving = [arn for arn in billed if _intended_serving(report, arn)]
        report.kept_models = emulator.kept_models()
        report.max_concurrent_jobs = emulator.max_concurrent_jobs()
        report.notifications = _notifications(deployment)
        report.detection_delays = _detection_delays(emulator)
        report.report_objects = [
            item["Key"] for item in s3.list_objects_v2(Bucket=data_bucket, Prefix="reports/").get("Contents", [])
        ]
        if reports_dir is not None:
            for key in report.report_objects:
                # DIR/<slug>/<run id>/...: the run's folder, without the bucket's reports/ prefix.
                target = reports_dir / key.removeprefix(layout.REPORTS_PREFIX)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=data_bucket, Key=key)["Body"].read())
                report.saved_reports[f"s3://{data_bucket}/{key}"] = str(target)
    return report


# Definitions moto's CreateStateMachine check has accepted in this process (see below).
_ACCEPTED_DEFINITIONS: set[str] = set()


class _interpreter_patches:
    """Adjustments to moto, for the duration of a run, where it is looser than AWS.

    - Retry intervals advance the simulated clock instead of sleeping (time compression);
      the intervals themselves are the deployed ones.
    - An aborted execution stays aborted: moto lets a task failure that lands after
      StopExecution overwrite ABORTED with FAILED, which AWS does not do.
    - A DynamoDB update is atomic, its condition included, as in AWS: moto's backend takes no
      lock, so two executions taking the last run slot at once could both get it.
    - A task waiting for its task token waits in simulated time: its TimeoutSeconds (the job's
      time limit, hours) is a wait the clock can jump to, and an answer ends it at once.
    - StopExecution ends an execution at once, as in AWS, even one waiting for a task token:
      moto would let the wait run on (hours) with the execution still RUNNING.
    - SendTaskFailure keeps its cause, as in AWS: moto's request handler drops it, so a job's
      failure message would never reach the run.
    - A definition moto has parsed and accepted once (CreateStateMachine's check) is not parsed
      again for that check: the same synthesized definition, run after run, cost 0.4 s each.
    """

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock

    def __enter__(self):
        self._original_validate = StepFunctionsParserBackend._validate_definition
        original_validate = self._original_validate

        def validate(definition: str) -> None:
            if definition not in _ACCEPTED_DEFINITIONS:
                original_validate(definition)  # raises InvalidDefinition, as AWS would refuse it
                _ACCEPTED_DEFINITIONS.add(definition)

        StepFunctionsParserBackend._validate_definition = staticmethod(validate)
        original_set_error = Environment.set_error

        def set_error(env, error):
            if isinstance(env.program_state(), ProgramStopped):
                return
            original_set_error(env, error)

        self._original_set_error = original_set_error
        Environment.set_error = set_error
        self._moto_log_level = logging.getLogger("moto").level
        # moto logs every caught task failure as an ERROR; the timeline already says what happened.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        clock = self.clock

        class _Time:
            def __getattr__(self, name):
                return getattr(time, name)

            @staticmethod
            def sleep(seconds: float) -> None:
                clock.sleep(seconds)

        self._saved = retrier_decl.time
        retrier_decl.time = _Time()
        self._original_update_item = DynamoDBBackend.update_item
        lock = threading.Lock()
        original_update_item = self._original_update_item

        def update_item(backend, *args, **kwargs):
            with lock:
                return original_update_item(backend, *args, **kwargs)

        DynamoDBBackend.update_item = update_item
        self._original_callback_wait = CallbackEndpoint.wait

        def callback_wait(endpoint, timeout: float | None = None):
            clock.wait_event(endpoint._notify_event, timeout)
            return endpoint._outcome

        CallbackEndpoint.wait = callback_wait
        self._original_stop = ExecutionWorker.stop

        def stop(worker, stop_date, error, cause):
            self._original_stop(worker, stop_date, error, cause)
            for endpoint in list(worker.env.callback_pool_manager._pool.values()):
                endpoint._notify_event.set()  # no outcome: the waiting task ends, the program stops

        ExecutionWorker.stop = stop
        self._original_send_task_failure = StepFunctionResponse.send_task_failure

        def send_task_failure(response):
            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
            )
            return EmptyResult()

        StepFunctionResponse.send_task_failure = send_task_failure
        # The interpreter's threads create a client per task (moto's boto_client_for); they must not
        # read the environment while a handler's variables are being swapped (deployment.py).
        self._original_boto3_client = boto3.client

        def client(*args, **kwargs):
            with ENVIRONMENT_LOCK:
                return self._original_boto3_client(*args, **kwargs)

        boto3.client = client
        return self

    def __exit__(self, *exc):
        StepFunctionsParserBackend._validate_definition = staticmethod(self._original_validate)
        boto3.client = self._original_boto3_client
        StepFunctionResponse.send_task_failure = self._original_send_task_failure
        ExecutionWorker.stop = self._original_stop
        CallbackEndpoint.wait = self._original_callback_wait
        retrier_decl.time = self._saved
        DynamoDBBackend.update_item = self._original_update_item
        Environment.set_error = self._original_set_error
        logging.getLogger("moto").setLevel(self._moto_log_level)


# The only AWS settings the run's process has: none of the shell's (endpoints, a LocalStack
# URL, FIPS or dual-stack hosts, a profile, a session token), so every request stays in the
# emulation and no credential of the user's travels with one.
_OFFLINE_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    # botocore's own switch: no endpoint from the environment or a config file.
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
}


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """The run talks to the emulation only, whatever the shell it is typed in is set up for: every
    AWS_* variable is set aside for the run and put back afterwards (under the lock the handlers'
    environment swaps take, so no thread sees it half restored)."""
    with ENVIRONMENT_LOCK:
        saved = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
        for name in saved:
            del os.environ[name]
        os.environ.update(_OFFLINE_SETTINGS)
    try:
        yield
    finally:
        with ENVIRONMENT_LOCK:
            for name in [name for name in os.environ if name.startswith("AWS_")]:
                del os.environ[name]
            os.environ.update(saved)


def _invoker(deployment: LocalDeployment, emulator: BedrockEmulator, clock: SimulatedClock, timeline: _Timeline):
    from tools.local_run.deployment import HandlerInvoker

    clients: dict[tuple[str, str], Any] = {}

    def client(service: str, caller: str):
        """The client `caller` (a function) gets: Bedrock's answered by the emulation, which
        knows the caller; the other services' by moto."""
        if (service, caller) not in clients:
            if service in ("bedrock", "bedrock-runtime"):
                clients[service, caller] = emulator.client(service, caller=caller)
            else:
                clients[service, caller] = boto3.client(service, region_name=REGION)
        return clients[service, caller]

    # Waits between the evaluation's retries advance the simulated clock, like the Retry intervals.
    invoker = HandlerInvoker(deployment, client, sleep=clock.advance, busy=clock.busy)
    original = invoker.call

    def call(function, event):
        result, error = original(function, event)
        if error is None:
            error = emulator.behaviour.fault_after(function.name)
        step = function.name if function.name != "Notify" else f"Notify ({event.get('outcome')})"
        if error is None:
            text = _result_text(function.name, result)
            # The hourly backstop finding every job still training: one folded line.
            quiet_backstop = function.name == "WatchJob" and text.startswith("backstop:") and ";" not in text
            timeline.add("step", f"{step}: {text}", fold_key="WatchJob backstop" if quiet_backstop else None)
        else:
            # The first line, then what it lists (a dataset's problems, FILE:LINE: rule: message).
            lines = str(error).splitlines() or [""]
            message = "\n".join([lines[0][:150], *(line[:200] for line in lines[1:11])])
            fold = (
                f"{step} -> {type(error).__name__}"
                if type(error).__name__ in ("JobStillRunning", "ServingNotReady", "CustomModelNotReady")
                else None
            )
            timeline.add("step", f"{step}: {type(error).__name__}: {message}", fold_key=fold)
        return result, error

    invoker.call = call
    return invoker


def _usd(amount: Any) -> str:
    # An unknown price (reinforcement fine-tuning publishes none) reads "unknown", never "$None" or $0.
    return f"${amount}" if isinstance(amount, int | float) else "unknown (no published price)"


def _result_text(step: str, result: dict[str, Any] | None) -> str:
    result = result or {}
    if step == "ValidateDataset":
        records, cost = result.get("records", {}), result.get("cost") or {}
        parent = (result.get("lineage") or {}).get("parentModel")
        logs = (result.get("settings") or {}).get("invocationLogs")
        if isinstance(logs, dict):
            return (
                f"valid, prompts from the invocation logs at {logs.get('s3Uri')} (counted by the job); estimated "
                f"cost unknown, at most ${cost.get('upperBoundUsd')} for 15,000 prompts (the ceiling's bound)"
            )
        return (
            f"valid, {records.get('train', 0)} training + {records.get('validation', 0)} validation records, "
            f"estimated training {_usd(cost.get('trainingUsd'))}" + (f"; trains on top of {parent}" if parent else "")
        )
    if step == "StartCustomizationJob":
        return f"job {result.get('jobName')} {'(already started)' if result.get('alreadyStarted') else 'started'}"
    if step in ("CreateServing", "PollServing"):
        return f"{result.get('mode')} {result.get('arn')} {result.get('status', 'requested')}"
    if step == "WatchJob":
        if "outcomes" in result:
            settled = [f"{o['job']} {o['outcome']}" for o in result["outcomes"] if o["outcome"] != "still running"]
            return f"backstop: {len(result['outcomes'])} job(s) waited for" + (
                f"; {', '.join(settled)}" if settled else ""
            )
        model = (result.get("result") or {}).get("customModelArn")
        return f"job {result.get('job')}: {result.get('outcome')}" + (f", custom model {model}" if model else "")
    if step == "StopJob":
        if "stopped" not in result:  # after a successful run: only the slot
            return f"slot of {result.get('released')} given back"
        stopped = "job stopped" if result.get("stopped") else f"job not stopped ({result.get('reason')})"
        serving = (result.get("serving") or {}).get("reason") or (
            "serving deleted" if (result.get("serving") or {}).get("deleted") else ""
        )
        return f"{stopped} ({result.get('trigger')})" + (f"; serving: {serving}" if serving else "")
    if step == "DeleteServing":
        return f"deleted {result.get('arn')}" if result.get("deleted") else f"nothing deleted ({result.get('reason')})"
    if step == "EvaluateModel":
        if result.get("status") != "evaluated":
            return f"skipped: {result.get('reason')}"
        return str(result.get("headline"))
    if step == "SelectWinner":
        sweep = result.get("sweep") or {}
        rows = {row["variant"]: row for row in sweep.get("variants", [])}
        winner = rows.get(sweep.get("winner")) or {}
        return (
            f"winner v{sweep.get('winner')} of {len(rows)} (lowest {sweep.get('metric')}: "
            f"{winner.get('finalValidationLoss')}); "
            + ", ".join(
                f"v{n}: {row.get('customModel') or ('served' if row.get('winner') else row.get('verdict'))}"
                for n, row in rows.items()
            )
        )
    if step == "ReadTrainingCurves":
        return f"{result.get('summary')}"
    if step == "Notify":
        return f"sent: {result.get('subject')}"
    if step == "StartRun":
        return f"execution {result.get('executionName')} " + (
            "started" if result.get("started") else f"not started ({result.get('reason')})"
        )
    return json.dumps(result, default=str)[:160]


def _upload(
    s3, bucket: str, source: Path, name: str, *, broken: bool, timeline: _Timeline, job: bytes | None = None
) -> None:
    """As a user would: job.json and validation.jsonl first, the training file last. `job`:
    the job.json to upload instead of the folder's."""
    files = sorted(source.iterdir(), key=lambda path: path.name.startswith("train."))
    for path in files:
        if path.name not in ("job.json", "validation.jsonl", "train.jsonl", "train.txt"):
            continue
        body = job if job is not None and path.name == "job.json" else path.read_bytes()
        if broken and path.name.startswith("train."):
            lines = body.splitlines()
            lines[2] = b'{"prompt": "wrong format for this model"}'
            lines[6] = b"{not json"
            body = b"\n".join(lines) + b"\n"
        s3.put_object(Bucket=bucket, Key=f"datasets/{name}/{path.name}", Body=body)
        timeline.add("upload", f"s3://{bucket}/datasets/{name}/{path.name} ({len(body):,} bytes)")


def _put_invocation_logs(s3, source: Path, prefix: str) -> None:
    """The dataset folder's logs/ files under `prefix`, in a bucket of the emulated account, as
    Bedrock's model invocation logging writes them (before the run, as in an account)."""
    bucket, _, key_prefix = prefix.removeprefix("s3://").partition("/")
    s3.create_bucket(Bucket=bucket)
    folder = source / "logs"
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=bucket, Key=key_prefix + path.relative_to(folder).as_posix(), Body=path.read_bytes())


def _log_reader(s3, role_policies: dict[str, list[dict]]) -> Callable[[str, str], list[dict[str, Any]]]:
    """How Bedrock reads invocation logs as a job's role: ListBucket on the prefix, GetObject on
    each file, each decided by IAM on the role's deployed policies (with s3:prefix and
    s3:ResourceAccount); one JSON record a line, gzipped or not."""

    def read(uri: str, role_arn: str) -> list[dict[str, Any]]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        policies = role_policies.get(role_arn, [])
        account = {"s3:resourceaccount": [ACCOUNT]}
        if decide(policies, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {**account, "s3:prefix": [prefix]}) != "allowed":
            raise PermissionError(f"{role_arn} is not authorized to perform: s3:ListBucket on arn:aws:s3:::{bucket}")
        records = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                resource = f"arn:aws:s3:::{bucket}/{item['Key']}"
                if decide(policies, "s3:GetObject", resource, account) != "allowed":
                    raise PermissionError(f"{role_arn} is not authorized to perform: s3:GetObject on {resource}")
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                if item["Key"].endswith(".gz"):
                    body = gzip.decompress(body)
                records += [json.loads(line) for line in body.splitlines() if line.strip()]
        return records

    return read


def _captured_upload_events(deployment: LocalDeployment) -> list[dict[str, Any]]:
    return _drained("local-capture-uploads")


def _drained(queue_name: str) -> list[dict[str, Any]]:
    """Every message body (JSON) waiting in a capture queue, which is left empty."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _follow(sfn, deployment: LocalDeployment, scenario: Scenario, clock: SimulatedClock, timeline) -> list[str]:
    arns = [e["executionArn"] for e in sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"]]
    if scenario.abort_after_hours is not None:

        def abort() -> None:
            for arn in arns:
                sfn.stop_execution(executionArn=arn, error="Aborted", cause="stopped by an operator (scenario)")
            timeline.add("abort", "an operator stops the execution (StopExecution)")

        clock.at_time(START + dt.timedelta(hours=scenario.abort_after_hours), abort)
    deadline = time.monotonic() + REAL_TIMEOUT_SECONDS
    while any(sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" for arn in arns):
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {REAL_TIMEOUT_SECONDS} s of real time")
        time.sleep(0.01)
    return arns


class _JobWatcher:
    """What EventBridge does for WatchJob: Bedrock's job events, through the deployed rule's
    pattern, and the deployed backstop schedule. Both invoke the function asynchronously, as
    Lambda does for EventBridge: a failed invocation is tried twice more, a minute and two
    minutes later (Lambda's asynchronous retries), then dropped (the dead-letter queue)."""

    RETRY_DELAYS = (60.0, 120.0)

    def __init__(self, deployment: LocalDeployment, invoker, clock: SimulatedClock, timeline: _Timeline) -> None:
        self.invoker, self.clock, self.timeline = invoker, clock, timeline
        self.pattern = EventPattern.load(json.dumps(deployment.rule_pattern("JobStateChanged")))
        _, rule = deployment.pipeline.named("JobWatchBackstop")
        self.backstop_seconds = _rate_seconds(rule["Properties"]["ScheduleExpression"])
        self.function = invoker.function("WatchJob")
        self._stopped = threading.Event()

    def bedrock_event(self, event: dict[str, Any]) -> None:
        detail = event["detail"]
        if not self.pattern.matches_event(event):
            self.timeline.add("event", f"Bedrock: job {detail['jobName']} {detail['jobStatus']} (no rule matches)")
            return
        self.timeline.add("event", f"Bedrock: job {detail['jobName']} {detail['jobStatus']} -> rule JobStateChanged")
        self._invoke(event, attempt=0)

    def _invoke(self, event: dict[str, Any], attempt: int) -> None:
        _, error = self.invoker.call(self.function, event)
        if error is not None and attempt < len(self.RETRY_DELAYS):
            when = self.clock.now() + dt.timedelta(seconds=self.RETRY_DELAYS[attempt])
            self.clock.schedule(when, lambda: self._invoke(event, attempt + 1))

    def start_backstop(self) -> None:
        def tick() -> None:
            while not self.clock.wait_event(self._stopped, self.backstop_seconds, background=True, hold=True):
                try:
                    self._invoke({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, attempt=0)
                finally:
                    self.clock.release()
            self.clock.release()

        threading.Thread(target=tick, daemon=True, name="backstop").start()

    def stop(self) -> None:
        self._stopped.set()


def _rate_seconds(expression: str) -> float:
    """`rate(60 minutes)` -> 3600.0 (the forms EventBridge's rate expressions take)."""
    value, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return float(value) * {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit]


def _abort_guard(deployment: LocalDeployment, invoker, executions: list[str], timeline: _Timeline) -> None:
    """What the deployed RunEnded rule does: its pattern decides, StopJob acts."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    pattern = EventPattern.load(json.dumps(deployment.rule_pattern("RunEnded")))
    for arn in executions:
        execution = sfn.describe_execution(executionArn=arn)
        event = {
            "version": "0",
            "id": "local",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": ACCOUNT,
            "time": START.isoformat(),
            "region": REGION,
            "resources": [arn],
            "detail": {
                "executionArn": arn,
                "stateMachineArn": deployment.state_machine_arn,
                "name": execution["name"],
                "status": execution["status"],
                "input": execution["input"],
            },
        }
        if pattern.matches_event(event):
            timeline.add("event", f"execution {execution['status']}: the abort guard rule matches")
            # FAILED runs compensated already: the guard finds nothing left to do there.
            invoker.call(invoker.function("StopJob"), event)


def _execution_summary(sfn, arn: str) -> dict[str, Any]:
    execution = sfn.describe_execution(executionArn=arn)
    # Read from moto's backend, not through the API: moto can fail to serialize the history of
    # an execution stopped mid-task (a timeout field holding the task's input).
    history = [
        {**event, "type": str(getattr(event["type"], "value", event["type"]))}
        for event in stepfunctions_parser_backends[ACCOUNT][REGION].get_execution_history(arn)["events"]
    ]
    entered = [e for e in history if e["type"].endswith("StateEntered")]
    scheduled = sum(1 for e in history if e["type"] == "LambdaFunctionScheduled")
    # Every attempt of a task is scheduled (a Lambda function, or a service call such as the
    # run slot's DynamoDB update); a retry schedules it again without entering the state again.
    attempts = scheduled + sum(1 for e in history if e["type"] == "TaskScheduled")
    tasks = sum(1 for e in history if e["type"] == "TaskStateEntered")
    # A failed execution has no output: its state as it entered its last state tells the same.
    last_input = (entered[-1].get("stateEnteredEventDetails") or {}).get("input") if entered else None
    output = json.loads(execution.get("output") or last_input or "{}")
    return {
        "name": execution["name"],
        "status": execution["status"],
        "error": execution.get("error"),
        "cause": execution.get("cause"),
        "states": [e["stateEnteredEventDetails"]["name"] for e in entered],
        # Billed transitions: every state entered, plus every retry of a task.
        "stateTransitions": len(entered) + max(attempts - tasks, 0),
        "lambdaInvocations": scheduled,
        "customModelArn": (output.get("result") or {}).get("customModelArn"),
        "servingArn": (output.get("serving") or {}).get("arn"),
        "cost": (output.get("validation") or {}).get("cost"),
        "lineage": (output.get("validation") or {}).get("lineage"),
        "datasetVersion": (output.get("upload") or {}).get("versionId"),
        "evaluation": output.get("evaluation"),
        "curves": curves_of(output) or None,
        "servingDeleted": serving_deleted(output),
        "servingMode": (output.get("serving") or {}).get("mode"),
        "jobName": (output.get("job") or {}).get("jobName"),
        "sweep": output.get("sweep") if isinstance(output.get("sweep"), dict) else None,
    }


def _with_evaluation_report(s3, execution: dict[str, Any]) -> dict[str, Any]:
    """The execution, with the evaluation.json the run wrote (without its per-record answers)."""
    uri = (execution.get("evaluation") or {}).get("reportUri")
    if uri:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        evaluation = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        execution["evaluationReport"] = {k: v for k, v in evaluation.items() if k != "results"}
    return execution


def answer_key(source: Path) -> dict[str, str]:
    """Question -> expected answer for every record of the dataset folder, in whichever
    format it is written: what the emulated runtime needs to answer right (or wrong)."""
    answers: dict[str, str] = {}
    for path in sorted(source.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            data_format = (
                PROMPT_COMPLETION
                if "prompt" in record
                else BEDROCK_CONVERSATION
                if "schemaVersion" in record or isinstance(record.get("system"), list)
                else CLAUDE_MESSAGES
            )
            try:
                case = to_case(record, data_format, line=0)
            except Exception:
                continue
            answers[case.prompt] = case.reference
    return answers


def _detection_delays(emulator: BedrockEmulator) -> list[float]:
    delays = []
    for job in emulator.jobs.values():
        seen = [
            c["time"]
            for c in emulator.calls
            if c["operation"] == "GetModelCustomizationJob"
            and c["summary"].endswith(("-> Completed", "-> Failed"))
            and job.request["jobName"] in c["summary"]
        ]
        if seen:
            delays.append((min(seen) - emulator._end(job)).total_seconds())
    return delays


def _intended_serving(report: RunReport, arn: str) -> bool:
    """The serving a successful run hands over is the product, not a leak: also when only its
    success notification failed (the run ends in NotificationFailed, its serving promoted)."""
    return any(
        (e["status"] == "SUCCEEDED" or e.get("error") == "NotificationFailed")
        and e.get("servingArn") == arn
        and not e.get("servingDeleted")
        for e in report.executions
    )


def _notifications(deployment: LocalDeployment) -> list[dict[str, str]]:
    return [
        {"subject": envelope.get("Subject", ""), "message": envelope.get("Message", "")}
        for envelope in _drained("local-capture-notifications")
    ]


def _duration(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def _grader_names(deployment) -> dict[str, str]:
    """Each deployed grader's function ARN -> its name in cdk.json (the stack writes the name
    into the function's description: stacks/constructs/graders.py)."""
    names = {}
    for logical_id, resource in deployment.pipeline.resources.items():
        properties = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Lambda::Function" or not str(properties.get("Handler", "")).startswith(
            "graders."
        ):
            continue
        match = re.match(r"Reward function '([^']+)'", str(properties.get("Description", "")))
        if match:
            names[deployment._physical(deployment.pipeline, logical_id, "Arn")] = match.group(1)
    return names
