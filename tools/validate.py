"""`python -m tools validate FILE`: the pipeline's dataset check, run locally before any upload.

With `--env NAME` the settings are the environment's (cdk.json) with the job.json beside
the file applied, resolved by the same code as the pipeline's first step, so what passes
here passes there; without it they come from the flags (and --job-file).

Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error or unreadable input.
This module imports neither the CDK nor boto3: validating starts at the speed of Python.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from customization import layout
from customization.catalog import CONTINUED_PRE_TRAINING, FINE_TUNING
from customization.serving import COMMITMENTS, NO_COMMITMENT, SERVING_MODES, ServingPlan
from customization.validation.dataset import DatasetCheck, LocalFile, check_dataset, write_prepared
from customization.validation.jobspec import JobSettings, RunDefaults, apply_job_file, read_job_file, resolve_run
from customization.validation.problems import ProblemLog
from tools.datasets import render_text

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Usage(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="training file: .jsonl, or .txt for continued pre-training")
    parser.add_argument(
        "--env",
        help="check with this environment's settings from cdk.json (and the job.json and validation.jsonl "
        "beside FILE), exactly as the pipeline will",
    )
    parser.add_argument("--base-model", help="model ID with its context suffix, e.g. amazon.nova-micro-v1:0:128k")
    parser.add_argument(
        "--customization-type",
        choices=[FINE_TUNING, CONTINUED_PRE_TRAINING],
        default=None,
        help=f"default: {FINE_TUNING}, or the job file's",
    )
    parser.add_argument("--validation-file", type=Path, help="validation .jsonl (otherwise --validation-split)")
    parser.add_argument("--job-file", type=Path, help="a job.json whose settings apply first (flags override it)")
    parser.add_argument(
        "--hyperparameter",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter as Bedrock names it, e.g. -p epochCount=2 (repeatable)",
    )
    parser.add_argument("--validation-split", type=float, help="hold out this share of records, e.g. 0.1")
    parser.add_argument("--serving", choices=SERVING_MODES, help="serving mode for the cost estimate (default none)")
    parser.add_argument("--model-units", type=int, default=1, help="provisioned model units for the cost estimate")
    parser.add_argument("--commitment", choices=COMMITMENTS, default=NO_COMMITMENT, help="provisioned throughput term")
    parser.add_argument("--max-problems", type=int, default=50, help="problems to print (all are counted)")
    parser.add_argument("--prepare-dir", type=Path, help="write the prepared train/validation files here if valid")
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of text")


def run(args: argparse.Namespace) -> int:
    try:
        result = _check(args, ProblemLog(keep=max(args.max_problems, 0)))
        if args.prepare_dir and result.valid and result.needs_prepared_files:
            _prepare(result, args)
    except _Usage as error:
        return _usage(str(error))
    except OSError as error:
        return _usage(f"cannot read input: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
    print(json.dumps(result.summary(), indent=2) if args.json else render_text(result))
    return EXIT_VALID if result.valid else EXIT_INVALID


def _check(args: argparse.Namespace, log: ProblemLog) -> DatasetCheck:
    validation_file, job_file = args.validation_file, args.job_file
    if args.env:
        if args.serving:
            raise _Usage("--serving: with --env, the environment's serving mode (cdk.json) is used")
        defaults, serving = _environment(args.env)
        folder = args.file.parent
        validation_file = validation_file or _sibling(folder, layout.VALIDATION_FILE)
        job_file = job_file or _sibling(folder, layout.JOB_FILE)
    else:
        defaults = RunDefaults(settings=JobSettings(base_model=args.base_model or ""), allowed_base_models=())
        serving = ServingPlan(args.serving or "none", args.model_units, args.commitment)
    for path in filter(None, (args.file, validation_file, job_file)):
        if path.is_dir():
            raise _Usage(f"{path} is a folder: give the file itself, e.g. {path / 'train.jsonl'}")
        if not path.is_file():
            raise _Usage(f"cannot read {path}: no such file")
    job = _read_job(job_file) if job_file else None
    if not defaults.settings.base_model and not _names_a_model(job):
        raise _Usage("--base-model is required (or a --job-file with baseModel, or --env NAME)")
    resolved = resolve_run(
        defaults,
        serving,
        job,
        log,
        job_file=str(job_file) if job_file else "job.json",
        defaults_origin="environment defaults" if args.env else "command line",
    )
    settings, origin = resolved.settings, resolved.origin
    overrides = _flag_overrides(args)
    if overrides:
        settings = apply_job_file(settings, json.dumps(overrides), log, file="command line")
        # Problems in settings point at the file a person would edit, if there is one.
        origin = origin if job_file else "command line"
    return check_dataset(
        LocalFile(args.file),
        settings,
        log=log,
        validation=LocalFile(validation_file) if validation_file else None,
        settings_origin=origin,
        serving=resolved.serving,
        cost_ceiling_usd=defaults.cost_ceiling_usd,
        graders=defaults.graders,
    )


def _environment(name: str) -> tuple[RunDefaults, ServingPlan]:
    from stacks.config import ConfigError, cdk_json_context, load_environments

    try:
        environments = load_environments(cdk_json_context()["environments"])
    except ConfigError as error:
        raise _Usage(str(error)) from None
    if name not in environments:
        raise _Usage(f"unknown environment {name!r}; allowed: {', '.join(environments)} (see cdk.json)")
    config = environments[name]
    return config.run_defaults(), config.serving.plan()


def _names_a_model(job: bytes | None) -> bool:
    """Whether a job file gives baseModel (a file that does not parse is reported as such later)."""
    if job is None:
        return False
    try:
        parsed = json.loads(job)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        return True
    return not isinstance(parsed, dict) or "baseModel" in parsed


def _sibling(folder: Path, name: str) -> Path | None:
    path = folder / name
    return path if path.is_file() else None


def _flag_overrides(args: argparse.Namespace) -> dict:
    """The settings given as flags, as job.json would give them (checked the same way)."""
    overrides: dict = {}
    if args.base_model:
        overrides["baseModel"] = args.base_model
    if args.customization_type:
        overrides["customizationType"] = args.customization_type
    if args.hyperparameter:
        hyperparameters = {}
        for item in args.hyperparameter:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise _Usage(f"--hyperparameter {item!r}: expected NAME=VALUE, e.g. epochCount=2")
            hyperparameters[name] = value
        overrides["hyperParameters"] = hyperparameters
    if args.validation_split is not None:
        overrides["validationSplit"] = args.validation_split
    return overrides


def _prepare(result: DatasetCheck, args: argparse.Namespace) -> None:
    args.prepare_dir.mkdir(parents=True, exist_ok=True)
    with open(args.prepare_dir / "train.jsonl", "wb") as train:
        if result.split:
            with open(args.prepare_dir / "validation.jsonl", "wb") as validation:
                write_prepared(result, LocalFile(args.file), train, validation)
        else:
            write_prepared(result, LocalFile(args.file), train)


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _read_job(path: Path) -> bytes:
    with path.open("rb") as stream:
        return read_job_file(stream)
