"""End to end: hyperparameter sweeps (job.json "sweep") through the synthesized state machine:
a Map trains the variants, SelectWinner serves only the best, and nothing is left behind."""

from __future__ import annotations


def _created_jobs(report) -> list[str]:
    return [e.text.split()[-1] for e in report.timeline if e.text.startswith("CreateModelCustomizationJob ")]


def _nothing_left(report) -> None:
    assert report.left_running == []
    assert report.left_billed == []


def test_a_sweep_trains_every_variant_and_serves_only_the_winner(reports):
    report = reports("sweep")
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"
    jobs = _created_jobs(report)
    # Deterministic per variant: the run's job name with -v<n>, each within Bedrock's 63 characters.
    assert sorted(job.rsplit("-", 1)[-1] for job in jobs) == ["v1", "v2", "v3"]  # the Map starts two at once
    assert all(len(job) <= 63 for job in jobs)
    assert report.max_concurrent_jobs == 2  # limits.maxParallelJobs in dev
    sweep = execution["sweep"]
    assert sweep["winner"] == 2 and sweep["metric"] == "validationLoss"
    assert [row.get("customModel") for row in sweep["variants"]] == ["deleted", None, "deleted"]
    assert execution["jobName"].endswith("-v2")
    # Only the winner is served and evaluated.
    assert report.bedrock_calls["CreateCustomModelDeployment"] == 1
    assert report.bedrock_calls["DeleteCustomModel"] == 2
    assert execution["states"].count("EvaluateModel") == 1
    assert "SweepRun" not in (execution.get("error") or "")
    _nothing_left(report)


def test_the_sweeps_table_is_in_the_evaluation_report_and_the_notification(reports):
    report = reports("sweep")
    [notification] = report.notifications

    assert "| v2 | learningRate=0.00001 | 0.1388 |" in notification["message"]
    assert "winner v2" in notification["message"]


def test_a_failed_variant_does_not_stop_the_others(reports):
    report = reports("sweep-one-fails")
    [execution] = report.executions

    assert execution["status"] == "SUCCEEDED"
    rows = {row["variant"]: row for row in execution["sweep"]["variants"]}
    assert rows[2]["verdict"] == "failed" and "JobFailed" in rows[2]["error"]
    # v2 had the lowest loss but failed: the best of the others wins.
    assert execution["sweep"]["winner"] == 3
    assert rows[1]["customModel"] == "deleted"
    _nothing_left(report)


def test_an_aborted_sweep_has_every_running_variant_stopped(reports):
    report = reports("sweep-aborted")

    assert report.statuses == ["ABORTED"]
    assert len(_created_jobs(report)) == 2  # the third waited for a place in the Map
    assert report.bedrock_calls["StopModelCustomizationJob"] == 2
    _nothing_left(report)


def test_a_sweep_over_the_ceiling_starts_nothing(reports):
    report = reports("sweep-over-ceiling")
    [execution] = report.executions

    assert execution["status"] == "FAILED"
    assert report.jobs_created == 0
    assert "the sweep's 4 variants together" in execution["cause"]
    _nothing_left(report)
