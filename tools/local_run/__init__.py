"""`python -m tools local-run`: the synthesized state machine, run offline against emulated AWS.

Exit status: 0 when every execution succeeded, 1 when one ended otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

EXIT_SUCCEEDED, EXIT_OTHERWISE, EXIT_USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset",
        nargs="?",
        type=Path,
        help="a dataset folder (train.jsonl or train.txt, optional job.json and validation.jsonl); "
        "default: the scenario's bundled example",
    )
    parser.add_argument("--env", default="dev", help="environment from cdk.json (default: dev)")
    parser.add_argument("--scenario", default="happy-path", help="what the emulated world does (see --list-scenarios)")
    parser.add_argument("--list-scenarios", action="store_true", help="print the scenarios, one a line, and exit")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the timeline")
    for model in ("custom", "base"):
        parser.add_argument(
            f"--{model}-accuracy",
            type=float,
            metavar="SHARE",
            help=f"share (0 to 1) of the validation questions the emulated {model} model answers right "
            "(default: the scenario's)",
        )
    parser.add_argument(
        "--save-reports",
        type=Path,
        metavar="DIR",
        help="copy the reports the run wrote (validation, evaluation.json and .md) from the emulated bucket to DIR",
    )


def run(args: argparse.Namespace) -> int:
    from tools.local_run.scenarios import BY_NAME, SCENARIOS

    if args.list_scenarios:
        for scenario in SCENARIOS:
            print(f"{scenario.name:<24} {scenario.shows}")
        return EXIT_SUCCEEDED
    scenario = BY_NAME.get(args.scenario)
    if scenario is None:
        print(f"error: unknown scenario {args.scenario!r}; allowed: {', '.join(BY_NAME)}", file=sys.stderr)
        return EXIT_USAGE
    accuracies = {
        f"{model}_accuracy": getattr(args, f"{model}_accuracy", None)
        for model in ("custom", "base")
        if getattr(args, f"{model}_accuracy", None) is not None
    }
    if any(not 0 <= share <= 1 for share in accuracies.values()):
        print("error: --custom-accuracy and --base-accuracy take a share from 0 to 1", file=sys.stderr)
        return EXIT_USAGE
    if accuracies:
        scenario = replace(scenario, behaviour=replace(scenario.behaviour, **accuracies))
    dataset = args.dataset
    if dataset is not None:
        dataset = dataset if dataset.is_dir() else dataset.parent
        if not any((dataset / name).is_file() for name in ("train.jsonl", "train.txt")):
            print(f"error: {args.dataset} has no train.jsonl or train.txt", file=sys.stderr)
            return EXIT_USAGE
    # A local run checks the pipeline's behaviour, not its templates: `make synth` runs the
    # CDK's built-in template validation and the tests run cfn-lint. Skipping it here saves
    # about 3 s of each synth (set before aws_cdk starts Node.js, which reads it).
    os.environ.setdefault("CDK_VALIDATION", "false")
    from stacks.config import ConfigError, cdk_json_context, load_environments
    from tools.local_run.render import render
    from tools.local_run.runner import run as run_scenario

    try:  # a broken cdk.json or an unknown environment is said before anything runs
        environments = load_environments(cdk_json_context()["environments"])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.env not in environments:
        print(
            f"error: unknown environment {args.env!r}; allowed: {', '.join(environments)} (see cdk.json)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    emit = None if args.json else print
    if emit:
        emit(f"local run: scenario {scenario.name} ({scenario.shows}), environment {args.env}")
        emit("  simulated time  source   what happened")
    try:
        report = run_scenario(scenario, environment=args.env, dataset=dataset, emit=emit, reports_dir=args.save_reports)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.as_dict(), indent=2, default=str) if args.json else render(report))
    return EXIT_SUCCEEDED if report.statuses and all(s == "SUCCEEDED" for s in report.statuses) else EXIT_OTHERWISE
