"""The summary printed after a local run's timeline."""

from __future__ import annotations

from customization.evaluation.scorecard import table
from customization.notifications import cause_message, first_line_of_cause
from customization.sweep import table as sweep_table
from tools.local_run.runner import RunReport


def render(report: RunReport) -> str:
    lines = [""]
    for execution in report.executions:
        lines.append(f"execution {execution['name']}: {execution['status']}")
        if execution.get("error"):
            lines.append(f"  error: {execution['error']}: {first_line_of_cause(execution.get('cause'))}")
            # What the first line announces (a dataset's problems), as the notification lists them.
            listed = cause_message(execution.get("cause")).splitlines()[1:11]
            lines += [f"    {line}" for line in listed if line.strip()]
        if execution.get("jobStartedAfter"):
            lines.append(f"  job started {execution['jobStartedAfter']} after the upload")
        lineage = execution.get("lineage") or {}
        if lineage:
            version = lineage.get("parentDatasetVersion")
            on = f", trained on dataset version {version}" if version else ""
            lines.append(f"  parent: {lineage.get('parentRun') or '-'} ({lineage.get('parentModel')}{on})")
        if execution.get("customModelArn"):
            lines.append(f"  custom model: {execution['customModelArn']}")
        if execution.get("servingArn"):
            lines.append(f"  serving: {execution['servingArn']}")
        lines.append(
            f"  state transitions: {execution['stateTransitions']} "
            f"(Lambda invocations {execution['lambdaInvocations']})"
        )
        cost = execution.get("cost") or {}
        if cost:
            training, storage = cost.get("trainingUsd"), cost.get("storageUsdPerMonth")
            unknown = " (unknown: no price in the catalog)" if None in (training, storage) else ""
            lines.append(
                f"  estimated cost: training {_price(training)}, storage "
                f"{_price(storage, '/month')}, serving {cost.get('servingMode')}{unknown}"
            )
        lines += _curves(execution, report.saved_reports)
        lines += [f"  {line}" for line in sweep_table(execution.get("sweep")) if line]
        lines += _evaluation(execution, report.saved_reports)
    calls = ", ".join(f"{name} x{count}" for name, count in sorted(report.bedrock_calls.items())) or "none"
    lines.append(f"bedrock calls: {calls}")
    at_once = f" (at most {report.max_concurrent_jobs} training at once)" if report.jobs_created > 1 else ""
    lines.append(f"jobs created: {report.jobs_created}{at_once}")
    if len(report.executions) > 1:
        training = [(e.get("cost") or {}).get("trainingUsd") for e in report.executions]
        known = [usd for usd in training if usd is not None]
        lines.append(
            f"estimated training, all runs: ${sum(known):,.2f} over {len(known)} runs; state transitions: "
            f"{sum(e['stateTransitions'] for e in report.executions)}"
        )
    for notification in report.notifications:
        lines.append(f"notification: {notification['subject']}")
    if not report.notifications:
        lines.append("notification: none")
    lines.append(f"left running: {', '.join(report.left_running) or 'nothing'}")
    lines.append(f"left billing: {', '.join(report.left_billed) or 'nothing'}")
    for arn in report.kept_serving:
        how = "bills every hour until deleted" if ":provisioned-model/" in arn else "bills per token when invoked"
        lines.append(f"kept on purpose: {arn} (the promoted serving; {how})")
    if report.kept_models:
        lines.append(f"custom models kept: {len(report.kept_models)} (each bills storage monthly until deleted)")
    return "\n".join(lines)


def _curves(execution: dict, saved: dict[str, str]) -> list[str]:
    """The job's training curves: the diagnosis, the change to try, where the chart is."""
    curves = execution.get("curves") or {}
    if not curves:
        return []
    lines = [f"  training curves: {curves.get('summary')}", f"    what to change: {curves.get('advice')}"]
    uri = curves.get("chartUri")
    if uri:
        lines.append(
            f"    curves chart: {saved[uri]} (copied from {uri})" if uri in saved else f"    curves chart: {uri}"
        )
    return lines


def _evaluation(execution: dict, saved: dict[str, str]) -> list[str]:
    """The custom model against its base model, as the run's evaluation.md shows it."""
    evaluation = execution.get("evaluation") or {}
    if not evaluation:
        return []
    if evaluation.get("status") != "evaluated":
        return [f"  evaluation skipped: {evaluation.get('reason')}"]
    full = execution.get("evaluationReport") or {}
    lines = [f"  evaluation: {evaluation['headline']}"]
    if full:
        lines += [f"    {row}" for row in table(full["custom"], full["base"])]
    lines.append(f"  serving: {evaluation.get('servingAction')}")
    uri = evaluation.get("markdownUri")
    lines.append(
        f"  evaluation report: {saved[uri]} (copied from {uri})" if uri in saved else f"  evaluation report: {uri}"
    )
    return lines


def _price(usd: float | None, per: str = "") -> str:
    """An estimate as the run's report has it; a price the catalog lacks is unknown, never $None or $0."""
    return "unknown" if usd is None else f"${usd:g}{per}"
