"""End to end: each scenario runs the synthesized state machine with the real handlers
against emulated AWS, and must end as promised, notify, make exactly the Bedrock calls it
should, and leave nothing running or billing."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest

from tests.conftest import ROOT
from tools.__main__ import main
from tools.local_run.runner import START
from tools.local_run.scenarios import BY_NAME, SCENARIOS


def _subjects(report) -> list[str]:
    return [n["subject"] for n in report.notifications]


def _nothing_left(report) -> None:
    assert report.left_running == [], "a Bedrock job is still training"
    assert report.left_billed == [], "serving is left billing after a run that did not hand it over"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_ends_as_promised_and_leaves_nothing_behind(reports, scenario):
    report = reports(scenario.name)

    assert report.statuses and set(report.statuses) == {scenario.expected_status}
    _nothing_left(report)


def test_happy_path(reports):
    report = reports("happy-path")
    [execution] = report.executions

    assert execution["states"] == [
        "ValidateDataset",
        "AcquireRunSlot",
        "StartCustomizationJob",
        "WaitForJob",
        "ReadTrainingCurves",
        "ServeThisRun",
        "CreateServing",
        "PollServing",
        "EvaluateModel",
        "PromotedOrNot",
        "ReleaseRunSlot",
        "NotifySuccess",
        "RunSucceeded",
    ]
    assert execution["customModelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert execution["servingArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/")
    assert report.bedrock_calls["CreateModelCustomizationJob"] == 1
    assert report.bedrock_calls["CreateCustomModelDeployment"] == 1
    assert _subjects(report) == ["[dev] Bedrock customization succeeded, model promoted: email-classifier"]
    assert execution["servingArn"] in report.notifications[0]["message"]
    assert execution["stateTransitions"] <= 60


def _evaluation(report) -> tuple[dict, dict]:
    [execution] = report.executions
    return execution["evaluation"], execution["evaluationReport"]


def test_the_custom_model_that_beats_its_base_model_is_promoted_and_kept(reports):
    report = reports("happy-path")
    summary, evaluation = _evaluation(report)
    validation_records = 24  # the example's 15% split: fewer than the sample size (50), so all of them

    assert summary["status"] == "evaluated" and summary["promoted"] is True
    assert evaluation["records"] == validation_records
    # Every sampled record was asked of both models, through the runtime, once each.
    assert report.bedrock_calls["Converse"] == 2 * validation_records
    assert evaluation["custom"]["exact_match"] > evaluation["base"]["exact_match"] + 0.05
    assert evaluation["custom"]["model"] == report.executions[0]["servingArn"]
    assert evaluation["base"]["model"] == "amazon.nova-micro-v1:0"
    assert summary["headline"] in report.notifications[0]["message"]
    assert summary["markdownUri"].endswith("/evaluation.md")
    reports_written = [key.rsplit("/", 1)[1] for key in report.report_objects]
    assert {"validation-report.json", "evaluation.json", "evaluation.md"} <= set(reports_written)
    assert report.left_billed == []  # the promoted model's serving is the product, handed over


def test_the_happy_paths_curves_are_healthy_and_written_beside_the_evaluation(reports):
    report = reports("happy-path")
    [execution] = report.executions
    curves, evaluation = execution["curves"], execution["evaluationReport"]

    assert curves["verdict"] == "healthy" and curves["change"] is None
    assert curves["advice"].startswith("no change needed: keep epochCount=2")
    folder = execution["evaluation"]["reportUri"].rsplit("/", 1)[0]
    assert (curves["reportUri"], curves["chartUri"]) == (f"{folder}/curves.json", f"{folder}/curves.svg")
    assert evaluation["curves"]["summary"] == curves["summary"]
    assert f"Training curves: {curves['summary']}" in report.notifications[0]["message"]


def test_an_overfitting_job_is_diagnosed_with_k_the_epoch_and_fewer_epochs_to_try(reports, capsys):
    report = reports("overfitting")
    [execution] = report.executions
    curves = execution["curves"]

    assert execution["status"] == "SUCCEEDED"
    assert curves["verdict"] == "overfitting"
    # The emulated validation loss is lowest at step 39 (the first epoch), evaluated every 10
    # steps over 2 epochs of 50: six evaluations after it.
    assert "rose for 6 evaluations after its minimum" in curves["summary"]
    assert "(step 39, epoch 1)" in curves["summary"]
    assert curves["change"] == {"hyperparameter": "epochCount", "value": "1", "current": "2"}
    assert "set epochCount to 1 in job.json" in curves["advice"]
    message = report.notifications[0]["message"]
    assert f"Training curves: {curves['summary']}" in message and f"What to change: {curves['advice']}" in message
    assert execution["evaluationReport"]["curves"]["verdict"] == "overfitting"


def test_a_job_without_metrics_files_still_succeeds_and_says_no_curve_is_available(reports):
    report = reports("curves-missing")
    [execution] = report.executions
    curves = execution["curves"]

    assert execution["status"] == "SUCCEEDED" and "ReadTrainingCurves" in execution["states"]
    assert curves["verdict"] == "unavailable" and curves["chartUri"] is None
    assert curves["summary"].startswith("no curve available: Bedrock wrote no step_wise_training_metrics.csv")
    assert "s3://local-dev-outputbucket/jobs/" in curves["summary"]
    written = [key.rsplit("/", 1)[1] for key in report.report_objects]
    assert "curves.json" in written and "curves.svg" not in written
    assert "Training curves: no curve available" in report.notifications[0]["message"]
    assert execution["evaluationReport"]["curves"]["verdict"] == "unavailable"


def test_make_demo_prints_the_diagnosis_and_saves_the_chart_beside_the_evaluation(tmp_path, capsys):
    code = main(
        [
            "local-run",
            "examples/email-classifier",
            "--env",
            "dev",
            "--scenario",
            "overfitting",
            "--save-reports",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out

    assert code == 0
    assert "training curves: overfitting: validation loss rose for 6 evaluations" in out
    assert "what to change: train for fewer epochs: set epochCount to 1 in job.json" in out
    [chart] = tmp_path.glob("email-classifier/*/curves.svg")
    assert (chart.parent / "evaluation.md").is_file()
    assert f"curves chart: {chart}" in out
    assert "![Training and validation loss against step](curves.svg)" in (chart.parent / "evaluation.md").read_text()


def test_a_custom_model_that_loses_is_not_promoted_and_its_serving_is_deleted(reports):
    report = reports("custom-model-loses")
    summary, evaluation = _evaluation(report)
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"  # the pipeline worked; the model lost
    assert summary["promoted"] is False
    assert evaluation["custom"]["exact_match"] < evaluation["base"]["exact_match"]
    assert execution["states"][-5:] == [
        "PromotedOrNot",
        "DeleteServingNotPromoted",
        "ReleaseRunSlot",
        "NotifySuccess",
        "RunSucceeded",
    ]
    assert execution["servingDeleted"]
    assert report.bedrock_calls["DeleteCustomModelDeployment"] == 1
    assert report.left_billed == [] and report.left_running == []
    assert _subjects(report) == ["[dev] Bedrock customization done, model NOT promoted: email-classifier"]
    assert "Serving deleted: the model was not promoted" in report.notifications[0]["message"]


def test_a_throttled_runtime_is_retried_and_the_evaluation_completes(reports):
    report = reports("runtime-throttled")
    summary, evaluation = _evaluation(report)
    throttles_per_request = BY_NAME["runtime-throttled"].behaviour.runtime_throttles_per_request
    records = evaluation["records"]

    assert report.statuses == ["SUCCEEDED"] and summary["promoted"] is True
    # Each request: its throttled attempts, then the answer; no request was given up on.
    assert report.bedrock_calls["Converse"] == 2 * records * (throttles_per_request + 1)
    assert evaluation["custom"]["retries"] == evaluation["base"]["retries"] == records * throttles_per_request
    # Retrying changes nothing in the scores: the same answers as without throttling.
    _, unthrottled = _evaluation(reports("happy-path"))
    assert evaluation["custom"]["exact_match"] == unthrottled["custom"]["exact_match"]


def test_continued_pre_training_on_an_end_of_life_model_is_refused_before_any_job(reports):
    report = reports("continued-pre-training")
    [execution] = report.executions

    assert execution["status"] == "FAILED" and execution["error"] == "DatasetInvalidError"
    # The only Bedrock call is the abort guard's lookup of a job by the run's name: there is none.
    assert report.jobs_created == 0 and report.bedrock_calls == GUARD_LOOKUP_ONLY
    assert "no current Bedrock model offers CONTINUED_PRE_TRAINING" in execution["cause"]
    assert "reached its end of life" in report.notifications[0]["message"]


# A failed execution reaches the abort guard, which makes sure no job of the run trains on: for a
# run that failed before its job, that is one List call that finds nothing.
GUARD_LOOKUP_ONLY = {"ListModelCustomizationJobs": 1}


def test_invalid_dataset_fails_before_any_job_and_writes_the_report(reports):
    report = reports("invalid-dataset")
    [execution] = report.executions

    assert execution["error"] == "DatasetInvalidError"
    assert report.bedrock_calls == GUARD_LOOKUP_ONLY
    assert "AcquireRunSlot" not in execution["states"]
    assert any(key.endswith("validation-report.json") for key in report.report_objects)
    [notification] = report.notifications
    assert notification["subject"] == "[dev] Bedrock customization FAILED: email-classifier"
    assert "train.jsonl:3: unexpected-field" in notification["message"]
    assert "Full report: s3://local-dev-databucket/reports/email-classifier/" in notification["message"]


def test_the_timeline_and_the_summary_list_the_problems_validation_found(capsys):
    assert main(["local-run", "--scenario", "invalid-dataset"]) == 1  # the run failed, as the scenario says
    out = capsys.readouterr().out
    step = next(line for line in out.splitlines() if "ValidateDataset: DatasetInvalidError" in line)
    following = out.splitlines()[out.splitlines().index(step) + 1]

    assert following.strip().endswith(
        "train.jsonl:3: unexpected-field: record has unexpected field(s) 'prompt'; allowed: messages, "
        "schemaVersion, system"
    )
    assert "    s3://local-dev-databucket/datasets/email-classifier/train.jsonl:7: json: not valid JSON" in out


def test_a_failed_job_reaches_the_notification_with_bedrocks_message(reports):
    report = reports("job-fails")

    assert report.executions[0]["error"] == "JobFailed"
    assert "record 412 exceeds the token limit" in report.notifications[0]["message"]
    assert report.bedrock_calls["CreateModelCustomizationJob"] == 1


def test_a_job_stopped_by_someone(reports):
    report = reports("job-stopped")

    assert report.executions[0]["error"] == "JobStopped"
    assert "FAILED" in report.notifications[0]["subject"]


def test_throttled_start_is_retried_into_one_job(reports):
    report = reports("throttled-start")

    assert report.bedrock_calls["CreateModelCustomizationJob"] == 3
    assert report.jobs_created == 1


def test_a_full_quota_is_waited_out_into_one_job(reports):
    report = reports("quota-full")
    waits = [e for e in report.timeline if "CapacityUnavailable" in e.text or "ServiceQuotaExceeded" in e.text]

    assert report.bedrock_calls["CreateModelCustomizationJob"] > 1
    assert report.jobs_created == 1
    assert waits, "the wait for capacity shows in the timeline"


def test_a_duplicate_event_starts_one_execution_and_one_job(reports):
    report = reports("duplicate-event")

    assert len(report.executions) == 1
    assert report.jobs_created == 1
    # The lost response made the state machine retry the start: same token, same job.
    assert report.bedrock_calls["CreateModelCustomizationJob"] == 2


def test_a_new_version_of_the_same_file_is_a_second_run(reports):
    report = reports("new-version")

    assert len(report.executions) == 2
    assert report.jobs_created == 2
    assert len(report.notifications) == 2


def test_a_second_upload_naming_the_first_run_as_base_run_trains_on_top_of_its_model(reports):
    report = reports("re-fine-tune")
    by_dataset = {e["name"].rsplit("-", 1)[0]: e for e in report.executions}
    first, second = by_dataset["email-classifier"], by_dataset["email-classifier-refined"]

    assert report.statuses == ["SUCCEEDED", "SUCCEEDED"] and report.jobs_created == 2
    assert second["lineage"]["parentRun"] == first["name"]
    assert second["lineage"]["parentModel"] == first["customModelArn"]
    # The parent's dataset version, read back from its custom model's datasetVersion tag.
    assert first["datasetVersion"] and second["lineage"]["parentDatasetVersion"] == first["datasetVersion"]
    assert second["datasetVersion"] != first["datasetVersion"]
    assert second["customModelArn"] != first["customModelArn"]
    # The second job's baseModelIdentifier is the first custom model (the emulation checks it is Active).
    created = [e.text for e in report.timeline if e.text.startswith("CreateModelCustomizationJob")]
    assert created[-1].endswith(f"(base: custom model {first['customModelArn']})")
    assert second["evaluationReport"]["lineage"]["parentRun"] == first["name"]
    assert report.bedrock_calls["ListCustomModels"] == 1 and report.bedrock_calls["ListTagsForResource"] == 1
    _nothing_left(report)


def test_serving_that_fails_after_creation_is_deleted(reports):
    report = reports("serving-fails")

    assert report.executions[0]["error"] == "ServingFailed"
    assert report.bedrock_calls["CreateProvisionedModelThroughput"] == 1
    assert report.bedrock_calls["DeleteProvisionedModelThroughput"] == 1
    assert report.executions[0]["states"][-4:] == [
        "Compensate",
        "ReleaseRunSlotAfterFailure",
        "NotifyFailure",
        "RunFailed",
    ]
    assert report.left_billed == [] and report.left_running == []


def test_aborting_mid_training_stops_the_job(reports):
    report = reports("aborted")

    assert report.executions[0]["status"] == "ABORTED"
    assert report.bedrock_calls["StopModelCustomizationJob"] == 1
    assert any("abort guard rule matches" in e.text for e in report.timeline)


def test_a_job_past_the_time_limit_is_stopped_and_the_run_fails(reports):
    report = reports("time-limit")
    [execution] = report.executions

    assert execution["error"] == "JobTimeLimitExceeded"
    assert execution["states"][-5:] == [
        "JobTimeLimitExceeded",
        "Compensate",
        "ReleaseRunSlotAfterFailure",
        "NotifyFailure",
        "RunFailed",
    ]
    assert report.bedrock_calls["StopModelCustomizationJob"] == 1
    assert "maxJobHours (12 h)" in report.notifications[0]["message"]


def test_a_run_over_the_cost_ceiling_starts_no_job(reports):
    report = reports("cost-ceiling")

    [execution] = report.executions

    # Refused with the dataset's other problems, before it waits for a slot.
    assert execution["error"] == "DatasetInvalidError"
    assert "AcquireRunSlot" not in execution["states"]
    assert "CreateModelCustomizationJob" not in report.bedrock_calls
    assert (
        "cost-ceiling: estimated training cost $0.05 is above this environment's ceiling $0.01"
        in report.notifications[0]["message"]
    )


def test_the_local_run_executes_the_synthesized_definition_not_a_copy(monkeypatch):
    """A change to the CDK definition changes what runs: remove the serving from the config."""
    from tools.local_run import runner

    report = runner.run(
        BY_NAME["happy-path"].__class__("happy-path-no-serving", "test", settings={"serving": {"mode": "none"}})
    )

    assert "CreateServing" not in report.executions[0]["states"]
    assert report.executions[0]["states"][-2:] == ["NotifySuccess", "RunSucceeded"]


def test_cli_lists_scenarios_one_a_line(capsys):
    assert main(["local-run", "--list-scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert [line.split()[0] for line in lines] == [s.name for s in SCENARIOS]


def test_cli_json_output_and_exit_codes(capsys):
    assert main(["local-run", str(ROOT / "examples/email-classifier"), "--scenario", "cost-ceiling", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)

    assert report["scenario"] == "cost-ceiling"
    assert report["executions"][0]["status"] == "FAILED"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope"], "unknown scenario 'nope'"),
        (["--env", "nope"], "unknown environment 'nope'"),
        (["/tmp"], "has no train.jsonl or train.txt"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, args, message):
    assert main(["local-run", *args]) == 2
    assert message in capsys.readouterr().err


def test_an_evaluation_that_cannot_run_fails_the_run_and_deletes_the_serving(reports):
    report = reports("base-model-access-denied")
    [execution] = report.executions

    assert execution["status"] == "FAILED" and execution["error"] == "InvocationRejected"
    assert execution["states"][-5:] == [
        "EvaluateModel",
        "Compensate",
        "ReleaseRunSlotAfterFailure",
        "NotifyFailure",
        "RunFailed",
    ]
    assert report.bedrock_calls["DeleteCustomModelDeployment"] == 1 and report.left_billed == []
    [notification] = report.notifications
    assert notification["subject"] == "[dev] Bedrock customization FAILED: email-classifier"
    assert "amazon.nova-micro-v1:0: access denied" in notification["message"]
    assert "model access is enabled" in notification["message"]
    assert "kept and bills" not in notification["message"]


def test_the_local_run_prints_the_evaluation_table(reports):
    from tools.local_run.render import render

    text = render(reports("happy-path"))
    _, evaluation = _evaluation(reports("happy-path"))

    assert "| metric | custom | base |" in text
    assert (
        f"| exact match | {evaluation['custom']['exact_match']:.3f} | {evaluation['base']['exact_match']:.3f} |" in text
    )
    assert "serving: kept: the model is promoted" in text


def test_the_reports_can_be_saved_where_people_can_read_them(tmp_path, capsys):
    assert main(["local-run", "--scenario", "custom-model-loses", "--save-reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out

    [evaluation_md] = tmp_path.glob("email-classifier/*/evaluation.md")
    assert f"evaluation report: {evaluation_md} (copied from s3://" in out
    text = evaluation_md.read_text()
    assert text.startswith("# Evaluation: email-classifier")
    assert "**Not promoted**" in text and "## Where the custom model did worst" in text
    assert list(tmp_path.glob("email-classifier/*/validation-report.json"))


def test_the_emulated_models_accuracy_can_be_set_to_try_the_gate(capsys):
    assert main(["local-run", "--custom-accuracy", "0.2", "--base-accuracy", "0.9"]) == 0
    out = capsys.readouterr().out

    assert "EvaluateModel: NOT PROMOTED" in out
    assert "notification: [dev] Bedrock customization done, model NOT promoted: email-classifier" in out
    assert main(["local-run", "--custom-accuracy", "1.5"]) == 2
    assert "take a share from 0 to 1" in capsys.readouterr().err


def test_serving_waits_for_a_custom_model_that_is_still_creating(reports):
    report = reports("model-still-creating")
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"
    assert report.bedrock_calls["GetCustomModel"] > 1  # waited on the deployed retry schedule
    assert report.bedrock_calls["CreateCustomModelDeployment"] == 1


def test_a_custom_model_that_fails_fails_the_run_with_bedrocks_reason_and_serves_nothing(reports):
    report = reports("custom-model-fails")
    [execution] = report.executions

    assert execution["error"] == "CustomModelFailed"
    assert "could not be created from the job's artifacts" in execution["cause"]
    assert "CreateCustomModelDeployment" not in report.bedrock_calls
    assert "Compensate" in execution["states"]


# -- Every way a run ends leaves nothing running or billing -------------------------------------

COMPENSATED = ["Compensate", "ReleaseRunSlotAfterFailure", "NotifyFailure", "RunFailed"]


def _cleanup_line(report) -> str:
    [notification] = report.notifications
    return next(line for line in notification["message"].splitlines() if line.startswith("Cleanup"))


def test_a_job_status_refused_by_iam_stops_the_job_through_compensation(reports):
    report = reports("poll-access-denied")
    [execution] = report.executions

    assert execution["error"] == "BedrockRequestRejected" and "AccessDeniedException" in execution["cause"]
    assert execution["states"][-4:] == COMPENSATED
    assert report.bedrock_calls["StopModelCustomizationJob"] == 1
    assert _cleanup_line(report).startswith("Cleanup: job email-classifier-dev-job-")
    assert _cleanup_line(report).endswith("stopped; no serving deleted: nothing was created")
    _nothing_left(report)


def test_hours_of_throttling_at_the_jobs_end_are_ridden_out_by_the_backstop(reports):
    report = reports("poll-throttled-long")
    [execution] = report.executions
    throttled = [e for e in report.timeline if "WatchJob: BedrockThrottled" in e.text]
    settled = next(e for e in report.timeline if "succeeded" in e.text and e.text.startswith("WatchJob"))
    outage_ends = START + dt.timedelta(hours=5.5 + 3.0)

    assert execution["status"] == "SUCCEEDED"
    # The event and its retries, then the backstop, met the throttling; the first backstop after
    # it ended told the run, within the hour.
    assert len(throttled) >= 3
    assert outage_ends <= settled.time <= outage_ends + dt.timedelta(hours=1)
    _nothing_left(report)


def _job_events(report) -> list[str]:
    return [e.text for e in report.timeline if e.text.startswith("Bedrock: job ")]


def _watch_lines(report) -> list[str]:
    return [e.text for e in report.timeline if e.text.startswith("WatchJob: job ")]


def test_a_jobs_end_reaches_the_run_through_bedrocks_event_within_seconds(reports):
    report = reports("happy-path")

    [event] = _job_events(report)
    assert event.endswith("Completed -> rule JobStateChanged")
    assert report.detection_delays and report.detection_delays[0] < 60
    [execution] = report.executions
    # The whole run, serving, curves and evaluation included (issue 15's limit, kept when the
    # curves step came: the slot tasks build their one-element list in place of a Pass state).
    assert execution["stateTransitions"] <= 20


def test_a_lost_event_is_made_up_for_by_the_backstop_within_the_hour(reports):
    report = reports("event-lost")

    assert _job_events(report) == []
    assert report.statuses == ["SUCCEEDED"]
    assert 0 < report.detection_delays[0] <= 3600
    assert any("backstop" in e.text and "succeeded" in e.text for e in report.timeline)
    _nothing_left(report)


def test_a_duplicated_event_tells_the_run_once_and_the_copy_finds_nobody_waiting(reports):
    report = reports("event-duplicated")

    assert len(_job_events(report)) == 2
    assert [line.rsplit(": ", 1)[-1].split(",")[0] for line in _watch_lines(report)][-2:] == [
        "succeeded",
        "nobody waits",
    ]
    assert report.statuses == ["SUCCEEDED"] and report.jobs_created == 1
    _nothing_left(report)


def test_an_event_that_arrives_after_an_abort_restarts_nothing(reports):
    report = reports("event-late-after-abort")
    [execution] = report.executions
    [stopped] = [e for e in report.timeline if e.text.startswith("Bedrock: job ") and "Stopped" in e.text]
    guard = next(e for e in report.timeline if "abort guard rule matches" in e.text)

    assert execution["status"] == "ABORTED"
    assert stopped.time - guard.time >= dt.timedelta(minutes=44)
    assert _watch_lines(report)[-1].endswith("nobody waits")
    assert report.jobs_created == 1 and report.bedrock_calls["StopModelCustomizationJob"] == 1
    _nothing_left(report)


def test_a_failed_jobs_event_fails_the_run_with_bedrocks_message(reports):
    report = reports("job-fails-event")
    [execution] = report.executions
    [notification] = report.notifications

    assert execution["error"] == "JobFailed"
    assert "record 412 exceeds the token limit" in execution["cause"]
    assert "record 412 exceeds the token limit" in notification["message"]
    assert report.detection_delays[0] < 60
    _nothing_left(report)


def test_a_start_that_times_out_after_bedrock_accepted_is_stopped_not_left_training(reports):
    report = reports("start-timeout-after-accept")
    [execution] = report.executions

    # The retries found the job Bedrock had accepted instead of starting a second one.
    assert report.jobs_created == 1
    assert execution["error"] == "Sandbox.Timedout" and execution["states"][-4:] == COMPENSATED
    assert report.bedrock_calls["StopModelCustomizationJob"] == 1
    _nothing_left(report)


@pytest.mark.parametrize(
    ("scenario", "deleted"),
    [
        ("abort-during-serving", "DeleteCustomModelDeployment"),
        ("abort-during-serving-provisioned", "DeleteProvisionedModelThroughput"),
    ],
)
def test_an_abort_while_serving_is_created_deletes_it_frees_the_slot_and_tells_people(reports, scenario, deleted):
    report = reports(scenario)
    [execution] = report.executions
    [notification] = report.notifications

    assert execution["status"] == "ABORTED"
    assert report.bedrock_calls[deleted] == 1
    assert notification["subject"] == "[dev] Bedrock customization ABORTED: email-classifier"
    assert "Cleanup: job not stopped: job is Completed; deleted arn:aws:bedrock:" in notification["message"]
    assert "which no longer bills" in notification["message"]
    _nothing_left(report)


def test_a_burst_of_uploads_trains_at_most_the_cap_at_once_and_loses_none(reports):
    report = reports("burst")
    cap = 2  # dev's limits.maxConcurrentRuns in cdk.json

    assert report.statuses == ["SUCCEEDED"] * 5
    assert report.jobs_created == 5
    assert report.max_concurrent_jobs == cap
    # A run that found every slot taken retries after 5 minutes at the earliest (the slot
    # schedule's first interval); one that took a slot starts well before. The exact minutes
    # depend on how the five executions interleave in real time, so only that divide is asserted.
    started_late = [e for e in report.executions if _seconds(e["jobStartedAfter"]) >= 300]
    assert len(started_late) == 5 - cap, "the runs beyond the cap waited for a slot"
    assert len(report.notifications) == 5
    _nothing_left(report)


def test_distillation_runs_end_to_end_and_the_estimate_includes_the_teacher(reports):
    report = reports("distillation")
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"
    assert report.bedrock_calls["CreateModelCustomizationJob"] == 1
    assert execution["customModelArn"].startswith(
        "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/"
    )
    assert execution["cost"]["teacherOutputTokens"] == 40 * 1000
    assert execution["cost"]["teacherUsd"] is not None
    assert _subjects(report) == ["[dev] Bedrock customization succeeded: distill-support-replies"]
    assert "teacher inference ~$" in report.notifications[0]["message"]
    _nothing_left(report)


def test_distillation_from_invocation_logs_reads_the_allowed_prefix_as_the_job_role(reports):
    report = reports("distillation-from-logs")
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"
    assert report.bedrock_calls["CreateModelCustomizationJob"] == 1
    # The emulated Bedrock read the logs as the customization role (IAM decided on its deployed
    # policy) and kept what job.json's filter matched: 24 of the 30 logged invocations.
    assert any(
        entry.source == "bedrock"
        and "read 30 logged invocations under s3://local-bedrock-invocation-logs/bedrock/AWSLogs/" in entry.text
        and "24 prompts matched" in entry.text
        for entry in report.timeline
    )
    cost = execution["cost"]
    assert cost["trainingUsd"] is None and cost["promptsUnknown"] is True and cost["upperBoundUsd"] > 0
    message = report.notifications[0]["message"]
    assert "Prompts: from the invocation logs at s3://local-bedrock-invocation-logs/bedrock/AWSLogs/" in message
    assert "unknown (prompts from invocation logs), at most ~$" in message
    _nothing_left(report)


def test_rft_calls_the_deployed_grader_and_reports_its_rewards(reports):
    report = reports("rft")
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"
    rewards = execution["rewards"]
    assert rewards["grader"].endswith(":function:" + rewards["grader"].rsplit(":", 1)[-1])
    assert "GraderExactMatch" in rewards["grader"]
    assert rewards["prompts"] == 25 and rewards["samples"] == 25 * 4  # trainingSamplePerPrompt in job.json
    assert 0 < rewards["meanReward"] < 1 and rewards["minReward"] == 0.0 and rewards["maxReward"] == 1.0
    assert any(
        entry.source == "bedrock" and "sampled answers" in entry.text and "mean reward" in entry.text
        for entry in report.timeline
    )
    # AWS publishes no RFT training price: the run's line says unknown, never $0 or "$None".
    [validated] = [e.text for e in report.timeline if e.text.startswith("ValidateDataset: valid")]
    assert "estimated training unknown (no published price)" in validated and "$None" not in validated
    # RFT writes no metrics files: the curves say so, and the run goes on.
    assert execution["curves"]["verdict"] == "unavailable"
    assert "reinforcement fine-tuning jobs write no step_wise_training_metrics.csv" in execution["curves"]["summary"]
    _nothing_left(report)


def test_a_broken_grader_fails_the_job_with_its_message_and_leaves_nothing_billing(reports):
    report = reports("rft-grader-broken")
    [execution] = report.executions

    assert execution["error"] == "JobFailed"
    assert "The reward function" in execution["cause"] and "GraderExactMatch failed" in execution["cause"]
    assert "GraderExactMatch failed" in report.notifications[0]["message"]
    assert report.bedrock_calls["CreateModelCustomizationJob"] == 1
    assert "CreateCustomModelDeployment" not in report.bedrock_calls
    _nothing_left(report)
    assert report.kept_serving == []


def _seconds(duration: str) -> int:
    """A local run's duration (6h36m00s, 4m07s) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(\d+)m(\d+)s", duration)
    hours, minutes, seconds = (int(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_the_local_run_stays_offline_whatever_the_shell_points_at(monkeypatch, tmp_path):
    """A shell set up for LocalStack or another account (endpoints in the environment and in the
    profile's config file, FIPS and dual-stack hosts, a session token) runs the emulation all the
    same, and is left exactly as it was."""
    from tests.aws_world import closed_endpoint
    from tools.local_run.runner import run

    config = tmp_path / "config"
    config.write_text(f"[profile elsewhere]\nregion = eu-west-1\nendpoint_url = {closed_endpoint()}\n")
    shell = {
        "AWS_ENDPOINT_URL": closed_endpoint(),
        "AWS_ENDPOINT_URL_S3": closed_endpoint(),
        "AWS_ENDPOINT_URL_STEPFUNCTIONS": closed_endpoint(),
        "AWS_PROFILE": "elsewhere",
        "AWS_CONFIG_FILE": str(config),
        "AWS_USE_FIPS_ENDPOINT": "true",
        "AWS_USE_DUALSTACK_ENDPOINT": "true",
        "AWS_SESSION_TOKEN": "the-users-own-token",
        # Anything that leaves the process meets a proxy where nothing listens.
        "HTTPS_PROXY": closed_endpoint(),
        "HTTP_PROXY": closed_endpoint(),
    }
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)

    report = run(BY_NAME["happy-path"])

    assert report.statuses == ["SUCCEEDED"] and report.jobs_created == 1
    assert dict(os.environ) == before
