"""`python -m tools invoke`: ask a run's served model (or any model) one question.

What people otherwise do by hand after a run: find the throughput or deployment ARN in the
console and paste it into a Converse snippet. The run's serving is found by its
deterministic name, so a run that is still serving answers whatever its execution says;
a run that has none says why (not promoted and deleted, skipped, failed, not created yet).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from botocore.exceptions import ClientError

from customization.bedrock_errors import BedrockThrottled, error_code
from customization.evaluation.inference import InvocationRejected, Request, converse
from customization.runtime import CLIENT_CONFIGS
from customization.serving import ON_DEMAND, PROVISIONED, READY, serving_of_run
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
    parser.add_argument("prompt", help="what to ask")
    environment_arguments(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--run", dest="run_name", metavar="RUN", help="a run's name (as status lists it): its served custom model"
    )
    target.add_argument(
        "--model", help="a provisioned-model, custom-model-deployment or custom-model ARN, or a base model ID"
    )
    parser.add_argument("--system", help="a system prompt (as the training records had)")
    parser.add_argument("--max-tokens", type=int, default=512, help="longest answer, in tokens (default 512)")


def run(args: argparse.Namespace, session: Any = None) -> int:
    try:
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session_for(environment, session)
        with aws_errors("finding the model to ask"):
            if args.run_name:
                model_id = served_model_of_run(session, environment, args.run_name)
            else:
                model_id = ready_model(session.client("bedrock"), args.model)
        request = Request(
            model_id=model_id,
            system=[{"text": args.system}] if args.system else [],
            messages=[{"role": "user", "content": [{"text": args.prompt}]}],
            max_tokens=args.max_tokens,
        )
        with aws_errors(f"asking {model_id}"):
            answer = converse(session.client("bedrock-runtime", config=CLIENT_CONFIGS["bedrock-runtime"]), request)
        if answer.error:
            raise UsageError(f"{model_id} refused the request: {answer.error}")
    except (UsageError, InvocationRejected, BedrockThrottled) as error:
        # All of them AWS's answer, or a usage error: one line, exit 2 (no verdict was asked for).
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    result = {
        "model": model_id,
        "run": args.run_name,
        "answer": answer.text,
        "latencyMs": answer.latency_ms,
        "inputTokens": answer.input_tokens,
        "outputTokens": answer.output_tokens,
        "retries": answer.retries,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(answer.text)
        print("--")
        print(f"model {model_id}" + (f" (run {args.run_name})" if args.run_name else ""))
        print(
            f"latency {answer.latency_ms:,.0f} ms, tokens {answer.input_tokens:,} in / {answer.output_tokens:,} out"
            + (f", {answer.retries} throttled attempt(s) retried" if answer.retries else "")
        )
    return EXIT_OK


def served_model_of_run(session, environment: DeployedEnvironment, run: str) -> str:
    """The ARN of the run's ready throughput or deployment; otherwise a UsageError saying why not."""
    mode = environment.config.serving.mode
    execution = describe_run(session, environment, run)
    if mode == "none":
        raise UsageError(
            f"run {run} has no served model: {environment.name} serves none (serving.mode is none in cdk.json)"
        )
    names = names_of_execution(environment, execution)
    if names is None:
        raise UsageError(f"run {run} was not started by an upload: it has no served model")
    bedrock = session.client("bedrock")
    try:
        arn, found = serving_of_run(bedrock, names, mode)
    except ClientError as error:
        if error_code(error) not in ("ResourceNotFoundException", "ValidationException"):
            raise
        raise UsageError(f"run {run} has no served model: {_why_not_served(execution)}") from None
    _require_ready(arn, found["status"], READY[mode])
    return arn


def ready_model(bedrock, model: str) -> str:
    """`model` if it can answer now: a ready throughput or deployment, or what serves a custom model."""
    try:
        if ":provisioned-model/" in model:
            current = bedrock.get_provisioned_model_throughput(provisionedModelId=model)
            _require_ready(model, current["status"], READY[PROVISIONED])
        elif ":custom-model-deployment/" in model:
            current = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=model)
            _require_ready(model, current["status"], READY[ON_DEMAND])
        elif ":custom-model/" in model:
            return _serving_of_custom_model(bedrock, model)
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "ValidationException"):
            raise UsageError(f"{model} does not exist in this account and region (deleted?)") from None
        raise
    return model


def _serving_of_custom_model(bedrock, model_arn: str) -> str:
    """A custom model answers only through provisioned throughput or an on-demand deployment."""
    for throughput in bedrock.list_provisioned_model_throughputs(modelArnEquals=model_arn)["provisionedModelSummaries"]:
        if throughput["modelArn"] == model_arn and throughput["status"] == READY[PROVISIONED]:
            return throughput["provisionedModelArn"]
    for deployment in bedrock.list_custom_model_deployments(modelArnEquals=model_arn)["modelDeploymentSummaries"]:
        if deployment["modelArn"] == model_arn and deployment["status"] == READY[ON_DEMAND]:
            return deployment["customModelDeploymentArn"]
    raise UsageError(
        f"{model_arn} is not served: a custom model answers through provisioned throughput or an on-demand "
        "deployment that is ready; none is"
    )


def _require_ready(arn: str, status: str, ready: str) -> None:
    if status == "Failed":
        raise UsageError(
            f"{arn} failed and cannot answer: delete it (python -m tools cleanup) and serve the model again"
        )
    if status != ready:
        raise UsageError(f"{arn} is {status}, not {ready} yet: try again in a few minutes")


def _why_not_served(execution: dict[str, Any]) -> str:
    output = json.loads(execution.get("output") or "{}")
    evaluation = output.get("evaluation") or {}
    if (output.get("retired") or {}).get("deleted"):
        return f"its model was not promoted and its serving was deleted ({evaluation.get('headline')})"
    if ((output.get("validation") or {}).get("settings") or {}).get("servingMode") == "none":
        return "its job.json skips serving"
    if execution["status"] == "RUNNING":
        return "the run has not created it yet; follow it with python -m tools status"
    if execution["status"] != "SUCCEEDED":
        return f"the run ended {execution['status']} ({execution.get('error') or 'no error recorded'})"
    return "it was deleted since the run ended (cleanup or the safety net)"
