"""`python -m tools cleanup --env NAME [--older-than DAYS] [--yes]`: what a deployed
environment's runs left that costs money, and (with --yes) deleting it.

The same inventory and sweep as the hourly safety net (customization.inventory): one item
that cannot be deleted is reported and the others are still deleted; the exit status is 1
when anything was left."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict
from typing import Any

from customization.inventory import Billable, Sweep, billables, sweep
from tools.deployed import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    WIDTH,
    DeployedEnvironment,
    UsageError,
    aws_errors,
    cut,
    environment_arguments,
    session_for,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    environment_arguments(parser)
    parser.add_argument("--older-than", type=float, default=0, metavar="DAYS", help="only items at least this old")
    parser.add_argument("--yes", action="store_true", help="delete the items marked delete (default: list only)")


def run(args: argparse.Namespace, session: Any = None) -> int:
    try:
        if args.older_than < 0:
            raise UsageError(f"--older-than {args.older_than:g}: give a number of days, 0 or more")
        environment = DeployedEnvironment.lookup(args.env, session)
        now = dt.datetime.now(dt.UTC)
        with aws_errors(f"listing what {environment.name}'s runs left"):
            bedrock = session_for(environment, session).client("bedrock")
            items = billables(bedrock, environment.name, now)
        with aws_errors(f"deleting what {environment.name}'s runs left"):
            result = sweep(bedrock, items, now, older_than_hours=args.older_than * 24, deleting=args.yes)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    outcome = {item.arn: "deleted" for item in result.deleted}
    outcome.update({item.arn: f"not deleted: {reason}" for item, reason in result.failed})
    if args.json:
        rows = [
            {**asdict(item), "created": item.created.isoformat(), "result": outcome.get(item.arn)} for item in items
        ]
        print(json.dumps(rows, indent=2))
    else:
        print(render(items, now, args.older_than, result if args.yes else None))
    return EXIT_FAILED if result.failed else EXIT_OK


def render(items: list[Billable], now: dt.datetime, older_than_days: float, result: Sweep | None) -> str:
    """A table of what is left; `result` is what --yes did (None on a dry run)."""
    lines = [f"{'KIND':<13}{'NAME':<30}{'AGE':>6}  {'COST':<27}", "-" * (WIDTH - 1)]
    deleted = {item.arn for item in result.deleted} if result else set()
    failed = {item.arn: reason for item, reason in result.failed} if result else {}
    for item in items:
        lines.append(f"{item.kind:<13}{_short(item.name, 29):<30}{item.age_days(now):>5.1f}d  {cut(item.cost, 27):<27}")
        due = item.deletable and item.age_days(now) >= older_than_days
        if item.arn in deleted:
            verdict = "deleted"  # why it billed is no longer so
        elif item.arn in failed:
            verdict = f"NOT DELETED ({failed[item.arn]}): {item.reason}"
        else:
            verdict = f"{'delete' if due else 'keep'}: {item.reason}"
        lines.append(f"{'':<13}-> {verdict}")
    if not items:
        lines.append("nothing billable left by this environment's runs")
    elif result is None:
        lines.append("dry run: nothing was deleted; add --yes to delete the items marked delete")
    else:
        lines.append(f"deleted {len(deleted)} item(s), kept {len(items) - len(deleted) - len(failed)}")
        if failed:
            lines.append(f"{len(failed)} item(s) could not be deleted: see NOT DELETED above")
    return "\n".join(lines)


def _short(name: str, width: int) -> str:
    """The name, cut in the middle when too long: its end is the run's id, what tells two apart."""
    if len(name) <= width:
        return name
    tail = 16  # a run id (customization.naming)
    return name[: width - tail - 1] + "…" + name[-tail:]
