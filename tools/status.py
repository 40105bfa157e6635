"""`python -m tools status --env NAME [RUN]`: recent runs of a deployed environment, or one
run in detail (its states with times, the Bedrock job, the evaluation, the failure, links)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from customization.notifications import console_link, first_line_of_cause
from customization.run_state import EVALUATION, RESULT, VALIDATION, curves_of, part, served_arn, training_cost_usd
from customization.sweep import table as sweep_table
from tools.deployed import (
    EXIT_OK,
    EXIT_USAGE,
    WIDTH,
    DeployedEnvironment,
    UsageError,
    aws_errors,
    bedrock_job,
    describe_run,
    environment_arguments,
    execution_arn,
    names_of_execution,
    session_for,
    usd,
)

RUN_WIDTH = 33  # a run's name is its dataset's slug and 17 characters: email-classifier-38f4b4ba2e8f4a27


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_name", nargs="?", metavar="RUN", help="one run (its name, as status lists it) in detail")
    environment_arguments(parser)
    parser.add_argument("--limit", type=int, default=20, help="how many recent runs (default 20)")


def run(args: argparse.Namespace, session: Any = None) -> int:
    try:
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session_for(environment, session)
        if args.run_name:
            with aws_errors(f"reading run {args.run_name}"):
                detail = run_detail(session, environment, args.run_name)
            print(json.dumps(detail, indent=2) if args.json else render_detail(detail))
            return EXIT_OK
        with aws_errors(f"listing {environment.name}'s runs"):
            rows = runs(session, environment, args.limit)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(rows, indent=2) if args.json else render_runs(rows))
    return EXIT_OK


def runs(session: Any, environment: DeployedEnvironment, limit: int = 20) -> list[dict[str, Any]]:
    sfn, bedrock = session.client("stepfunctions"), session.client("bedrock")
    machine = environment.output("StateMachineArn")
    rows = []
    for summary in sfn.list_executions(stateMachineArn=machine, maxResults=limit)["executions"]:
        execution = sfn.describe_execution(executionArn=summary["executionArn"])
        names = names_of_execution(environment, execution)
        rows.append(_row(execution, names, bedrock_job(bedrock, names.job_name) if names else {}))
    return rows


def _row(execution: dict[str, Any], names, job: dict[str, Any]) -> dict[str, Any]:
    output = json.loads(execution.get("output") or "{}")
    evaluation = part(output, EVALUATION)
    return {
        "run": execution["name"],
        "dataset": names.dataset if names else "?",
        "started": execution["startDate"].isoformat(),
        "state": execution["status"],
        "job": job.get("status"),
        "model": part(output, RESULT).get("customModelArn"),
        # A model that lost to its base model may have had its serving deleted by the run.
        "serving": served_arn(output),
        "promoted": evaluation.get("promoted"),
        "evaluation": evaluation.get("headline"),
        "cost": training_cost_usd(output),
        "error": execution.get("error"),
    }


def run_detail(session: Any, environment: DeployedEnvironment, run_name: str) -> dict[str, Any]:
    """One run: its states with times, the Bedrock job, the failure and where to look."""
    sfn = session.client("stepfunctions")
    execution = describe_run(session, environment, run_name)
    arn = execution_arn(environment.output("StateMachineArn"), run_name)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    timeline = [
        {"time": e["timestamp"].isoformat(), "state": e["stateEnteredEventDetails"]["name"]}
        for e in history
        if "stateEnteredEventDetails" in e
    ]
    names = names_of_execution(environment, execution)
    output = json.loads(execution.get("output") or "{}")
    # A sweep's run: its winner's job (`-v<n>`); the table below names the others.
    job_name = (output.get("job") or {}).get("jobName") if isinstance(output.get("sweep"), dict) else None
    found = bedrock_job(session.client("bedrock"), job_name or names.job_name) if names else {}
    job: dict[str, Any] = {}
    if names:
        job = {
            key: found.get(key)
            for key in ("jobName", "jobArn", "status", "creationTime", "endTime", "failureMessage", "outputModelArn")
        }
        job["trainingLoss"] = (found.get("trainingMetrics") or {}).get("trainingLoss")
    output = json.loads(execution.get("output") or "{}")
    upload = json.loads(execution.get("input") or "{}").get("upload") or {}
    return {
        **_row(execution, names, found),
        "settings": part(output, VALIDATION).get("settings"),
        # Re-fine-tuning: the run and custom model this one customized further (`compare` shows it).
        "lineage": part(output, VALIDATION).get("lineage"),
        "datasetVersion": upload.get("versionId"),
        "scores": _scores(part(output, EVALUATION)),
        "curves": curves_detail(session.client("s3"), curves_of(output)) if curves_of(output) else None,
        "sweep": output.get("sweep") if isinstance(output.get("sweep"), dict) else None,
        "cause": execution.get("cause"),
        "timeline": timeline,
        "bedrockJob": {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in job.items()},
        "links": {
            "execution": console_link(environment.region, arn),
            "report": part(output, VALIDATION).get("reportUri"),
            "evaluationReport": part(output, EVALUATION).get("markdownUri"),
        },
    }


def _scores(evaluation: dict[str, Any]) -> dict[str, Any] | None:
    """The gate's metric for the custom and the base model, when the run was evaluated."""
    metric = evaluation.get("metric")
    if not metric:
        return None
    return {
        "metric": metric,
        "custom": (evaluation.get("custom") or {}).get(metric),
        "base": (evaluation.get("base") or {}).get(metric),
    }


def curves_detail(s3: Any, curves: dict[str, Any]) -> dict[str, Any]:
    """The run's curve diagnosis, with the final and best losses from its curves.json (S3)."""
    detail = {key: curves.get(key) for key in ("verdict", "summary", "advice", "change", "reportUri", "chartUri")}
    uri = curves.get("reportUri")
    if not uri:
        return detail
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError, ValueError) as error:
        # The diagnosis in the run's state still stands; only the numbers are missing.
        detail["reportError"] = f"{uri} could not be read: {error}"
        return detail
    for name in ("training", "validation"):
        curve = report.get(name) or {}
        if curve:
            detail[name] = {field: curve.get(field) for field in ("final", "best", "steps", "uri")}
    return detail


def _curves_lines(curves: dict[str, Any]) -> list[str]:
    lines = [f"curves: {curves['summary']}", f"  change: {curves['advice']}"]
    losses = [
        f"{name} loss {curve['final']:.4f} at the end (best {curve['best']:.4f}, {curve['steps']} steps)"
        for name in ("training", "validation")
        if isinstance(curve := curves.get(name), dict) and curve.get("final") is not None
    ]
    lines += [f"  {line}" for line in losses]
    if curves.get("chartUri"):
        lines.append(f"  chart: {curves['chartUri']}")
    if curves.get("reportError"):
        lines.append(f"  ({curves['reportError']})")
    return lines


def render_detail(detail: dict[str, Any]) -> str:
    lines = [f"run {detail['run']}: {detail['state']} (dataset {detail['dataset']}, started {detail['started'][:16]})"]
    lines += [f"  {entry['time'][11:19]}  {entry['state']}" for entry in detail["timeline"]]
    if detail.get("settings"):
        lines.append(f"settings: {_settings_line(detail['settings'])}")
    if detail.get("lineage"):
        lines.append(f"parent: {_parent_line(detail['lineage'])}")
    job = detail["bedrockJob"]
    if job.get("jobName"):
        lines.append(f"job {job['jobName']}: {job.get('status') or 'not started'}")
        if job.get("trainingLoss") is not None:
            lines.append(f"  training loss {job['trainingLoss']:.4f}")
        if job.get("failureMessage"):
            lines.append(f"  Bedrock: {job['failureMessage']}")
    if detail.get("cost") is not None:
        lines.append(f"estimated cost: training {usd(detail['cost'])}")
    if detail.get("curves"):
        lines += _curves_lines(detail["curves"])
    lines += sweep_table(detail.get("sweep"))
    if detail.get("evaluation"):
        lines.append(f"evaluation: {detail['evaluation']}")
    if detail.get("serving"):
        lines.append(f"serving: {detail['serving']} (ask it: python -m tools invoke --run {detail['run']} ...)")
    if detail.get("error"):
        lines.append(f"failed with {detail['error']}: {first_line_of_cause(detail.get('cause'))}")
    lines.append(f"execution: {detail['links']['execution']}")
    if detail["links"].get("report"):
        lines.append(f"report: {detail['links']['report']}")
    if detail["links"].get("evaluationReport"):
        lines.append(f"evaluation report: {detail['links']['evaluationReport']}")
    return "\n".join(lines)


def _parent_line(lineage: dict[str, Any]) -> str:
    """The run this one customized further, its model, and how that one was trained."""
    parent = lineage.get("parentRun") or "a custom model"
    hyperparameters = ", ".join(f"{k}={v}" for k, v in sorted((lineage.get("parentHyperParameters") or {}).items()))
    trained = f"; it trained with {hyperparameters}" if hyperparameters else ""
    version = lineage.get("parentDatasetVersion")
    on = f" on {lineage.get('parentDataset') or 'its dataset'} version {version}" if version else ""
    return f"{parent} (model {lineage.get('parentModel')}{trained}{on})"


def _settings_line(settings: dict[str, Any]) -> str:
    hyperparameters = ", ".join(f"{k}={v}" for k, v in sorted((settings.get("hyperParameters") or {}).items()))
    return f"{settings.get('baseModel')}, {settings.get('customizationType')}" + (
        f", {hyperparameters}" if hyperparameters else ""
    )


def render_runs(rows: list[dict[str, Any]], now: dt.datetime | None = None) -> str:
    """One line a run, its name first and whole (what `status RUN` and `invoke --run` take):
    80 columns for run names up to 33 characters (a dataset name of 16), wider beyond."""
    now = now or dt.datetime.now(dt.UTC)
    width = max([RUN_WIDTH, *(len(row["run"]) for row in rows)])
    lines = [f"{'RUN':<{width}} {'AGE':>4}  {'STATE':<10}{'JOB':<11}{'SERVING':<8}{'COST':>9}", "-" * (WIDTH - 1)]
    for row in rows:
        age = (now - dt.datetime.fromisoformat(row["started"])).total_seconds()
        lines.append(
            f"{row['run']:<{width}} {_age(age):>4}  {row['state']:<10}{(row['job'] or '-'):<11}"
            f"{('yes' if row['serving'] else '-'):<8}{usd(row['cost']) if row['cost'] is not None else '-':>9}"
        )
    if not rows:
        lines.append("no runs yet: python -m tools submit DATASET_DIR --env NAME starts one")
    return "\n".join(lines)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds, 0) // 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"
