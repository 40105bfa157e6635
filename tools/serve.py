"""`python -m tools serve RUN --env NAME [--yes]`: serve a run's custom model again.

A run whose serving failed (a quota, a Region without capacity), was not promoted, or was
cleaned up keeps its custom model, which cost a training job; serving it again used to mean
uploading the dataset again and paying for that job twice. This serves the model the run
trained, as the environment serves every run (cdk.json `serving`): under the run's own
deterministic name and tags, so `invoke --run`, `status`, `cleanup` and the dev safety net
find it as if the run had created it, and a second call finds the first one's serving instead
of creating another. Without --yes it says what it would create and what that bills.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any

from customization.bedrock_errors import BedrockRequestRejected, BedrockThrottled, CapacityUnavailable
from customization.naming import PROJECT, RunNames
from customization.serving import (
    NO_COMMITMENT,
    ON_DEMAND,
    PROVISIONED,
    CustomModelFailed,
    CustomModelNotReady,
    create_serving,
    delete_command,
    find_serving,
)
from customization.sweep import run_models
from tools.deployed import (
    EXIT_OK,
    EXIT_USAGE,
    DeployedEnvironment,
    UsageError,
    aws_errors,
    describe_run,
    environment_arguments,
    names_of_execution,
    session_for,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_name", metavar="RUN", help="a run's name, as status lists it")
    environment_arguments(parser)
    parser.add_argument(
        "--model", help="which of the run's custom models, when it kept several (a sweep with keepSweepModels)"
    )
    parser.add_argument("--yes", action="store_true", help="create the serving (without: say what would be created)")


def run(args: argparse.Namespace, session: Any = None) -> int:
    try:
        environment = DeployedEnvironment.lookup(args.env, session)
        plan = environment.config.serving.plan()
        if not plan.serves:
            raise UsageError(
                f"{environment.name} serves nothing (serving.mode is none in cdk.json): set serving.mode to "
                f"{ON_DEMAND} or {PROVISIONED} and deploy, then serve the run"
            )
        session = session_for(environment, session)
        with aws_errors(f"finding the custom model of run {args.run_name}"), _refused("reading"):
            names = _names_of_run(session, environment, args.run_name)
            bedrock = session.client("bedrock")
            model_arn = _model_of_run(bedrock, names, environment.name, args.model)
            existing = find_serving(bedrock, names, plan.mode)
        outcome = {"run": args.run_name, "model": model_arn, "mode": plan.mode, "serving": None, "created": False}
        if existing is not None:
            _require_usable(existing, plan)
            outcome["serving"] = existing["arn"]
        elif args.yes:
            with aws_errors(f"serving the custom model of run {args.run_name}"), _refused("serving"):
                # A token of its own: the run's may have served (and lost) this name already.
                again = "serve" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
                outcome["serving"] = create_serving(bedrock, names, model_arn, plan, again=again)["arn"]
                outcome["created"] = True
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(outcome, indent=2))
    else:
        print(_render(outcome, existing, plan, environment.name))
    return EXIT_OK


def _render(outcome: dict[str, Any], existing: dict[str, Any] | None, plan: Any, environment: str) -> str:
    ask = f"python -m tools invoke --env {environment} --run {outcome['run']} 'your question'"
    if existing is not None:
        return f"already served: {existing['arn']} ({existing['status']})\nask it: {ask}"
    if not outcome["created"]:
        return "\n".join(
            [
                f"would serve {outcome['model']}",
                f"  as {plan.mode} {_what_it_bills(plan)}",
                "  under the run's name and tags; run again with --yes to create it",
            ]
        )
    return (
        f"serving requested: {outcome['serving']} ({plan.mode})\n"
        f"it answers once ready (minutes for an on-demand deployment, longer for throughput): {ask}"
    )


def _require_usable(existing: dict[str, Any], plan: Any) -> None:
    """A serving of the run that failed serves nothing and keeps the run's name taken."""
    if existing["status"] != "Failed":
        return
    if existing.get("commitmentDuration"):
        raise UsageError(
            f"the run's serving {existing['arn']} failed and is under a {existing['commitmentDuration']} commitment, "
            "which cannot be deleted before its term ends: ask AWS Support about it"
        )
    raise UsageError(
        f"the run's serving {existing['arn']} failed and keeps the run's name: delete it "
        f"(aws bedrock {delete_command(plan.mode)} {existing['arn']}), then serve the run again"
    )


@contextlib.contextmanager
def _refused(doing: str) -> Iterator[None]:
    """What Bedrock refuses, said in one line (the runtime's exceptions carry Bedrock's words)."""
    try:
        yield
    except CustomModelNotReady as error:
        raise UsageError(f"{error}: serve the run once the model is Active (minutes, usually)") from None
    except CustomModelFailed as error:
        raise UsageError(f"{error}: a failed model cannot be served; train again") from None
    except CapacityUnavailable as error:
        raise UsageError(f"Bedrock refused {doing}: {error} (a quota: python -m tools preflight shows it)") from None
    except (BedrockThrottled, BedrockRequestRejected) as error:
        raise UsageError(f"Bedrock refused {doing}: {error}") from None


def _names_of_run(session: Any, environment: DeployedEnvironment, run_name: str) -> RunNames:
    execution = describe_run(session, environment, run_name)
    if execution["status"] == "RUNNING":
        # Its own steps create, judge and may delete its serving: a second hand would race them.
        raise UsageError(
            f"run {run_name} is still running: it serves its model itself if it can; follow it with "
            f"python -m tools status --env {environment.name} {run_name}, and serve it once it has ended"
        )
    names = names_of_execution(environment, execution)
    if names is None:
        raise UsageError(f"run {run_name} was not started by an upload: it trained no custom model")
    return names


def _model_of_run(bedrock: Any, names: RunNames, environment: str, chosen: str | None) -> str:
    """The run's one custom model (its job's, or the sweep variant's it kept), checked to carry
    this environment's tags; `chosen` picks among several."""
    found = run_models(bedrock, names)
    run = names.execution_name
    if chosen is not None:
        if chosen not in found:
            raise UsageError(f"--model {chosen} is not a custom model of run {run}: its models are {_listed(found)}")
        found = {chosen: found[chosen]}
    if not found:
        raise UsageError(
            f"run {run} has no custom model: its job did not complete, or the model was deleted "
            "(python -m tools status shows what happened); upload the dataset again to train one"
        )
    if len(found) > 1:
        raise UsageError(f"run {run} kept {len(found)} custom models ({_listed(found)}): pick one with --model ARN")
    [arn] = found
    tags = {tag["key"]: tag["value"] for tag in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
    if tags.get("project") != PROJECT or tags.get("environment") != environment:
        raise UsageError(f"{arn} is not tagged as a model of environment {environment!r}: it is not served from here")
    return arn


def _listed(found: dict[str, str]) -> str:
    return ", ".join(sorted(found)) or "none"


def _what_it_bills(plan: Any) -> str:
    if plan.mode == ON_DEMAND:
        return "(an on-demand deployment: billed per token when invoked, nothing while idle)"
    if plan.commitment == NO_COMMITMENT:
        return (
            f"({plan.model_units} model unit(s), no commitment: billed every hour until deleted; "
            "see python -m tools cost)"
        )
    return (
        f"({plan.model_units} model unit(s), a {plan.commitment} commitment: billed for the whole term, which "
        "cannot be ended early; see python -m tools cost)"
    )
