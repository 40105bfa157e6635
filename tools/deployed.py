"""A deployed environment, as the operator commands find it: its settings from `cdk.json`,
its resources from its stacks' outputs, and the runs in its state machine.

Commands tell the pipeline's Bedrock resources from anything else in the account by the
tags every run puts on them (project=BedrockCustomization, environment=<name>). Errors a
person can fix (an unknown environment, a stack that is not deployed, no credentials, an
AWS error) are one line and exit 2, never a traceback: `aws_errors` turns them into
`UsageError`.

Nothing here imports the CDK: these commands start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from customization.bedrock_errors import error_code, error_message
from customization.naming import RunNames, run_names
from stacks.config import ConfigError, EnvironmentConfig, cdk_json_context, load_environments, stack_id

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WIDTH = 80
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


class UsageError(Exception):
    """Something the person can fix; printed as one line, exit 2."""


def environment_config(name: str) -> EnvironmentConfig:
    """One environment's validated settings from cdk.json."""
    try:
        environments = load_environments(cdk_json_context()["environments"])
    except ConfigError as error:
        raise UsageError(str(error)) from None
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read cdk.json: {error}") from None
    if name not in environments:
        raise UsageError(f"unknown environment {name!r}; allowed: {', '.join(environments)} (see cdk.json)")
    return environments[name]


def new_session(region: str | None) -> Any:
    """The boto3 session every command talks to AWS through: the SDK's own configuration
    (AWS_PROFILE, credentials, AWS_ENDPOINT_URL_*, AWS_MAX_ATTEMPTS, ...), in `region`."""
    try:
        return boto3.Session(region_name=region)
    except ProfileNotFound as error:
        raise UsageError(_profile_not_found(error)) from None


def region_of(config: EnvironmentConfig) -> str | None:
    """The environment's pinned region, else the one AWS_REGION or AWS_DEFAULT_REGION names
    (the AWS CLI reads both; AWS_REGION wins)."""
    if config.region:
        return config.region
    return next((os.environ[name] for name in REGION_VARIABLES if os.environ.get(name)), None)


# What to do about an AWS error code (the query APIs such as CloudFormation's and the JSON
# ones such as Bedrock's name the same errors differently).
_ADVICE = {
    "AccessDenied": "your identity lacks a permission this needs",
    "AccessDeniedException": "your identity lacks a permission this needs",
    "ExpiredToken": "the credentials have expired: sign in again",
    "ExpiredTokenException": "the credentials have expired: sign in again",
    "InvalidClientTokenId": "the credentials are not valid: check AWS_PROFILE, or sign in again",
    "UnrecognizedClientException": "the credentials are not valid: check AWS_PROFILE, or sign in again",
}
_THROTTLED = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Any AWS error met while `doing` something becomes one line: what failed and how to fix it."""
    try:
        yield
    except NoCredentialsError:
        raise UsageError("no AWS credentials: set AWS_PROFILE or run aws sso login / aws configure") from None
    except NoRegionError:
        raise UsageError("no AWS region: set AWS_REGION (or pin region in cdk.json)") from None
    except ProfileNotFound as error:
        raise UsageError(_profile_not_found(error)) from None
    except EndpointConnectionError as error:
        raise UsageError(
            f"cannot reach AWS while {doing}: {one_line(error)}; "
            "check the network, the region and any AWS_ENDPOINT_URL setting"
        ) from None
    except ClientError as error:
        raise UsageError(_client_error(doing, error)) from None
    except BotoCoreError as error:
        raise UsageError(f"AWS call failed while {doing}: {one_line(error)}") from None


def _client_error(doing: str, error: ClientError) -> str:
    """What AWS answered, its code and message, and what to do, on one line."""
    code = error_code(error)
    metadata = error.response.get("ResponseMetadata", {})
    message = one_line(error_message(error))
    if metadata.get("HTTPStatusCode", 0) >= 500:
        return f"AWS failed while {doing}: {code}: {message} (an error on AWS's side: try again in a few minutes)"
    if code in _THROTTLED:
        attempts = metadata.get("RetryAttempts", 0) + 1
        advice = (
            f"AWS is throttling the account's requests, still after {attempts} attempt(s): try again in a few minutes"
        )
    else:
        advice = _ADVICE.get(code)
    return f"AWS refused {doing}: {code}: {message}" + (f" ({advice})" if advice else "")


def one_line(text: object) -> str:
    """Whatever AWS, the SDK or a credential process wrote, on one line."""
    return " ".join(str(text).split())


def _profile_not_found(error: ProfileNotFound) -> str:
    profile = error.kwargs.get("profile")
    return f"the AWS profile {profile!r} (AWS_PROFILE) does not exist: fix AWS_PROFILE, or aws configure --profile {profile}"


@dataclass(frozen=True)
class DeployedEnvironment:
    name: str
    region: str
    outputs: dict[str, str]
    config: EnvironmentConfig

    @classmethod
    def lookup(cls, name: str, session: Any = None) -> DeployedEnvironment:
        config = environment_config(name)
        session = session or new_session(region_of(config))
        if session.region_name is None:
            raise UsageError(
                f"no AWS region for {name}: set AWS_REGION (for example export AWS_REGION=us-east-1) "
                "or pin region in cdk.json"
            )
        with aws_errors("connecting to CloudFormation"):  # resolving the credentials can fail here
            cfn = session.client("cloudformation")
        outputs: dict[str, str] = {}
        for part in ("Storage", "Pipeline"):
            stack = stack_id(name, part)
            try:
                with aws_errors(f"reading stack {stack}"):
                    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
            except UsageError as error:
                if "does not exist" in str(error):
                    raise UsageError(
                        f"{stack} is not deployed in {session.region_name}: run make deploy ENV={name}"
                    ) from None
                raise
            outputs.update({o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])})
        return cls(name=name, region=session.region_name, outputs=outputs, config=config)

    def output(self, key: str) -> str:
        if key not in self.outputs:
            raise UsageError(
                f"{self.name}'s stacks have no {key} output: deploy them again (make deploy ENV={self.name})"
            )
        return self.outputs[key]


def session_for(environment: DeployedEnvironment, session: Any = None) -> Any:
    return session or new_session(environment.region)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution of this name has (or will have, once the upload event starts it)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def describe_run(session: Any, environment: DeployedEnvironment, run_name: str) -> dict[str, Any]:
    """The run's execution as Step Functions describes it; a UsageError naming the run when the
    environment has none of that name (any other AWS error is the caller's `aws_errors`)."""
    sfn = session.client("stepfunctions")
    try:
        return sfn.describe_execution(executionArn=execution_arn(environment.output("StateMachineArn"), run_name))
    except ClientError as error:
        if error_code(error) != "ExecutionDoesNotExist":
            raise
        raise UsageError(
            f"no run {run_name!r} in {environment.name}: see python -m tools status --env {environment.name}"
        ) from None


def names_of_execution(environment: DeployedEnvironment, execution: dict[str, Any]) -> RunNames | None:
    """The run's names (job, model, ...) from the upload in the execution's input, if it has one."""
    upload = json.loads(execution.get("input") or "{}").get("upload", {})
    if not upload.get("key"):
        return None
    return run_names(environment.name, upload["bucket"], upload["key"], upload.get("versionId"))


def bedrock_job(bedrock: Any, job_name: str) -> dict[str, Any]:
    """The job as Bedrock describes it; {} when there is none (the run never started one)."""
    try:
        return bedrock.get_model_customization_job(jobIdentifier=job_name)
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "ValidationException"):
            return {}
        raise


def environment_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command against a deployed environment takes."""
    parser.add_argument("--env", required=True, help="environment from cdk.json")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def usd(amount: float) -> str:
    """An estimate in dollars as the notifications write it (customization.notifications): ~$1,234.50."""
    return f"~${amount:,.2f}"
