"""Scenarios of `python -m tools local-run`: what the emulated world does, and what it shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.local_run.bedrock import Behaviour

EMAIL_CLASSIFIER = "examples/email-classifier"
SUPPORT_HANDBOOK = "examples/support-handbook"
DISTILL_SUPPORT_REPLIES = "examples/distill-support-replies"
RFT_SUPPORT_TRIAGE = "examples/rft-support-triage"
DISTILL_FROM_LOGS = "examples/distill-from-invocation-logs"
# Where the scenario puts the example's logs/ folder: a bucket of the emulated account, as
# Bedrock's model invocation logging would have written them.
LOCAL_LOG_PREFIX = "s3://local-bedrock-invocation-logs/bedrock/"


@dataclass(frozen=True)
class Scenario:
    name: str
    shows: str
    behaviour: Behaviour = field(default_factory=Behaviour)
    dataset: str = EMAIL_CLASSIFIER
    # Deep-merged into the environment's cdk.json settings before synth (a different config
    # is a different template: the scenario runs what that config would deploy).
    settings: dict[str, Any] = field(default_factory=dict)
    broken_dataset: bool = False
    duplicate_event: bool = False
    upload_twice: bool = False
    abort_after_hours: float | None = None
    burst_uploads: int = 0  # upload the dataset under this many names at once
    # Once the first run ended, upload the dataset again under `<name>-refined` with a job.json
    # naming the first run as its baseRun: the second job trains on the first custom model.
    re_fine_tune: bool = False
    # Keys merged over the dataset's job.json before it is uploaded (a sweep, keepSweepModels).
    job: dict[str, Any] = field(default_factory=dict)
    # Distillation from invocation logs: the dataset folder's logs/ files are put under this S3
    # prefix (in a bucket of the emulated account) before the upload.
    invocation_logs: str | None = None
    expected_status: str = "SUCCEEDED"


# A grid of 3 variants: the run's other hyperparameters stay the dataset's (epochCount 2).
SWEEP = {"sweep": {"learningRate": [0.000005, 0.00001, 0.00002]}}

SCENARIOS = [
    Scenario(
        "happy-path",
        "fine-tuning from upload to a served model that beats its base model on the validation sample "
        "(promoted), one job, one notification",
    ),
    Scenario(
        "overfitting",
        "the job's validation loss is lowest in epoch 1 and then rises: the run succeeds, and its curves, "
        "evaluation and notification say overfitting, with epochCount=1 to try",
        behaviour=Behaviour(curve="overfitting"),
    ),
    Scenario(
        "curves-missing",
        "the completed job wrote no metrics files: the run still succeeds, and its reports say no curve "
        "available and why",
        behaviour=Behaviour(curve="missing"),
    ),
    Scenario(
        "distillation",
        "distillation from Amazon Nova Pro (teacher) into Amazon Nova Micro (student): the job names the teacher, "
        "the customization role may invoke it, the estimate includes its inference, and the distilled model is "
        "served like a fine-tuned one",
        dataset=DISTILL_SUPPORT_REPLIES,
    ),
    Scenario(
        "distillation-from-logs",
        "distillation whose prompts come from the account's Bedrock invocation logs, not an uploaded file: the "
        "environment allows the log prefix, the customization role reads exactly it, the job gets "
        "invocationLogsConfig with a request-metadata filter, the cost is unknown and bounded by 15,000 prompts; "
        "nothing is left running or billing",
        dataset=DISTILL_FROM_LOGS,
        invocation_logs=LOCAL_LOG_PREFIX,
        settings={"customization": {"invocationLogPrefixes": [LOCAL_LOG_PREFIX]}},
    ),
    Scenario(
        "rft",
        "reinforcement fine-tuning of Amazon Nova 2 Lite with the deployed exact-match grader: Bedrock's sampled "
        "answers go to the grader's real handler and its mean reward is in the report; no curve files (RFT "
        "writes none)",
        dataset=RFT_SUPPORT_TRIAGE,
    ),
    Scenario(
        "rft-grader-broken",
        "the deployed grader fails on Bedrock's first batch: the job fails with the grader's message, the run "
        "compensates and notifies, nothing is left running or billing",
        dataset=RFT_SUPPORT_TRIAGE,
        behaviour=Behaviour(faults={"GraderExactMatch": "InjectedFault"}),
        expected_status="FAILED",
    ),
    Scenario(
        "continued-pre-training",
        "a plain-text .txt for continued pre-training on Titan Text, which reached its end of life: refused at "
        "validation with the reason (no current Bedrock model offers continued pre-training), no job started",
        dataset=SUPPORT_HANDBOOK,
        expected_status="FAILED",
    ),
    Scenario(
        "invalid-dataset",
        "a broken dataset fails before any Bedrock call; the report is written and people are told",
        broken_dataset=True,
        expected_status="FAILED",
    ),
    Scenario(
        "job-fails",
        "Bedrock fails the job; its failure message reaches the notification",
        behaviour=Behaviour(job_outcome="Failed", job_hours=1.5),
        expected_status="FAILED",
    ),
    Scenario(
        "job-stopped",
        "someone stops the job in the console; the run fails with JobStopped and people are told",
        behaviour=Behaviour(stopped_by_someone_after_hours=2),
        expected_status="FAILED",
    ),
    Scenario(
        "throttled-start",
        "Bedrock throttles the first two starts; retried with backoff, still one job",
        behaviour=Behaviour(throttle_first_creates=2),
    ),
    Scenario(
        "quota-full",
        "the account's concurrent-job quota is full for 45 minutes; the run waits, then starts one job",
        behaviour=Behaviour(quota_full_for_minutes=45),
    ),
    Scenario(
        "duplicate-event",
        "EventBridge delivers the upload event twice and the first start's response is lost; one execution, one job",
        duplicate_event=True,
        behaviour=Behaviour(lose_first_create_response=True),
    ),
    Scenario(
        "re-fine-tune",
        "a first run trains and succeeds; a second upload whose job.json names it as baseRun trains on top of "
        "its custom model (the job's baseModelIdentifier is that model's ARN), with the lineage in its state, "
        "reports and tags; nothing is left running or billing",
        re_fine_tune=True,
    ),
    Scenario(
        "sweep",
        "a hyperparameter sweep of 3 learning rates (a Map, limits.maxParallelJobs at once): the variant with the "
        "lowest validation loss wins and is the only one served and evaluated; the losers' custom models are "
        "deleted; the sweep's table is in the report",
        job=SWEEP,
        behaviour=Behaviour(variant_losses={1: 0.1712, 2: 0.1388, 3: 0.1521}),
    ),
    Scenario(
        "sweep-one-fails",
        "the same sweep with variant 2's job failed by Bedrock: the others go on, the best of them wins and is "
        "served; the failed variant's error is in the sweep's table",
        job=SWEEP,
        behaviour=Behaviour(variant_losses={1: 0.1712, 2: 0.1388, 3: 0.1521}, failing_variants=frozenset({2})),
    ),
    Scenario(
        "sweep-aborted",
        "someone aborts a sweep's run while two variants train: the abort guard finds every job of the run by "
        "its name and stops both; the third variant never starts",
        job=SWEEP,
        abort_after_hours=2,
        expected_status="ABORTED",
    ),
    Scenario(
        "sweep-over-ceiling",
        "a sweep of 4 variants whose estimates together are above limits.costCeilingUsd: refused at validation "
        "with the total, no job started",
        job={"sweep": {"epochCount": [1, 2], "learningRate": [0.00001, 0.00002]}},
        settings={"limits": {"costCeilingUsd": 0.05}},
        expected_status="FAILED",
    ),
    Scenario(
        "new-version",
        "the same file uploaded again is a new version: a second run and a second job",
        upload_twice=True,
    ),
    Scenario(
        "serving-fails",
        "provisioned throughput fails after it was created; it is deleted, so nothing keeps billing",
        behaviour=Behaviour(serving_outcome="Failed"),
        settings={"serving": {"mode": "provisioned", "modelUnits": 1, "commitment": "none"}},
        expected_status="FAILED",
    ),
    Scenario(
        "model-still-creating",
        "the job completes but its custom model stays Creating for 25 minutes; serving waits until it is "
        "Active (Bedrock refuses to serve a model that is not), then the run goes on",
        behaviour=Behaviour(model_creating_minutes=25),
    ),
    Scenario(
        "custom-model-fails",
        "the job completes but Bedrock fails to create its custom model; nothing is served, the run fails with "
        "Bedrock's reason, and nothing is left billing",
        behaviour=Behaviour(model_outcome="Failed"),
        expected_status="FAILED",
    ),
    Scenario(
        "custom-model-loses",
        "the custom model scores below its base model on the validation sample; it is not promoted and "
        "its serving is deleted (evaluation.deleteServingWhenNotPromoted)",
        behaviour=Behaviour(custom_accuracy=0.3, base_accuracy=0.6),
    ),
    Scenario(
        "runtime-throttled",
        "the Bedrock runtime throttles every evaluation request twice before answering; each is retried "
        "with backoff and the evaluation completes",
        behaviour=Behaviour(runtime_throttles_per_request=2),
    ),
    Scenario(
        "base-model-access-denied",
        "the account has no model access to the base model: the evaluation cannot compare, the run fails with "
        "what to enable, and the serving of the model that was not shown to be better is deleted",
        behaviour=Behaviour(base_model_access_denied=True),
        expected_status="FAILED",
    ),
    Scenario(
        "poll-access-denied",
        "the WatchJob role may not read the job's status (bedrock:GetModelCustomizationJob refused): the run "
        "fails at once, and Compensate stops the job, which would otherwise train (and bill) on alone",
        behaviour=Behaviour(denied=frozenset({("WatchJob", "GetModelCustomizationJob")})),
        expected_status="FAILED",
    ),
    Scenario(
        "poll-throttled-long",
        "Bedrock throttles reads of the job's status for three hours around its end: the event's retries fail, "
        "and the hourly backstop tells the run once the throttling ends; nothing is lost",
        behaviour=Behaviour(throttled=("WatchJob", "GetModelCustomizationJob", 5.5, 3.0)),
    ),
    Scenario(
        "event-lost",
        "Bedrock's event for the job's end never arrives (events are best effort): the hourly backstop reads "
        "the job's status and the run goes on, within the hour",
        behaviour=Behaviour(job_events="lost"),
    ),
    Scenario(
        "event-duplicated",
        "Bedrock's event arrives twice: the first tells the run, the second finds nobody waiting and is ignored",
        behaviour=Behaviour(job_events="duplicated"),
    ),
    Scenario(
        "event-late-after-abort",
        "someone aborts the run mid-training; the job's Stopped event arrives 45 minutes later, after the abort "
        "guard has cleaned up: it finds nobody waiting, and nothing restarts",
        behaviour=Behaviour(stop_event_delay_minutes=45),
        abort_after_hours=2,
        expected_status="ABORTED",
    ),
    Scenario(
        "job-fails-event",
        "Bedrock fails the job and says so in its event: the run fails within seconds, with Bedrock's message "
        "in the notification",
        behaviour=Behaviour(job_outcome="Failed", job_hours=3),
        expected_status="FAILED",
    ),
    Scenario(
        "start-timeout-after-accept",
        "StartCustomizationJob times out after Bedrock accepted the job, every time: the run fails and "
        "Compensate stops the job it never heard of",
        behaviour=Behaviour(faults={"StartCustomizationJob": "Sandbox.Timedout"}),
        expected_status="FAILED",
    ),
    Scenario(
        "abort-during-serving",
        "someone aborts the execution while the on-demand deployment is being created; the abort guard "
        "deletes it, gives back the run slot and tells people",
        abort_after_hours=6.2,
        expected_status="ABORTED",
    ),
    Scenario(
        "abort-during-serving-provisioned",
        "the same with provisioned throughput, which bills by the hour: the abort guard deletes it",
        abort_after_hours=6.2,
        settings={"serving": {"mode": "provisioned", "modelUnits": 1, "commitment": "none"}},
        expected_status="ABORTED",
    ),
    Scenario(
        "burst",
        "five datasets uploaded at once in an environment that trains at most two runs at a time "
        "(limits.maxConcurrentRuns): three wait for a slot, none is lost, all five succeed",
        burst_uploads=5,
    ),
    Scenario(
        "aborted",
        "someone aborts the execution mid-training; the abort guard stops the Bedrock job",
        abort_after_hours=2,
        expected_status="ABORTED",
    ),
    Scenario(
        "time-limit",
        "the job runs past limits.maxJobHours; the pipeline stops it and fails the run",
        behaviour=Behaviour(job_hours=30),
        expected_status="FAILED",
    ),
    Scenario(
        "cost-ceiling",
        "the estimated training cost is above limits.costCeilingUsd: refused at validation, before the run "
        "waits for a slot; no job is started",
        settings={"limits": {"costCeilingUsd": 0.01}},
        expected_status="FAILED",
    ),
]

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def merged(settings: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(settings)
    for key, value in overrides.items():
        result[key] = merged(result.get(key, {}), value) if isinstance(value, dict) else value
    return result
