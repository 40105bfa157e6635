"""`python -m tools validate`: the pipeline's dataset check, run locally before any upload.

Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from customization.catalog import CONTINUED_PRE_TRAINING, FINE_TUNING
from customization.serving import COMMITMENTS, SERVING_MODES, ServingPlan
from customization.validation.dataset import DatasetCheck, LocalFile, check_dataset, write_prepared
from customization.validation.jobspec import JobSettings, apply_job_file
from customization.validation.problems import ProblemLog

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="training file: .jsonl, or .txt for continued pre-training")
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
    parser.add_argument("--serving", choices=SERVING_MODES, default="none", help="serving mode for the cost estimate")
    parser.add_argument("--model-units", type=int, default=1, help="provisioned model units for the cost estimate")
    parser.add_argument("--commitment", choices=COMMITMENTS, default="none", help="provisioned throughput term")
    parser.add_argument("--max-problems", type=int, default=50, help="problems to print (all are counted)")
    parser.add_argument("--prepare-dir", type=Path, help="write the prepared train/validation files here if valid")
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of text")


def run(args: argparse.Namespace) -> int:
    for path in filter(None, (args.file, args.validation_file, args.job_file)):
        if not path.is_file():
            return _usage(f"cannot read {path}: no such file")
    log = ProblemLog(keep=max(args.max_problems, 0))
    try:
        settings, origin = _settings(args, log)
    except ValueError as error:
        return _usage(str(error))
    try:
        result = check_dataset(
            LocalFile(args.file),
            settings,
            log=log,
            validation=LocalFile(args.validation_file) if args.validation_file else None,
            settings_origin=origin,
            serving=ServingPlan(settings.serving_mode or "none", args.model_units, args.commitment),
        )
        if args.prepare_dir and result.valid and result.needs_prepared_files:
            _prepare(result, args)
    except OSError as error:
        return _usage(f"cannot read input: {error}")
    print(json.dumps(result.summary(), indent=2) if args.json else render_text(result))
    return EXIT_VALID if result.valid else EXIT_INVALID


def _settings(args: argparse.Namespace, log: ProblemLog) -> tuple[JobSettings, str]:
    overrides = {}
    for item in args.hyperparameter:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--hyperparameter {item!r}: expected NAME=VALUE, e.g. epochCount=2")
        overrides[name] = value
    base = JobSettings(base_model=args.base_model or "", serving_mode=args.serving)
    origin = "command line"
    if args.job_file:
        base = apply_job_file(base, args.job_file.read_text(encoding="utf-8"), log, file=str(args.job_file))
        origin = str(args.job_file)
    if not (args.base_model or base.base_model):
        raise ValueError("--base-model is required (or a --job-file with baseModel)")
    settings = JobSettings(
        base_model=args.base_model or base.base_model,
        customization_type=args.customization_type or base.customization_type,
        hyperparameters={**base.hyperparameters, **overrides},
        validation_split=args.validation_split if args.validation_split is not None else base.validation_split,
        serving_mode=base.serving_mode,
    )
    return settings, origin


def _prepare(result: DatasetCheck, args: argparse.Namespace) -> None:
    args.prepare_dir.mkdir(parents=True, exist_ok=True)
    with open(args.prepare_dir / "train.jsonl", "wb") as train:
        if result.split:
            with open(args.prepare_dir / "validation.jsonl", "wb") as validation:
                write_prepared(result, LocalFile(args.file), train, validation)
        else:
            write_prepared(result, LocalFile(args.file), train)


def render_text(result: DatasetCheck) -> str:
    log = result.log
    lines = [str(problem) for problem in log.problems]
    if log.truncated:
        counts = ", ".join(f"{rule} {count}" for rule, count in {**log.errors_by_rule, **log.warnings_by_rule}.items())
        lines.append(
            f"... {log.truncated:,} more problem(s) not shown (by rule: {counts}); use --max-problems or --json"
        )
    if result.train is not None:
        held_out = f", {result.split.validation_records:,} held out for validation" if result.split else ""
        validation = f", validation {result.validation_records:,}" if result.validation else ""
        lines.append(
            f"records: train {result.train_records:,}{held_out}{validation}; "
            f"tokens (estimate): {result.train.tokens:,}, largest record {result.train.max_record_tokens:,} "
            f"of {result.token_limit:,} allowed"
        )
    if result.cost is not None:
        lines.append(f"estimated cost: {result.cost.summary()}")
    verdict = "valid" if result.valid else "invalid"
    lines.append(f"{verdict}: {log.error_count:,} error(s), {log.warning_count:,} warning(s)")
    return "\n".join(lines)


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
