"""`python -m tools submit DATASET_DIR --env NAME [--name NAME] [--wait]`: check a dataset
folder as the pipeline will, then upload it (job.json and validation.jsonl first, the
training file last, whose upload starts the run), and optionally follow the run to its end.

The check needs no AWS credentials and runs first: an invalid folder uploads nothing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from customization import layout
from customization.naming import run_names
from customization.run_state import EVALUATION, part
from tools.datasets import DatasetFolder, DatasetFolderError, check_with_environment, render_text
from tools.deployed import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    DeployedEnvironment,
    UsageError,
    aws_errors,
    bedrock_job,
    environment_arguments,
    environment_config,
    execution_arn,
    session_for,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset_dir", type=Path, help="folder with train.jsonl or train.txt (+ job.json, validation.jsonl)"
    )
    environment_arguments(parser)
    parser.add_argument("--name", help="dataset name in the bucket (default: the folder's name)")
    parser.add_argument("--wait", action="store_true", help="follow the run until it ends; exit 0 if it succeeded")
    parser.add_argument("--poll-seconds", type=float, default=60, help="how often --wait looks (default 60)")


def run(args: argparse.Namespace, session: Any = None) -> int:
    try:
        config = environment_config(args.env)
        folder = DatasetFolder.at(args.dataset_dir)
        name = args.name or args.dataset_dir.resolve().name
        if problem := layout.dataset_name_problem(name):
            raise UsageError(f"{problem} (--name sets the name; the default is the folder's)")
        check = check_with_environment(
            config.run_defaults(),
            config.serving.plan(),
            folder.training,
            validation=folder.validation,
            job=folder.job,
        )
        if not check.valid:
            if args.json:  # the report `validate --json` prints; nothing was uploaded
                print(json.dumps(check.summary(), indent=2))
            else:
                print(render_text(check))
                print("nothing was uploaded: fix the problems above and submit again")
            return EXIT_FAILED
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session_for(environment, session)
        with aws_errors(f"uploading {folder.path}"):
            summary = upload(session, environment, folder, name)
        if not args.json:
            print(
                f"uploaded {', '.join(f'datasets/{name}/{p.name}' for p in folder.files)} to s3://{summary['bucket']}"
            )
            print(f"run {summary['run']} starts from the upload event; its job will be {summary['job']}")
        if not args.wait:
            if args.json:
                print(json.dumps(summary, indent=2))
            return EXIT_OK
        with aws_errors(f"following run {summary['run']}"):
            final = follow(session, summary["executionArn"], summary["job"], args.poll_seconds, quiet=args.json)
    except (UsageError, DatasetFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({**summary, **final}, indent=2))
    return EXIT_OK if final["state"] == "SUCCEEDED" else EXIT_FAILED


def upload(session: Any, environment: DeployedEnvironment, folder: DatasetFolder, name: str) -> dict[str, Any]:
    """Put the folder's files under datasets/<name>/, the training file last; the run's names."""
    bucket = environment.output("DataBucketName")
    s3 = session.client("s3")
    versions: dict[str, str | None] = {}
    for path in folder.files:
        with open(path, "rb") as body:  # streamed, not read into memory: training files reach 1 GB
            key = f"{layout.DATASETS_PREFIX}{name}/{path.name}"
            versions[path.name] = s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId")
    key = f"{layout.DATASETS_PREFIX}{name}/{folder.training.name}"
    version = versions[folder.training.name]
    names = run_names(environment.name, bucket, key, version)
    return {
        "dataset": name,
        "bucket": bucket,
        "key": key,
        "versionId": version,
        "run": names.execution_name,
        "executionArn": execution_arn(environment.output("StateMachineArn"), names.execution_name),
        "job": names.job_name,
    }


def follow(
    session: Any,
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
        except sfn.exceptions.ExecutionDoesNotExist:
            execution = {"status": "WAITING FOR EVENT"}
        job = bedrock_job(bedrock, job_name)
        if not quiet:
            loss = (job.get("trainingMetrics") or {}).get("trainingLoss")
            print(
                f"{int(clock() - started) // 60:>4} min  {execution['status']:<18} job {job.get('status', '-'):<11}"
                + (f" training loss {loss:.4f}" if loss is not None else "")
            )
        if execution["status"] not in ("RUNNING", "WAITING FOR EVENT"):
            evaluation = part(json.loads(execution.get("output") or "{}"), EVALUATION).get("headline")
            if evaluation and not quiet:
                print(f"evaluation: {evaluation}")
            return {
                "state": execution["status"],
                "error": execution.get("error"),
                "jobStatus": job.get("status"),
                "evaluation": evaluation,
            }
        sleep(poll_seconds)
