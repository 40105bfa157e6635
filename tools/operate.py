"""Operating a deployed environment: `status` of its runs and `cleanup` of what costs money.

Both find the environment's resources from its stacks' outputs, and tell the pipeline's
Bedrock resources from anything else in the account by the tags every run puts on them
(project=BedrockCustomization, environment=<name>). Errors a person can fix (an unknown
environment, a stack that is not deployed, no credentials) are one line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from customization import layout
from customization.inventory import Billable, billables, delete
from customization.naming import run_names
from customization.notifications import cause_message
from customization.run_state import training_cost_usd
from stacks.config import ConfigError, load_environments
from stacks.deployment import cdk_json_context, stack_id

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WIDTH = 80


class UsageError(Exception):
    """Something the person can fix; printed as one line, exit 2."""


@dataclass(frozen=True)
class DeployedEnvironment:
    name: str
    region: str
    outputs: dict[str, str]

    @classmethod
    def lookup(cls, name: str, session: boto3.Session | None = None) -> DeployedEnvironment:
        try:
            config = load_environments(cdk_json_context()["environments"])
        except ConfigError as error:
            raise UsageError(str(error).splitlines()[0]) from None
        if name not in config:
            raise UsageError(f"unknown environment {name!r}; allowed: {', '.join(config)} (see cdk.json)")
        session = session or boto3.Session(region_name=config[name].region)
        if session.region_name is None:
            raise UsageError(f"no region for {name}: pin one in cdk.json or set AWS_REGION")
        cfn = session.client("cloudformation")
        outputs: dict[str, str] = {}
        for part in ("Storage", "Pipeline"):
            stack = stack_id(name, part)
            try:
                described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
            except ClientError as error:
                if "does not exist" in str(error):
                    raise UsageError(
                        f"{stack} is not deployed in {session.region_name}: run make deploy ENV={name}"
                    ) from None
                raise UsageError(f"cannot read {stack}: {error}") from None
            except NoCredentialsError:
                raise UsageError("no AWS credentials: set AWS_PROFILE or run aws sso login / aws configure") from None
            except (BotoCoreError, NoRegionError) as error:
                raise UsageError(f"cannot reach CloudFormation: {error}") from None
            outputs.update({o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])})
        return cls(name=name, region=session.region_name, outputs=outputs)


# -- cleanup -----------------------------------------------------------------------------------


def render_cleanup(items: list[Billable], now: dt.datetime, older_than: float, deleting: bool) -> str:
    lines = [f"{'KIND':<13}{'NAME':<30}{'AGE':>6}  {'COST':<27}", "-" * (WIDTH - 1)]
    for item in items:
        lines.append(f"{item.kind:<13}{_cut(item.name, 29):<30}{item.age_days(now):>5.1f}d  {_cut(item.cost, 27):<27}")
        verdict = "delete" if item.deletable and item.age_days(now) >= older_than else "keep"
        lines.append(f"{'':<13}-> {verdict}: {item.reason}")
    if not items:
        lines.append("nothing billable left by this environment's runs")
    elif not deleting:
        lines.append("dry run: nothing was deleted; add --yes to delete the items marked delete")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- status ------------------------------------------------------------------------------------


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution of this name has (or will have, once the upload event starts it)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def runs(session: boto3.Session, environment: DeployedEnvironment, limit: int = 20) -> list[dict[str, Any]]:
    sfn, bedrock = session.client("stepfunctions"), session.client("bedrock")
    machine = environment.outputs["StateMachineArn"]
    rows = []
    for summary in sfn.list_executions(stateMachineArn=machine, maxResults=limit)["executions"]:
        execution = sfn.describe_execution(executionArn=summary["executionArn"])
        names = names_of_execution(environment, execution)
        rows.append(_run(execution, names, _job(bedrock, names.job_name) if names else {}))
    return rows


def names_of_execution(environment: DeployedEnvironment, execution: dict[str, Any]):
    """The run's names (job, model, ...) from the upload in the execution's input, if it has one."""
    upload = json.loads(execution.get("input") or "{}").get("upload", {})
    if not upload.get("key"):
        return None
    return run_names(environment.name, upload["bucket"], upload["key"], upload.get("versionId"))


def _run(execution: dict[str, Any], names, job: dict[str, Any]) -> dict[str, Any]:
    output = json.loads(execution.get("output") or "{}")
    return {
        "run": execution["name"],
        "dataset": names.dataset if names else "?",
        "started": execution["startDate"].isoformat(),
        "state": execution["status"],
        "job": job.get("status"),
        "model": (output.get("result") or {}).get("customModelArn"),
        # A model that lost to its base model may have had its serving deleted by the run.
        "serving": None if (output.get("retired") or {}).get("deleted") else (output.get("serving") or {}).get("arn"),
        "promoted": (output.get("evaluation") or {}).get("promoted"),
        "evaluation": (output.get("evaluation") or {}).get("headline"),
        "cost": training_cost_usd(output),
        "error": execution.get("error"),
    }


def run_detail(session, environment: DeployedEnvironment, run: str) -> dict[str, Any]:
    """One run: its states with times, the Bedrock job, the failure and where to look."""
    sfn = session.client("stepfunctions")
    machine = environment.outputs["StateMachineArn"]
    arn = execution_arn(machine, run)
    try:
        execution = sfn.describe_execution(executionArn=arn)
    except ClientError:
        raise UsageError(
            f"no run {run!r} in {environment.name}: see python -m tools status --env {environment.name}"
        ) from None
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    timeline = [
        {"time": e["timestamp"].isoformat(), "state": e["stateEnteredEventDetails"]["name"]}
        for e in history
        if "stateEnteredEventDetails" in e
    ]
    names = names_of_execution(environment, execution)
    found = _job(session.client("bedrock"), names.job_name) if names else {}
    detail = _run(execution, names, found)
    job: dict[str, Any] = {}
    if names:
        job = {
            key: found.get(key)
            for key in ("jobName", "jobArn", "status", "creationTime", "endTime", "failureMessage", "outputModelArn")
        }
        job["trainingLoss"] = (found.get("trainingMetrics") or {}).get("trainingLoss")
    region = environment.region
    output = json.loads(execution.get("output") or "{}")
    return {
        **detail,
        "cause": execution.get("cause"),
        "timeline": timeline,
        "bedrockJob": {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in job.items()},
        "links": {
            "execution": f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{arn}",
            "report": (output.get("validation") or {}).get("reportUri"),
            "evaluationReport": (output.get("evaluation") or {}).get("markdownUri"),
        },
    }


def render_detail(detail: dict[str, Any]) -> str:
    lines = [f"run {detail['run']}: {detail['state']} (dataset {detail['dataset']}, started {detail['started'][:16]})"]
    lines += [f"  {entry['time'][11:19]}  {entry['state']}" for entry in detail["timeline"]]
    job = detail["bedrockJob"]
    if job.get("jobName"):
        lines.append(f"job {job['jobName']}: {job.get('status') or 'not started'}")
        if job.get("trainingLoss") is not None:
            lines.append(f"  training loss {job['trainingLoss']:.4f}")
        if job.get("failureMessage"):
            lines.append(f"  Bedrock: {job['failureMessage']}")
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


def first_line_of_cause(cause: str | None) -> str:
    """The first line of a failure's cause, without the JSON that Lambda errors arrive in."""
    return cause_message(cause).splitlines()[0] if cause else ""


def render_runs(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'DATASET':<26}{'STARTED':<17}{'STATE':<10}{'JOB':<11}{'SERVING':<9}{'COST':>6}", "-" * (WIDTH - 1)]
    for row in rows:
        lines.append(
            f"{_cut(row['dataset'], 25):<26}{row['started'][:16].replace('T', ' '):<17}{row['state']:<10}"
            f"{(row['job'] or '-'):<11}{('yes' if row['serving'] else '-'):<9}"
            f"{('$' + format(row['cost'], '.2f')) if row['cost'] is not None else '-':>6}"
        )
    if not rows:
        lines.append("no runs yet: python -m tools submit DATASET_DIR --env NAME starts one")
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------------


def environment_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command against a deployed environment takes."""
    parser.add_argument("--env", required=True, help="environment from cdk.json")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_cleanup_arguments(parser: argparse.ArgumentParser) -> None:
    environment_arguments(parser)
    parser.add_argument("--older-than", type=float, default=0, metavar="DAYS", help="only items at least this old")
    parser.add_argument("--yes", action="store_true", help="delete the items marked delete (default: list only)")


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", help="one run (its name, as status lists it) in detail")
    environment_arguments(parser)
    parser.add_argument("--limit", type=int, default=20, help="how many recent runs")


def cleanup_command(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    try:
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session or boto3.Session(region_name=environment.region)
        bedrock = session.client("bedrock")
        now = dt.datetime.now(dt.UTC)
        items = billables(bedrock, environment.name, now)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    results = {}
    if args.yes:
        for item in items:
            if item.deletable and item.age_days(now) >= args.older_than:
                try:
                    results[item.arn] = delete(bedrock, item)
                except ClientError as error:
                    results[item.arn] = f"not deleted: {error}"
    if args.json:
        print(
            json.dumps(
                [
                    {**asdict(item), "created": item.created.isoformat(), "result": results.get(item.arn)}
                    for item in items
                ],
                indent=2,
            )
        )
    else:
        print(render_cleanup(items, now, args.older_than, deleting=args.yes))
        for arn, result in results.items():
            print(f"{result}: {arn}")
    return EXIT_FAILED if any(r.startswith("not deleted") for r in results.values()) else EXIT_OK


def status_command(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    try:
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session or boto3.Session(region_name=environment.region)
        if getattr(args, "run", None):
            detail = run_detail(session, environment, args.run)
            print(json.dumps(detail, indent=2) if args.json else render_detail(detail))
            return EXIT_OK
        rows = runs(session, environment, args.limit)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(rows, indent=2) if args.json else render_runs(rows))
    return EXIT_OK


# -- submit --------------------------------------------------------------------------------------

UPLOAD_ORDER = ("job.json", "validation.jsonl")  # before the training file, which starts the run


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset_dir", type=Path, help="folder with train.jsonl or train.txt (+ job.json, validation.jsonl)"
    )
    environment_arguments(parser)
    parser.add_argument("--name", help="dataset name in the bucket (default: the folder's name)")
    parser.add_argument("--wait", action="store_true", help="follow the run until it ends; exit 0 if it succeeded")
    parser.add_argument("--poll-seconds", type=float, default=60, help="how often --wait looks (default 60)")


def submit_command(args: argparse.Namespace, session: boto3.Session | None = None) -> int:
    try:
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session or boto3.Session(region_name=environment.region)
        files = _dataset_files(args.dataset_dir)
        name = args.name or args.dataset_dir.resolve().name
        check = validate_locally(environment.name, files)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not check.valid:
        from tools.validate import render_text

        print(render_text(check))
        print("nothing was uploaded: fix the problems above and submit again")
        return EXIT_FAILED
    bucket = environment.outputs["DataBucketName"]
    s3 = session.client("s3")
    uploaded = {}
    for path in sorted(files.values(), key=lambda p: p.name.startswith("train.")):
        key = f"{layout.DATASETS_PREFIX}{name}/{path.name}"
        uploaded[path.name] = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes()).get("VersionId")
    training = next(f for f in files if f.startswith("train."))
    key = f"{layout.DATASETS_PREFIX}{name}/{training}"
    names = run_names(environment.name, bucket, key, uploaded[training])
    machine = environment.outputs["StateMachineArn"]
    arn = execution_arn(machine, names.execution_name)
    summary = {
        "dataset": name,
        "key": key,
        "versionId": uploaded[training],
        "run": names.execution_name,
        "executionArn": arn,
        "job": names.job_name,
    }
    if not args.json:
        print(f"uploaded {', '.join(f'datasets/{name}/{f}' for f in uploaded)} to s3://{bucket}")
        print(f"run {names.execution_name} starts from the upload event; its job will be {names.job_name}")
    if not args.wait:
        if args.json:
            print(json.dumps(summary, indent=2))
        return EXIT_OK
    final = follow(session, arn, names.job_name, args.poll_seconds, quiet=args.json)
    if args.json:
        print(json.dumps({**summary, **final}, indent=2))
    return EXIT_OK if final["state"] == "SUCCEEDED" else EXIT_FAILED


def _dataset_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: give the folder that holds train.jsonl or train.txt")
    files = {p.name: p for p in folder.iterdir() if p.name in (*layout.TRAINING_FILES, *UPLOAD_ORDER)}
    trainings = [f for f in files if f in layout.TRAINING_FILES]
    if len(trainings) != 1:
        raise UsageError(f"{folder} must hold exactly one of {', '.join(layout.TRAINING_FILES)}")
    return files


def validate_locally(environment: str, files: dict[str, Path]):
    """The pipeline's own check, with the environment's defaults, before anything is uploaded."""
    from customization.serving import ServingPlan
    from customization.validation.dataset import LocalFile, check_dataset
    from customization.validation.jobspec import apply_job_file
    from customization.validation.problems import ProblemLog

    config = load_environments(cdk_json_context()["environments"])[environment]
    settings = config.customization.run_defaults(config.serving.mode).settings
    log = ProblemLog()
    job = files.get("job.json")
    settings = apply_job_file(
        settings, job.read_text(encoding="utf-8") if job else None, log, file=str(job or "cdk.json")
    )
    if settings.base_model not in config.customization.allowed_base_models:
        log.error(
            str(job),
            None,
            "base-model",
            f"{settings.base_model} is not allowed in {environment}; allowed: "
            f"{', '.join(config.customization.allowed_base_models)}",
        )
    training = next(files[f] for f in layout.TRAINING_FILES if f in files)
    validation = files.get("validation.jsonl")
    plan = ServingPlan(settings.serving_mode or "none", config.serving.model_units, config.serving.commitment)
    return check_dataset(
        LocalFile(training), settings, log=log, serving=plan, validation=LocalFile(validation) if validation else None
    )


def follow(
    session,
    execution_arn: str,
    job_name: str,
    poll_seconds: float,
    *,
    quiet: bool = False,
    sleep=time.sleep,
    clock=time.monotonic,
) -> dict[str, Any]:
    """Print progress until the execution ends (it may not exist yet: the upload event starts it)."""
    sfn, bedrock = session.client("stepfunctions"), session.client("bedrock")
    started = clock()
    while True:
        try:
            execution = sfn.describe_execution(executionArn=execution_arn)
        except ClientError as error:
            if "ExecutionDoesNotExist" not in str(error):
                raise
            execution = {"status": "WAITING FOR EVENT"}
        job = _job(bedrock, job_name)
        if not quiet:
            loss = (job.get("trainingMetrics") or {}).get("trainingLoss")
            print(
                f"{int(clock() - started) // 60:>4} min  {execution['status']:<18} job {job.get('status', '-'):<11}"
                + (f" training loss {loss:.4f}" if loss is not None else "")
            )
        if execution["status"] not in ("RUNNING", "WAITING FOR EVENT"):
            evaluation = (json.loads(execution.get("output") or "{}").get("evaluation") or {}).get("headline")
            if evaluation and not quiet:
                print(f"evaluation: {evaluation}")
            return {
                "state": execution["status"],
                "error": execution.get("error"),
                "jobStatus": job.get("status"),
                "evaluation": evaluation,
            }
        sleep(poll_seconds)


def _job(bedrock, job_name: str) -> dict[str, Any]:
    try:
        return bedrock.get_model_customization_job(jobIdentifier=job_name)
    except ClientError:
        return {}
