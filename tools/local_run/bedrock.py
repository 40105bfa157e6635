"""An emulation of the Bedrock control plane the pipeline uses, behind real boto3 clients.

moto's Bedrock keeps jobs InProgress forever, ignores `clientRequestToken` and has no
throughput or deployments. Here requests still go through boto3: botocore validates every
parameter against the real service model before the `before-call` hook answers, and each
answer is checked against the operation's output shape, so a request or response the real
API would refuse fails the local run too.

Each function of a local run is held to the policy its template gives it: every call is
authorized as IAM would authorize it (tools.local_run.iam), on the resources the Service
Authorization Reference names for the action, with the tags of the resource and of the
request in the context. A grant the pipeline lacks, or a tag condition its code does not
meet, fails the local run as AWS would fail the deployed one.

Status changes follow a simulated clock, so a six-hour job completes in milliseconds while
the state machine's deployed schedule (its Retry intervals) decides when it is noticed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import heapq
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.validate import validate_parameters

from customization.key_policy import allows_bedrock_custom_models
from graders.contract import check_response
from tools.local_run.iam import decide
from tools.local_run.metrics import metrics_files

ACCOUNT = "123456789012"


class SimulatedClock:
    """Real time plus every second the run skipped: waits (retry intervals, backoff) are not
    slept but jumped over, in the order they would end.

    Several executions wait at once (a burst of uploads). Each wait (`sleep`) is registered
    with its end; when no function is running (`busy`) and nothing has happened on the clock
    for a moment, time jumps to the earliest end, and the executions whose waits are over go on.
    So waits end in the order of their ends, as they would in real time, and the waits of
    parallel executions overlap instead of adding up.

    Waits inside a running function (the evaluation's backoff, `advance`) only move time on:
    the function is the one running, and nothing else may go while it waits.

    Time jumps only when every running execution is in a wait (`running_executions`, given by
    the local run): an execution between two states is not idle, however long the machine
    takes to move it on. Waits of things that run on their own (a scheduled rule, an event on
    its way: `background`) do not hold time back, but time may jump to their ends.
    """

    QUIET_SECONDS = 0.01

    def __init__(self, start: dt.datetime) -> None:
        self._start_real = time.monotonic()
        self._start = start
        self.skipped = 0.0
        self._condition = threading.Condition()
        self._ends: list[float] = []  # when each registered wait ends, in seconds since the start
        self._activity = 0
        self._busy = 0
        self._alarms: list[tuple[dt.datetime, Callable[[], None]]] = []
        self._execution_waits = 0
        self._background_waits = 0
        self._draining = False
        # How many executions are running (None: not known, as in tests of the clock alone).
        self.running_executions: Callable[[], int] | None = None

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """A function runs: time does not jump while it does."""
        with self._condition:
            self._busy += 1
            self._activity += 1
        try:
            yield
        finally:
            with self._condition:
                self._busy -= 1
                self._activity += 1
                self._condition.notify_all()

    def advance(self, seconds: float) -> None:
        """Move time on by `seconds` at once (a wait inside a running function)."""
        with self._condition:
            self.skipped += seconds
            self._activity += 1
            self._condition.notify_all()
        self._ring()

    def _elapsed(self) -> float:
        return time.monotonic() - self._start_real + self.skipped

    def now(self) -> dt.datetime:
        with self._condition:
            self._activity += 1
            return self._start + dt.timedelta(seconds=self._elapsed())

    def _idle(self) -> bool:
        """No function runs and every running execution waits (call with the condition held).
        With no execution running, time stands still, unless the run drains what is on its way."""
        if self._busy:
            return False
        if self.running_executions is None:
            return True
        running = self.running_executions()
        return self._draining if running == 0 else self._execution_waits >= running

    def drain(self, real_seconds: float = 5.0) -> None:
        """Let what is still on its way arrive (a late event) once every execution has ended:
        time moves on to each of their ends, and stops when none is left."""
        deadline = time.monotonic() + real_seconds
        with self._condition:
            self._draining = True
            self._activity += 1
            self._condition.notify_all()
        try:
            while time.monotonic() < deadline:
                with self._condition:
                    if self._background_waits == 0 and not self._busy:
                        return
                time.sleep(self.QUIET_SECONDS)
        finally:
            with self._condition:
                self._draining = False

    def sleep(self, seconds: float, *, background: bool = False, hold: bool = False) -> None:
        """Wait `seconds` of simulated time. `hold`: come back busy (release with `release`), so
        that nothing jumps time between the end of the wait and the work it was waiting for."""
        with self._condition:
            end = self._elapsed() + seconds
            heapq.heappush(self._ends, end)
            self._execution_waits += 0 if background else 1
            self._background_waits += 1 if background else 0
            self._activity += 1
            self._condition.notify_all()
            while self._elapsed() < end:
                seen = self._activity
                self._condition.wait(self.QUIET_SECONDS)
                if self._activity == seen and self._idle() and self._elapsed() < end:
                    # Quiet: no function runs, every execution waits. Jump to the earliest end.
                    self.skipped += max(0.0, self._ends[0] - self._elapsed())
                    self._activity += 1
                    self._condition.notify_all()
            self._execution_waits -= 0 if background else 1
            self._background_waits -= 1 if background else 0
            self._ends.remove(end)
            heapq.heapify(self._ends)
            self._busy += 1 if hold else 0
        self._ring()

    def release(self) -> None:
        """End the busy spell a `hold` wait began."""
        with self._condition:
            self._busy -= 1
            self._activity += 1
            self._condition.notify_all()

    def wait_event(
        self, event: threading.Event, seconds: float | None, *, background: bool = False, hold: bool = False
    ) -> bool:
        """Wait until `event` is set or `seconds` of simulated time have passed (None: no limit);
        True when it was set. The limit counts as a wait the clock may jump to, as `sleep`'s do."""
        with self._condition:
            end = self._elapsed() + seconds if seconds is not None else None
            if end is not None:
                heapq.heappush(self._ends, end)
            self._execution_waits += 0 if background else 1
            self._background_waits += 1 if background else 0
            self._activity += 1
            self._condition.notify_all()
            while not event.is_set() and (end is None or self._elapsed() < end):
                seen = self._activity
                self._condition.wait(self.QUIET_SECONDS)
                if event.is_set():
                    break
                if self._activity == seen and self._idle() and self._ends and (end is None or self._elapsed() < end):
                    self.skipped += max(0.0, self._ends[0] - self._elapsed())
                    self._activity += 1
                    self._condition.notify_all()
            self._execution_waits -= 0 if background else 1
            self._background_waits -= 1 if background else 0
            if end is not None:
                self._ends.remove(end)
                heapq.heapify(self._ends)
            self._busy += 1 if hold else 0
        self._ring()
        return event.is_set()

    def schedule(self, when: dt.datetime, action: Callable[[], None]) -> threading.Thread:
        """Run `action` in a thread of its own when simulated time reaches `when`: an event that
        arrives on its own (Bedrock's job events, a scheduled rule), which time may jump to."""

        def wait_then_act() -> None:
            self.sleep(max(0.0, (when - self.now()).total_seconds()), background=True, hold=True)
            try:
                action()
            finally:
                self.release()

        thread = threading.Thread(target=wait_then_act, daemon=True, name=f"scheduled-{when.isoformat()}")
        thread.start()
        return thread

    def notify(self) -> None:
        """Something happened that waiters should look at (a task token was answered)."""
        with self._condition:
            self._activity += 1
            self._condition.notify_all()

    def at_time(self, when: dt.datetime, action: Callable[[], None]) -> None:
        """Run `action` when simulated time reaches `when`, in the thread that gets there:
        deterministic, whatever the machine's load."""
        self._alarms.append((when, action))

    def _ring(self) -> None:
        now = self.now()
        with self._condition:
            due = [alarm for alarm in self._alarms if alarm[0] <= now]
            self._alarms = [alarm for alarm in self._alarms if alarm[0] > now]
        for _, action in due:
            action()


@dataclass
class Behaviour:
    """What the emulated service does in a scenario (defaults: everything works)."""

    job_hours: float = 6.0
    job_outcome: str = "Completed"  # or "Failed"
    failure_message: str = "Data validation failed: record 412 exceeds the token limit for this model."
    stopped_by_someone_after_hours: float | None = None
    throttle_first_creates: int = 0
    # The first CreateModelCustomizationJob succeeds but its response is lost (as when the
    # calling Lambda times out): the retry must find that job, not start a second one.
    lose_first_create_response: bool = False
    quota_full_for_minutes: float = 0.0
    serving_minutes: float = 20.0
    serving_outcome: str = "ready"  # or "Failed"
    training_loss: float = 0.1132
    validation_loss: float = 0.1421
    # The runtime (Converse): the share of validation questions each model answers right,
    # decided per question by a checksum (deterministic), and how many times each request is
    # throttled before it is answered.
    custom_accuracy: float = 0.9
    base_accuracy: float = 0.35
    runtime_throttles_per_request: int = 0
    # Model access to the base model is not enabled in the account (the runtime refuses it).
    base_model_access_denied: bool = False
    # (function, operation) pairs refused with AccessDenied, as if the function's role lacked it.
    denied: frozenset[tuple[str, str]] = frozenset()
    # (function, operation, from hour, for hours): an outage of throttling for that caller.
    throttled: tuple[str, str, float, float] | None = None
    # Functions whose every invocation fails after doing its work: "Sandbox.Timedout" (a
    # Lambda timeout) or "InjectedFault" (any other error), by function name.
    faults: dict[str, str] = field(default_factory=dict)
    # Model IDs (as invoked, e.g. amazon.nova-micro-v1:0) whose access the account has not been granted.
    models_without_access: frozenset[str] = frozenset()
    # The custom model after its job completes: Creating for this long, then Active (or Failed).
    model_creating_minutes: float = 0.0
    model_outcome: str = "Active"  # or "Failed"
    # Bedrock's "Model Customization Job State Change" events: "delivered" (once, at the end),
    # "lost" (never: the backstop must find the end) or "duplicated" (twice).
    job_events: str = "delivered"
    # How long after a stop its Stopped event arrives (late: after the run was aborted).
    stop_event_delay_minutes: float = 0.5
    # The loss curves a completed job writes to its output path (tools/local_run/metrics.py):
    # healthy, overfitting, unstable, underfitting, or missing (no metrics files at all).
    curve: str = "healthy"
    # A sweep's variants (job names ending -v<n>): their final validation loss, and those that fail.
    variant_losses: dict[int, float] = field(default_factory=dict)
    failing_variants: frozenset[int] = frozenset()

    def variant_of(self, job_name: str) -> int | None:
        head, _, number = job_name.rpartition("-v")
        return int(number) if head and number.isdigit() else None

    def fault_after(self, function: str) -> EmulatedFailure | None:
        """The failure `function` meets after its handler returned, if the scenario gives it one."""
        kind = self.faults.get(function)
        if kind is None:
            return None
        if kind == "Sandbox.Timedout":
            return EmulatedFailure(kind, "Task timed out after 60.00 seconds (emulated, after its work was done)")
        return EmulatedFailure(kind, f"{function} failed after its work was done (emulated fault)")


class EmulatedFailure(Exception):
    """A failure of the function itself, after its work was done (the scenario's fault)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class _Job:
    request: dict[str, Any]
    arn: str
    model_arn: str
    created: dt.datetime
    status: str = "InProgress"
    ended: dt.datetime | None = None
    model_deleted: bool = False
    announced: bool = False  # its end was published as an event
    failure: str | None = None  # why it fails whatever the scenario (a broken grader), Bedrock's failureMessage
    hours: float | None = None  # how long it runs, when not the scenario's job_hours
    rewards: dict[str, Any] | None = None  # RFT: what the grader scored on the sampled answers
    foundation: str = ""  # the foundation model's ID, also for a job on top of a custom model
    parent: str | None = None  # re-fine-tuning: the custom model it customized further


@dataclass
class _Serving:
    kind: str  # "throughput" or "deployment"
    name: str
    arn: str
    request: dict[str, Any]
    created: dt.datetime
    deleted: bool = False


@dataclass
class BedrockEmulator:
    clock: SimulatedClock
    region: str
    behaviour: Behaviour = field(default_factory=Behaviour)
    calls: list[dict[str, Any]] = field(default_factory=list)
    on_call: Callable[[dict[str, Any]], None] | None = None
    jobs: dict[str, _Job] = field(default_factory=dict)
    servings: dict[str, _Serving] = field(default_factory=dict)
    # Question text -> expected answer, for the emulated runtime (see `answer_key`).
    answers: dict[str, str] = field(default_factory=dict)
    base_models: frozenset[str] = frozenset()
    # The key policies of the deployed customer-managed keys, by key ARN (Bedrock checks the
    # one that encrypts a custom Nova model before it creates throughput for it).
    key_policies: dict[str, dict] = field(default_factory=dict)
    today: dt.date | None = None  # for model lifecycles (None: the clock's date)
    # The identity policies of a caller (a function's name), or None when the caller is not held
    # to any (tests and tools that call the emulation directly).
    policies_of: Callable[[str], list[dict] | None] | None = None
    # Where Bedrock's job events go (the default event bus): None publishes nothing.
    publish_event: Callable[[dict[str, Any]], None] | None = None
    # Where a completed job's artifacts are written (s3 URI, body): None writes nothing.
    write_output: Callable[[str, bytes], None] | None = None
    # Reinforcement fine-tuning: read the training records (s3 URI -> bytes), and invoke a
    # grader by its function ARN with a batch (the deployed handler; raises as the function would).
    read_input: Callable[[str], bytes] | None = None
    invoke_grader: Callable[[str, list[dict[str, Any]]], Any] | None = None
    on_grading: Callable[[str, dict[str, Any]], None] | None = None
    # Distillation from invocation logs: the log records under an S3 prefix as the job's role may
    # read them (s3 URI, role ARN -> records; raises PermissionError with IAM's words when it may not).
    read_logs: Callable[[str, str], list[dict[str, Any]]] | None = None
    on_logs: Callable[[str, dict[str, Any]], None] | None = None
    _create_attempts: int = 0
    _lost_response: bool = False
    _started: dt.datetime | None = None
    _runtime_attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    _runtime_lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str = "bedrock", *, caller: str = ""):
        """A boto3 client of `bedrock` or `bedrock-runtime` answered by this emulation, for
        `caller` (a function's name: a scenario may deny one function a permission)."""
        return emulated_client(service, self.region, lambda operation, params: self._handle(operation, params, caller))

    # -- what the run left behind -------------------------------------------------------------

    def running_jobs(self) -> list[str]:
        return [job.arn for job in self.jobs.values() if self._status(job) == "InProgress"]

    def billed_servings(self) -> list[str]:
        return [s.arn for s in self.servings.values() if not s.deleted]

    def max_concurrent_jobs(self) -> int:
        """The most jobs that were training at the same moment."""
        edges = []
        for job in self.jobs.values():
            self._status(job)
            ended = job.ended if job.status == "Stopped" else self._end(job)
            edges += [(job.created, 1), (min(ended, self.clock.now()), -1)]
        most = current = 0
        for _, change in sorted(edges, key=lambda edge: (edge[0], edge[1])):
            current += change
            most = max(most, current)
        return most

    def kept_models(self) -> list[str]:
        """Custom models that exist (each bills storage every month until deleted)."""
        return [
            job.model_arn for job in self.jobs.values() if self._status(job) == "Completed" and not job.model_deleted
        ]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for call in self.calls:
            counted[call["operation"]] = counted.get(call["operation"], 0) + 1
        return counted

    # -- operations ---------------------------------------------------------------------------

    def _handle(self, operation: str, params: dict[str, Any], caller: str = "") -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        handler = getattr(self, f"_{_snake(operation)}", None)
        refusal = self._refusal(operation, caller, now) or self._unauthorized(operation, params, caller)
        if refusal is not None:
            status, body = refusal
        elif handler is None:
            status, body = 400, _error("ValidationException", f"{operation} is not emulated locally")
        else:
            status, body = handler(params, now)
        call = {
            "operation": operation,
            "time": now,
            "status": status,
            "summary": _summary(operation, params, body, status),
        }
        self.calls.append(call)
        if self.on_call:
            self.on_call(call)
        return status, body

    def _refusal(self, operation: str, caller: str, now: dt.datetime) -> tuple[int, dict[str, Any]] | None:
        """What the scenario makes this call of this caller meet: a denied permission, or an
        outage of throttling."""
        behaviour = self.behaviour
        if (caller, operation) in behaviour.denied:
            return 400, _error(
                "AccessDeniedException",
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{caller}Role/{caller} is not authorized to perform: "
                f"bedrock:{operation}",
            )
        outage = behaviour.throttled
        if outage and (caller, operation) == outage[:2] and self._started is not None:
            begins = self._started + dt.timedelta(hours=outage[2])
            if begins <= now < begins + dt.timedelta(hours=outage[3]):
                return 400, _error("ThrottlingException", "Too many requests, please wait before trying again.")
        return None

    # -- Bedrock's job events (EventBridge) --------------------------------------------------------

    def _announce_at(self, job: _Job, when: dt.datetime) -> None:
        if self.publish_event is not None:
            self.clock.schedule(when, lambda: self._announce(job))

    def _announce(self, job: _Job) -> None:
        """Publish the job's end, once, as Bedrock does (best effort: a scenario may lose it)."""
        status = self._status(job)
        if status == "InProgress" or job.announced or self.publish_event is None:
            return
        job.announced = True
        copies = {"delivered": 1, "lost": 0, "duplicated": 2}[self.behaviour.job_events]
        for _ in range(copies):
            self.publish_event(self._job_event(job, status))

    def _job_event(self, job: _Job, status: str) -> dict[str, Any]:
        """The event as the Bedrock user guide shows it ("Monitor Amazon Bedrock job state changes
        using Amazon EventBridge"): the status is `jobStatus`, not `status`."""
        now = self.clock.now()
        detail: dict[str, Any] = {
            "version": "0.0",
            "jobName": job.request["jobName"],
            "jobArn": job.arn,
            "outputModelName": job.request["customModelName"],
            "roleArn": job.request["roleArn"],
            "jobStatus": status,
            "creationTime": job.created.isoformat(),
            "lastModifiedTime": now.isoformat(),
            "endTime": (job.ended or self._end(job)).isoformat(),
            "baseModelArn": self._base_arn(job),
        }
        if status == "Completed":
            detail["outputModelArn"] = job.model_arn
        if status == "Failed":
            detail["failureMessage"] = self.behaviour.failure_message
        return {
            "version": "0",
            "id": _id(f"{job.arn}-{status}"),
            "detail-type": "Model Customization Job State Change",
            "source": "aws.bedrock",
            "account": ACCOUNT,
            "time": now.isoformat(),
            "region": self.region,
            "resources": [job.arn],
            "detail": detail,
        }

    # -- IAM -----------------------------------------------------------------------------------

    def _unauthorized(self, operation: str, params: dict[str, Any], caller: str) -> tuple[int, dict] | None:
        """AccessDenied, as IAM words it, when the caller's policies do not allow the call on
        every resource it touches."""
        policies = self.policies_of(caller) if (caller and self.policies_of) else None
        if policies is None:
            return None
        action = f"bedrock:{_IAM_ACTIONS.get(operation, operation)}"
        for resource, context in self._authorized_on(operation, params):
            if decide(policies, action, resource, context) != "allowed":
                return 400, _error(
                    "AccessDeniedException",
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{caller}Role/{caller} is not authorized to perform: "
                    f"{action} on resource: {resource} because no identity-based policy allows the {action} action",
                )
        return None

    def _authorized_on(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, list[str]]]]:
        """The (resource ARN, condition context) pairs IAM checks for the call: the resource types
        of the action in the Service Authorization Reference (Amazon Bedrock, read 2026-11-29),
        each with its tags as aws:ResourceTag, and the request's tags as aws:RequestTag/aws:TagKeys.
        A resource that does not exist has no tags: a tag condition refuses it."""
        arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT}"
        requested = _request_tags(params)

        def resource(resource_arn: str, **extra: list[str]) -> tuple[str, dict[str, list[str]]]:
            tags = self._tags_of(resource_arn) or []
            held = {f"aws:resourcetag/{tag['key'].lower()}": [tag["value"]] for tag in tags}
            return resource_arn, {**held, **requested, **extra}

        def named(kind: str, identifier: str, found: Any) -> str:
            if found is not None:
                return found.arn
            return identifier if identifier.startswith("arn:") else f"{arn}:{kind}/{identifier}"

        if operation == "CreateModelCustomizationJob":
            base = params["baseModelIdentifier"]
            base_arn = base if base.startswith("arn:") else f"arn:aws:bedrock:{self.region}::foundation-model/{base}"
            parent = self._job_of_model(base)
            foundation = parent.foundation if parent is not None else base.split(":foundation-model/")[-1]
            new_model = f"{arn}:custom-model/{foundation}/{_id(params['customModelName'])}"  # as created below
            return [resource(base_arn), (new_model, requested)]
        if operation in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
            identifier = params["jobIdentifier"]
            return [resource(named("model-customization-job", identifier, self._find_job(identifier)))]
        if operation in ("CreateProvisionedModelThroughput", "CreateCustomModelDeployment"):
            model = params.get("modelId") or params["modelArn"]
            return [resource(self._model_arn(model) or model)]
        if operation in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput"):
            identifier = params["provisionedModelId"]
            return [resource(named("provisioned-model", identifier, self._find_serving(identifier)))]
        if operation in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
            identifier = params["customModelDeploymentIdentifier"]
            return [resource(named("custom-model-deployment", identifier, self._find_serving(identifier)))]
        if operation in ("GetCustomModel", "DeleteCustomModel"):
            model = params["modelIdentifier"]
            return [resource(self._model_arn(model) or f"{arn}:custom-model/{model}")]
        if operation in ("ListTagsForResource", "TagResource", "UntagResource"):
            return [resource(params["resourceARN"])]
        if operation in ("Converse", "InvokeModel"):
            return self._invoked(params["modelId"], resource)
        # List* and the foundation-model questions take no resource: "*".
        return [("*", {})]

    def _invoked(self, model_id: str, resource: Callable) -> list[tuple[str, dict[str, list[str]]]]:
        """What invoking `model_id` is authorized on: the throughput or deployment (and the custom
        model behind a deployment), or the base model, through its inference profile if it has one."""
        serving = self._find_serving(model_id)
        if serving is not None:
            checked = [resource(serving.arn)]
            if serving.kind == "deployment":
                checked.append(resource(serving.request["modelArn"]))
            return checked
        from customization.catalog import load_catalog

        for model in load_catalog().models.values():
            invocation = model.invocation
            if invocation.model_id != model_id:
                continue
            foundation = f"arn:aws:bedrock:{self.region}::foundation-model/{invocation.base_model_id}"
            if not invocation.inference_profile:
                return [resource(foundation)]
            profile = f"arn:aws:bedrock:{self.region}:{ACCOUNT}:inference-profile/{model_id}"
            return [resource(profile), resource(foundation, **{"bedrock:inferenceprofilearn": [profile]})]
        return [
            resource(
                model_id
                if model_id.startswith("arn:")
                else f"arn:aws:bedrock:{self.region}::foundation-model/{model_id}"
            )
        ]

    def _model_arn(self, identifier: str) -> str | None:
        job = self._job_of_model(identifier)
        return job.model_arn if job is not None else None

    def _create_model_customization_job(self, params, now):
        self._create_attempts += 1
        self._started = self._started or now
        if self._create_attempts <= self.behaviour.throttle_first_creates:
            return 400, _error("ThrottlingException", "Rate exceeded")
        if now < self._started + dt.timedelta(minutes=self.behaviour.quota_full_for_minutes):
            return 400, _error(
                "ServiceQuotaExceededException",
                "You have reached the maximum number of concurrent model customization jobs for this account.",
            )
        existing = self.jobs.get(params["jobName"])
        if existing is not None:
            if existing.request.get("clientRequestToken") == params.get("clientRequestToken"):
                return 200, {"jobArn": existing.arn}  # same token: the request is ignored
            return 400, _error("ConflictException", f"A job named {params['jobName']} already exists.")
        refusal = self._refuse_base_model(params["baseModelIdentifier"], now) or refuse_method(params)
        if refusal:
            return refusal
        parent = self._job_of_model(params["baseModelIdentifier"])
        if any(
            job.request["customModelName"] == params["customModelName"] and not job.model_deleted
            for job in self.jobs.values()
        ):
            return 400, _error("ConflictException", f"A custom model named {params['customModelName']} already exists.")
        # A custom model's ARN names its foundation model, also when it was customized from another
        # custom model (botocore's BaseModelIdentifier pattern: custom-model/<base model id>/<id>).
        foundation = parent.foundation if parent is not None else params["baseModelIdentifier"]
        arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT}:model-customization-job/{foundation}/{_id(params['jobName'])}"
        model_arn = (
            f"arn:aws:bedrock:{self.region}:{ACCOUNT}:custom-model/{foundation}/{_id(params['customModelName'])}"
        )
        job = self.jobs[params["jobName"]] = _Job(
            request=params,
            arn=arn,
            model_arn=model_arn,
            created=now,
            foundation=foundation,
            parent=parent.model_arn if parent is not None else None,
        )
        if params.get("customizationType") == "REINFORCEMENT_FINE_TUNING":
            self._grade_samples(job)
        if params["trainingDataConfig"].get("invocationLogsConfig"):
            self._read_invocation_logs(job)
        stopped_after = self.behaviour.stopped_by_someone_after_hours
        ends = now + dt.timedelta(
            hours=stopped_after if stopped_after is not None else job.hours or self.behaviour.job_hours
        )
        self._announce_at(job, ends)
        if self.behaviour.lose_first_create_response and len(self.jobs) == 1 and not self._lost_response:
            self._lost_response = True
            return 500, _error("InternalServerException", "The job was created but the response was lost (emulated).")
        return 200, {"jobArn": arn}

    def _get_model_customization_job(self, params, now):
        job = self._find_job(params["jobIdentifier"])
        if job is None:
            return 400, _error("ResourceNotFoundException", f"Job {params['jobIdentifier']} not found.")
        status = self._status(job)
        body = {
            "jobArn": job.arn,
            "jobName": job.request["jobName"],
            "outputModelName": job.request["customModelName"],
            "roleArn": job.request["roleArn"],
            "status": status,
            "creationTime": job.created,
            "lastModifiedTime": now,
            "baseModelArn": self._base_arn(job),
            "hyperParameters": job.request.get("hyperParameters", {}),
            "trainingDataConfig": job.request["trainingDataConfig"],
            "validationDataConfig": job.request.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": job.request["outputDataConfig"],
            "customizationType": job.request.get("customizationType", "FINE_TUNING"),
        }
        if job.request.get("customizationConfig"):
            body["customizationConfig"] = job.request["customizationConfig"]
        if job.request.get("clientRequestToken"):
            body["clientRequestToken"] = job.request["clientRequestToken"]
        if status == "InProgress":
            body["statusDetails"] = {"trainingDetails": {"status": "InProgress", "creationTime": job.created}}
        elif status == "Completed":
            body.update(
                outputModelArn=job.model_arn,
                endTime=self._end(job),
                trainingMetrics={"trainingLoss": self.behaviour.training_loss},
                validationMetrics=[
                    {
                        "validationLoss": self.behaviour.variant_losses.get(
                            self.behaviour.variant_of(job.request["jobName"]), self.behaviour.validation_loss
                        )
                    }
                ],
            )
        elif status == "Failed":
            body.update(failureMessage=job.failure or self.behaviour.failure_message, endTime=self._end(job))
        else:
            body.update(endTime=job.ended or self._end(job))
        return 200, body

    def _stop_model_customization_job(self, params, now):
        job = self._find_job(params["jobIdentifier"])
        if job is None:
            return 400, _error("ResourceNotFoundException", f"Job {params['jobIdentifier']} not found.")
        if self._status(job) != "InProgress":
            return 400, _error("ConflictException", f"Job is {self._status(job)} and cannot be stopped.")
        job.status, job.ended = "Stopped", now
        self._announce_at(job, now + dt.timedelta(minutes=self.behaviour.stop_event_delay_minutes))
        return 200, {}

    def _create_provisioned_model_throughput(self, params, now):
        return self._create_serving("throughput", params["provisionedModelName"], params, now, "provisionedModelArn")

    def _create_custom_model_deployment(self, params, now):
        return self._create_serving(
            "deployment", params["modelDeploymentName"], params, now, "customModelDeploymentArn"
        )

    def _create_serving(self, kind, name, params, now, arn_key):
        existing = self.servings.get(name)
        if existing is not None and not existing.deleted:
            if existing.request.get("clientRequestToken") == params.get("clientRequestToken"):
                return 200, {arn_key: existing.arn}
            return 400, _error("ConflictException", f"{name} already exists.")
        model_arn = params.get("modelId") or params.get("modelArn")
        job = self._job_of_model(model_arn)
        if job is not None:
            status = self._model_status(job)
            if status != "Active":
                return 400, _error(
                    "ValidationException", f"The custom model {model_arn} must be in the Active state, not {status}."
                )
            if kind == "throughput" and not self._bedrock_may_use_key(job.request.get("customModelKmsKeyId")):
                return 400, _error(
                    "ValidationException",
                    f"Amazon Bedrock cannot use the KMS key {job.request.get('customModelKmsKeyId')} that encrypts "
                    "the custom model: its key policy must allow bedrock.amazonaws.com kms:Decrypt and "
                    "kms:GenerateDataKey for the encryption context aws:bedrock:custom-model.",
                )
        resource = "provisioned-model" if kind == "throughput" else "custom-model-deployment"
        arn = f"arn:aws:bedrock:{self.region}:{ACCOUNT}:{resource}/{_id(name)}"
        self.servings[name] = _Serving(kind=kind, name=name, arn=arn, request=params, created=now)
        return 200, {arn_key: arn}

    def _get_provisioned_model_throughput(self, params, now):
        serving = self._find_serving(params["provisionedModelId"])
        if serving is None:
            return 400, _error("ResourceNotFoundException", "Provisioned throughput not found.")
        request = serving.request
        body = {
            "modelUnits": request["modelUnits"],
            "desiredModelUnits": request["modelUnits"],
            "provisionedModelName": serving.name,
            "provisionedModelArn": serving.arn,
            "modelArn": request["modelId"],
            "desiredModelArn": request["modelId"],
            "foundationModelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{_base_of(request['modelId'])}",
            "status": self._serving_status(serving, ready="InService"),
            "creationTime": serving.created,
            "lastModifiedTime": now,
        }
        if request.get("commitmentDuration"):
            body["commitmentDuration"] = request["commitmentDuration"]
            body["commitmentExpirationTime"] = serving.created + dt.timedelta(days=30)
        if body["status"] == "Failed":
            body["failureMessage"] = "Insufficient capacity for the requested model units."
        return 200, body

    def _get_custom_model_deployment(self, params, now):
        serving = self._find_serving(params["customModelDeploymentIdentifier"])
        if serving is None:
            return 400, _error("ResourceNotFoundException", "Custom model deployment not found.")
        body = {
            "customModelDeploymentArn": serving.arn,
            "modelDeploymentName": serving.name,
            "modelArn": serving.request["modelArn"],
            "createdAt": serving.created,
            "status": self._serving_status(serving, ready="Active"),
        }
        if body["status"] == "Failed":
            body["failureMessage"] = "The deployment could not be created."
        return 200, body

    def _delete_provisioned_model_throughput(self, params, now):
        return self._delete_serving(params["provisionedModelId"])

    def _delete_custom_model_deployment(self, params, now):
        return self._delete_serving(params["customModelDeploymentIdentifier"])

    def _delete_serving(self, identifier):
        serving = self._find_serving(identifier)
        if serving is None:
            return 400, _error("ResourceNotFoundException", f"{identifier} not found.")
        serving.deleted = True
        return 200, {}

    # -- listing and cleanup (the operator CLI's calls) -----------------------------------------

    def _tags_of(self, arn: str) -> list[dict[str, str]] | None:
        for job in self.jobs.values():
            if arn in (job.arn, job.model_arn):
                return job.request.get("jobTags" if arn == job.arn else "customModelTags", [])
        for serving in self.servings.values():
            if serving.arn == arn and not serving.deleted:
                return serving.request.get("tags", [])
        return None

    def _list_tags_for_resource(self, params, now):
        tags = self._tags_of(params["resourceARN"])
        if tags is None:
            return 400, _error("ResourceNotFoundException", f"{params['resourceARN']} not found.")
        return 200, {"tags": tags}

    def _list_model_customization_jobs(self, params, now):
        summaries = []
        for job in self.jobs.values():
            if not _listed(job.request["jobName"], params):
                continue
            status = self._status(job)
            summary = {
                "jobArn": job.arn,
                "baseModelArn": self._base_arn(job),
                "jobName": job.request["jobName"],
                "status": status,
                "creationTime": job.created,
                "customModelName": job.request["customModelName"],
                "customizationType": job.request.get("customizationType", "FINE_TUNING"),
            }
            if status != "InProgress":
                summary["endTime"] = job.ended or self._end(job)
            if status == "Completed":
                summary["customModelArn"] = job.model_arn
            if params.get("statusEquals") in (None, status):
                summaries.append(summary)
        return 200, {"modelCustomizationJobSummaries": summaries}

    def _list_provisioned_model_throughputs(self, params, now):
        summaries = []
        for serving in self.servings.values():
            if serving.kind != "throughput" or serving.deleted or not _listed(serving.name, params):
                continue
            _, body = self._get_provisioned_model_throughput({"provisionedModelId": serving.arn}, now)
            summaries.append(
                {
                    key: body[key]
                    for key in (
                        "provisionedModelName",
                        "provisionedModelArn",
                        "modelArn",
                        "desiredModelArn",
                        "foundationModelArn",
                        "modelUnits",
                        "desiredModelUnits",
                        "status",
                        "commitmentDuration",
                        "commitmentExpirationTime",
                        "creationTime",
                        "lastModifiedTime",
                    )
                    if key in body
                }
            )
        return 200, {"provisionedModelSummaries": summaries}

    def _list_custom_model_deployments(self, params, now):
        summaries = []
        for serving in self.servings.values():
            if serving.kind != "deployment" or serving.deleted or not _listed(serving.name, params):
                continue
            summaries.append(
                {
                    "customModelDeploymentArn": serving.arn,
                    "customModelDeploymentName": serving.name,
                    "modelArn": serving.request["modelArn"],
                    "createdAt": serving.created,
                    "status": self._serving_status(serving, ready="Active"),
                }
            )
        return 200, {"modelDeploymentSummaries": summaries}

    def _list_custom_models(self, params, now):
        summaries = [
            {
                "modelArn": job.model_arn,
                "modelName": job.request["customModelName"],
                "creationTime": self._end(job),
                "baseModelArn": self._base_arn(job),
                "baseModelName": job.foundation,
                "customizationType": job.request.get("customizationType", "FINE_TUNING"),
                "ownerAccountId": ACCOUNT,
                "modelStatus": self._model_status(job),
            }
            for job in self.jobs.values()
            if self._status(job) == "Completed"
            and not job.model_deleted
            and _listed(job.request["customModelName"], params)
        ]
        return 200, {"modelSummaries": summaries}

    def _get_custom_model(self, params, now):
        job = self._job_of_model(params["modelIdentifier"])
        if job is None or job.model_deleted or self._status(job) != "Completed":
            return 400, _error("ResourceNotFoundException", f"Custom model {params['modelIdentifier']} not found.")
        body = {
            "modelArn": job.model_arn,
            "modelName": job.request["customModelName"],
            "jobArn": job.arn,
            "baseModelArn": self._base_arn(job),
            "customizationType": job.request.get("customizationType", "FINE_TUNING"),
            "creationTime": self._end(job),
            "modelStatus": self._model_status(job),
        }
        if job.request.get("customModelKmsKeyId"):
            body["modelKmsKeyArn"] = job.request["customModelKmsKeyId"]
        if body["modelStatus"] == "Failed":
            body["failureMessage"] = "The custom model could not be created from the job's artifacts."
        return 200, body

    def _delete_custom_model(self, params, now):
        for job in self.jobs.values():
            if params["modelIdentifier"] in (job.model_arn, job.request["customModelName"]):
                job.model_deleted = True
                return 200, {}
        return 400, _error("ResourceNotFoundException", f"{params['modelIdentifier']} not found.")

    # -- foundation models (what the Region offers, and the account's access) ----------------------

    def _foundation_models(self, now) -> list:
        from customization.catalog import load_catalog

        today = self.today or now.date()
        return [
            model
            for model in load_catalog().models.values()
            if self.region in model.regions and not model.lifecycle.ended(today)
        ]

    def _list_foundation_models(self, params, now):
        wanted = params.get("byCustomizationType")
        summaries = [
            {
                "modelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{model.id}",
                "modelId": model.id,
                "modelName": model.name,
                "providerName": model.family,
                "customizationsSupported": list(model.customization_types),
                "modelLifecycle": {"status": "LEGACY" if model.lifecycle.status == "legacy" else "ACTIVE"},
            }
            for model in self._foundation_models(now)
            if wanted is None or wanted in model.customization_types
        ]
        return 200, {"modelSummaries": summaries}

    def _get_foundation_model_availability(self, params, now):
        model_id = params["modelId"]
        denied = model_id in self.behaviour.models_without_access
        return 200, {
            "modelId": model_id,
            "agreementAvailability": {"status": "NOT_AVAILABLE" if denied else "AVAILABLE"},
            "authorizationStatus": "NOT_AUTHORIZED" if denied else "AUTHORIZED",
            "entitlementAvailability": "NOT_AVAILABLE" if denied else "AVAILABLE",
            "regionAvailability": "AVAILABLE",
        }

    # -- the runtime (bedrock-runtime Converse) -----------------------------------------------------

    def _converse(self, params, now):
        model_id = params["modelId"]
        texts = [block["text"] for message in params["messages"] for block in message["content"] if "text" in block]
        question = texts[-1]
        with self._runtime_lock:
            attempts = self._runtime_attempts[model_id, question] = (
                self._runtime_attempts.get((model_id, question), 0) + 1
            )
        if attempts <= self.behaviour.runtime_throttles_per_request:
            return 400, _error("ThrottlingException", "Too many requests, please wait before trying again.")
        serving = self._find_serving(model_id)
        if serving is not None:
            ready = "InService" if serving.kind == "throughput" else "Active"
            if self._serving_status(serving, ready=ready) != ready:
                return 400, _error("ValidationException", f"{model_id} is not ready for inference yet.")
            role, accuracy = "custom", self.behaviour.custom_accuracy
        elif model_id in self.base_models:
            if self.behaviour.base_model_access_denied:
                return 400, _error(
                    "AccessDeniedException", "You don't have access to the model with the specified model ID."
                )
            role, accuracy = "base", self.behaviour.base_accuracy
        else:
            return 400, _error("ValidationException", "The provided model identifier is invalid.")
        text = _emulated_answer(role, question, self.answers.get(question), accuracy)
        mark = zlib.crc32(f"{role}\n{question}".encode())
        return 200, {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": sum(len(t) for t in texts) // 4 + 1,
                "outputTokens": len(text) // 4 + 1,
                "totalTokens": sum(len(t) for t in texts) // 4 + len(text) // 4 + 2,
            },
            # Fine-tuned small models answer short labels quickly; the base model explains itself.
            "metrics": {"latencyMs": (180 + mark % 120) if role == "custom" else (420 + mark % 380)},
        }

    # -- helpers --------------------------------------------------------------------------------

    def _base_arn(self, job: _Job) -> str:
        """What the job was customized from: the foundation model, or the parent custom model."""
        return job.parent or f"arn:aws:bedrock:{self.region}::foundation-model/{job.foundation}"

    def _job_of_model(self, identifier: str | None) -> _Job | None:
        return next((j for j in self.jobs.values() if identifier in (j.model_arn, j.request["customModelName"])), None)

    def _model_status(self, job: _Job) -> str:
        """A completed job's model is Creating for a while, then Active (or Failed)."""
        ready = self._end(job) + dt.timedelta(minutes=self.behaviour.model_creating_minutes)
        if self.clock.now() < ready:
            return "Creating"
        return self.behaviour.model_outcome

    def _refuse_base_model(self, model_id: str, now: dt.datetime):
        """Bedrock refuses models past their end of life (and models it does not know)."""
        from customization.catalog import load_catalog

        if ":custom-model/" in model_id:
            # A custom model of this account, customized further (the submit page: the base may be
            # a "previously customized model"): it must exist and be Active, as Bedrock requires.
            parent = self._job_of_model(model_id)
            if parent is None or parent.model_deleted or self._status(parent) != "Completed":
                return 400, _error("ValidationException", f"The provided model identifier {model_id} is invalid.")
            if self._model_status(parent) != "Active":
                return 400, _error("ValidationException", f"The custom model {model_id} is not in Active state.")
            return None
        model = load_catalog().models.get(model_id.split(":foundation-model/")[-1])
        if model is None:
            return 400, _error("ValidationException", f"The provided model identifier {model_id} is invalid.")
        if model.lifecycle.ended(self.today or now.date()):
            return 400, _error("ValidationException", "This model version has reached the end of its life.")
        return None

    def _bedrock_may_use_key(self, key_arn: str | None) -> bool:
        """Whether the key's policy lets the Bedrock service principal use it for custom models.
        No key: an AWS-owned key, which Bedrock may always use."""
        return not key_arn or allows_bedrock_custom_models(self.key_policies.get(key_arn))

    def _find_job(self, identifier: str) -> _Job | None:
        return self.jobs.get(identifier) or next((j for j in self.jobs.values() if j.arn == identifier), None)

    def _find_serving(self, identifier: str) -> _Serving | None:
        serving = self.servings.get(identifier) or next(
            (s for s in self.servings.values() if s.arn == identifier), None
        )
        return None if serving is None or serving.deleted else serving

    def _end(self, job: _Job) -> dt.datetime:
        return job.created + dt.timedelta(hours=job.hours or self.behaviour.job_hours)

    def _status(self, job: _Job) -> str:
        if job.status != "InProgress":
            return job.status
        now = self.clock.now()
        stop_after = self.behaviour.stopped_by_someone_after_hours
        if stop_after is not None and now >= job.created + dt.timedelta(hours=stop_after):
            job.status, job.ended = "Stopped", job.created + dt.timedelta(hours=stop_after)
            return job.status
        if now >= self._end(job):
            failing = self.behaviour.variant_of(job.request["jobName"]) in self.behaviour.failing_variants
            job.status = "Failed" if job.failure or failing else self.behaviour.job_outcome
            if job.status == "Completed":
                self._write_metrics(job)
        return job.status

    def _write_metrics(self, job: _Job) -> None:
        """The metrics files Bedrock leaves in the job's output path when it completes."""
        if self.write_output is None:
            return
        request = job.request
        if request.get("customizationType") == "REINFORCEMENT_FINE_TUNING":
            return  # RFT jobs show their curves in the console and write no metrics files
        folder = (
            request["outputDataConfig"]["s3Uri"].rstrip("/") + f"/model-customization-job-{job.arn.rsplit('/', 1)[-1]}/"
        )
        epochs = int(float((request.get("hyperParameters") or {}).get("epochCount", 2)))
        with_validation = bool((request.get("validationDataConfig") or {}).get("validators"))
        variant_loss = self.behaviour.variant_losses.get(self.behaviour.variant_of(request["jobName"]))
        offset = variant_loss - self.behaviour.validation_loss if variant_loss is not None else 0.0
        for path, text in metrics_files(self.behaviour.curve, epochs, with_validation, offset).items():
            self.write_output(folder + path, text.encode())

    def _read_invocation_logs(self, job: _Job) -> None:
        """What a distillation job from invocation logs does first: read the logs under the prefix
        as the job's role (IAM decides), keep the records the request metadata filters match, at
        most 15,000 prompts. No readable log, or none that matches, fails the job early, with the
        reason, as Bedrock's data processing would."""
        from customization.invocation_logs import MAX_PROMPTS, matches

        config = job.request["trainingDataConfig"]["invocationLogsConfig"]
        uri = config["invocationLogSource"]["s3Uri"]
        if self.read_logs is None:
            return
        try:
            records = self.read_logs(uri, job.request["roleArn"])
        except PermissionError as error:
            job.failure, job.hours = (
                f"Access denied reading the invocation logs at {uri}: {error}",
                GRADER_FAILURE_HOURS,
            )
            return
        filters = config.get("requestMetadataFilters")
        kept = [record for record in records if matches(record.get("requestMetadata") or {}, filters)]
        if not kept:
            job.failure = (
                f"No invocation logs at {uri} match the request metadata filters ({len(records)} read): "
                "nothing to distill from"
            )
            job.hours = GRADER_FAILURE_HOURS
            return
        if self.on_logs is not None:
            self.on_logs(
                job.request["jobName"],
                {
                    "uri": uri,
                    "read": len(records),
                    "prompts": min(len(kept), MAX_PROMPTS),
                    "usePromptResponse": bool(config.get("usePromptResponse")),
                },
            )

    def _grade_samples(self, job: _Job) -> None:
        """What Bedrock does at each RFT step, once: sample answers to the prompts and send them,
        in a batch, to the job's grader (the deployed function's real handler). A grader that
        raises or answers outside the contract fails the job with its message, early, as
        Bedrock would at the first step."""
        grader_arn = job.request["customizationConfig"]["rftConfig"]["graderConfig"]["lambdaGrader"]["lambdaArn"]
        if self.invoke_grader is None or self.read_input is None:
            return
        samples = int(
            (job.request["customizationConfig"]["rftConfig"].get("hyperParameters") or {}).get(
                "trainingSamplePerPrompt", 4
            )
        )
        records = [
            json.loads(line)
            for line in self.read_input(job.request["trainingDataConfig"]["s3Uri"]).splitlines()
            if line.strip()
        ]
        batch = rft_batch(records[:RFT_PROMPTS_GRADED], samples)
        try:
            response = self.invoke_grader(grader_arn, batch)
            problems = [problem for _, problem in check_response(batch, response)]
        except Exception as error:  # the function failed: Bedrock reports its error
            job.failure = f"The reward function {grader_arn} failed: {getattr(error, 'error_type', type(error).__name__)}: {error}"
            job.hours = GRADER_FAILURE_HOURS
            return
        if problems:
            job.failure = f"The reward function {grader_arn} returned an invalid response: {problems[0]}"
            job.hours = GRADER_FAILURE_HOURS
            return
        scores = [result["aggregate_reward_score"] for result in response]
        job.rewards = {
            "grader": grader_arn,
            "prompts": min(len(records), RFT_PROMPTS_GRADED),
            "samples": len(scores),
            "meanReward": round(sum(scores) / len(scores), 4) if scores else None,
            "minReward": min(scores, default=None),
            "maxReward": max(scores, default=None),
        }
        if self.on_grading is not None:
            self.on_grading(job.request["jobName"], job.rewards)

    def _serving_status(self, serving: _Serving, ready: str) -> str:
        if self.clock.now() < serving.created + dt.timedelta(minutes=self.behaviour.serving_minutes):
            return "Creating"
        return "Failed" if self.behaviour.serving_outcome == "Failed" else ready


def emulated_client(service: str, region: str, handle: Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]):
    """A real boto3 client of `service` whose calls `handle(operation, params)` answers.

    botocore still validates every request before the hook answers, and each answer is checked
    against the operation's output shape, so what the emulation accepts or says is what the
    real API could."""
    client = boto3.client(service, region_name=region, aws_access_key_id="local", aws_secret_access_key="local")
    pending: dict[int, dict] = {}

    def capture(params, **kwargs):
        pending[threading.get_ident()] = dict(params)

    def answer(model, **kwargs):
        params = pending.pop(threading.get_ident(), {})
        status, body = handle(model.name, params)
        if status == 200 and model.output_shape:
            validate_parameters(body, model.output_shape)
        return _Http(status), {**body, "ResponseMetadata": {"HTTPStatusCode": status}}

    prefix = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"provide-client-params.{prefix}.*", capture)
    client.meta.events.register(f"before-call.{prefix}.*", answer)
    return client


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


def _emulated_answer(role: str, question: str, expected: str | None, accuracy: float) -> str:
    """Right for `accuracy` of the questions (by checksum, so the same every run), else wrong:
    the custom model with a bare wrong label, the base model with a hedging sentence."""
    if expected is None:
        return "I don't know."
    right = zlib.crc32(f"{role}\n{question}".encode()) % 1000 < accuracy * 1000
    if role == "custom":
        return expected if right else "unknown"
    return f"{expected.capitalize()}." if right else f"This could be {expected}, but I would need more context to say."


def _base_of(custom_model_arn: str) -> str:
    """`amazon.nova-micro-v1:0:128k` from `...:custom-model/amazon.nova-micro-v1:0:128k/<id>` (as issued here)."""
    parts = custom_model_arn.split("/")
    return parts[1] if len(parts) > 2 else "unknown"


# Operations authorized as another action (Converse is InvokeModel, Service Authorization Reference).
_IAM_ACTIONS = {"Converse": "InvokeModel", "ConverseStream": "InvokeModelWithResponseStream"}


def _listed(name: str, params: dict[str, Any]) -> bool:
    """Whether a List call's nameContains filter keeps `name` (Bedrock matches a substring)."""
    return params.get("nameContains", "") in name


def _request_tags(params: dict[str, Any]) -> dict[str, list[str]]:
    """aws:RequestTag/<key> and aws:TagKeys of a request that tags what it creates."""
    tags = {
        tag["key"]: tag["value"]
        for field_name in ("tags", "jobTags", "customModelTags")
        for tag in params.get(field_name) or []
    }
    if not tags:
        return {}
    context = {f"aws:requesttag/{key.lower()}": [value] for key, value in tags.items()}
    context["aws:tagkeys"] = list(tags)
    return context


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:12]


def _summary(operation: str, params: dict[str, Any], body: dict[str, Any], status: int) -> str:
    target = (
        params.get("modelId")
        or params.get("jobName")
        or params.get("jobIdentifier")
        or params.get("provisionedModelName")
        or params.get("provisionedModelId")
        or params.get("modelDeploymentName")
        or params.get("customModelDeploymentIdentifier")
        or params.get("modelIdentifier")
        or params.get("resourceARN")
        or params.get("nameContains")
        or ""
    )
    base = params.get("baseModelIdentifier") or ""
    if operation == "CreateModelCustomizationJob" and ":custom-model/" in base:
        target = f"{target} (base: custom model {base})"
    if status != 200:
        return f"{operation} {target} -> {body['Error']['Code']}"
    if "status" in body or "modelStatus" in body:
        return f"{operation} {target} -> {body.get('status') or body['modelStatus']}"
    return f"{operation} {target}"


# The first prompts of an RFT dataset that the emulation samples answers to (one step's batch).
RFT_PROMPTS_GRADED = 25
# A broken grader fails the job at its first step: minutes, not the scenario's hours.
GRADER_FAILURE_HOURS = 0.25


def rft_batch(records: list[dict[str, Any]], samples: int) -> list[dict[str, Any]]:
    """The batch Bedrock would send the grader: `samples` answers to each prompt, deterministic.

    The answers stand in for a model early in training: of each prompt's samples, some give the
    reference as it is, some bury it in a sentence, some are wrong, chosen by a checksum."""
    batch = []
    for index, record in enumerate(records):
        reference = record.get("reference_answer")
        exact = reference if isinstance(reference, str) else json.dumps(reference)
        for sample in range(samples):
            kind = zlib.crc32(f"{index}/{sample}".encode()) % 4
            answer = exact if kind < 2 else f"I think the answer is {exact}." if kind == 2 else "I am not sure."
            metadata = {key: value for key, value in record.items() if key != "messages"}
            batch.append(
                {
                    "id": f"{index + 1}.{sample + 1}",
                    "messages": [*record.get("messages", []), {"role": "assistant", "content": answer}],
                    "metadata": metadata,
                }
            )
    return batch


def refuse_method(params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """What Bedrock refuses of a distillation or RFT request: a pair it does not offer, RFT on a
    model without it, a method's request without its configuration (the catalog's facts)."""
    from customization.catalog import load_catalog

    kind = params.get("customizationType", "FINE_TUNING")
    config = params.get("customizationConfig") or {}
    from customization.lineage import foundation_model_id

    identifier = params["baseModelIdentifier"]
    base = foundation_model_id(identifier)
    catalog = load_catalog()
    model = catalog.models.get(base)
    if ":custom-model/" in identifier and (model is None or kind not in model.recustomization.methods):
        return 400, _error("ValidationException", f"{kind} is not supported for a custom model of {base}.")
    if kind in ("DISTILLATION", "REINFORCEMENT_FINE_TUNING") and params.get("hyperParameters"):
        return 400, _error("ValidationException", f"hyperParameters are not supported for {kind}.")
    if kind == "DISTILLATION":
        teacher_config = (config.get("distillationConfig") or {}).get("teacherModelConfig")
        if not teacher_config:
            return 400, _error(
                "ValidationException", "customizationConfig.distillationConfig is required for DISTILLATION."
            )
        identifier = teacher_config["teacherModelIdentifier"]
        teacher = next(
            (
                t
                for t in catalog.teachers.values()
                if identifier in (t.id, t.invocation_id) or identifier.endswith(f"/{t.invocation_id}")
            ),
            None,
        )
        if teacher is None or base not in teacher.students:
            return 400, _error(
                "ValidationException", f"The teacher model {identifier} is not supported for distilling {base}."
            )
        if teacher.inference_profile and identifier == teacher.id:
            return 400, _error("ValidationException", f"{teacher.name} can only be used through an inference profile.")
    if (params.get("trainingDataConfig") or {}).get("invocationLogsConfig") and kind != "DISTILLATION":
        return 400, _error("ValidationException", "invocationLogsConfig is supported for DISTILLATION only.")
    if kind == "REINFORCEMENT_FINE_TUNING":
        if model is None or kind not in model.customization_types:
            return 400, _error("ValidationException", f"Reinforcement fine-tuning is not supported for {base}.")
        if not ((config.get("rftConfig") or {}).get("graderConfig") or {}).get("lambdaGrader"):
            return 400, _error("ValidationException", "rftConfig.graderConfig.lambdaGrader is required.")
    if kind == "DISTILLATION" and model is not None and kind not in model.customization_types:
        return 400, _error("ValidationException", f"Distillation is not supported for {base}.")
    return None
