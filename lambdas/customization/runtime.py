"""What every handler needs from the Lambda environment: settings, clients and logs.

Settings arrive as environment variables set by the stack (validated at synth); they are
read lazily, on first use, so tests can set them and import handlers in any order.
Logs are JSON (the function's log format is JSON): `extra=` fields become JSON keys.
"""

from __future__ import annotations

import json
import logging
import os
import time
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from customization.cost import ServingPlan
from customization.naming import RunNames, run_names
from customization.training import JobEnvironment

CLIENT_CONFIGS = {
    # Bedrock throttles control-plane calls; the SDK's adaptive mode backs off before the
    # state machine's own retries take over.
    "bedrock": Config(retries={"mode": "adaptive", "max_attempts": 5}),
    # The evaluation retries runtime calls itself (customization.inference), counting them;
    # a pool as large as its largest concurrency; answers can take a while to generate.
    "bedrock-runtime": Config(retries={"total_max_attempts": 1}, max_pool_connections=16, read_timeout=120),
}

logger = logging.getLogger("customization")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))


class SettingsError(RuntimeError):
    """A variable the stack sets is missing or malformed: redeploy the stack."""


def variable(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise SettingsError(f"environment variable {name} is not set: redeploy the stack") from None


def json_variable(name: str, default: Any = None) -> Any:
    raw = os.environ.get(name)
    if raw is None:
        if default is None:
            raise SettingsError(f"environment variable {name} is not set: redeploy the stack")
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"environment variable {name} is not JSON ({error}): redeploy the stack") from None


@cache
def environment_name() -> str:
    return variable("ENVIRONMENT")


@cache
def serving_plan() -> ServingPlan:
    serving = json_variable("SERVING", {})
    return ServingPlan(
        mode=serving.get("mode", "none"),
        model_units=int(serving.get("modelUnits", 1)),
        commitment=serving.get("commitment", "none"),
    )


@cache
def job_environment() -> JobEnvironment:
    vpc = json_variable("JOB_VPC", {})
    ceiling = os.environ.get("COST_CEILING_USD")
    return JobEnvironment(
        environment=environment_name(),
        role_arn=variable("CUSTOMIZATION_ROLE_ARN"),
        output_bucket=variable("OUTPUT_BUCKET"),
        kms_key_arn=variable("DATA_KEY_ARN"),
        cost_ceiling_usd=float(ceiling) if ceiling else None,
        subnet_ids=tuple(vpc.get("subnetIds", ())),
        security_group_ids=tuple(vpc.get("securityGroupIds", ())),
    )


def names_of(upload: dict[str, Any]) -> RunNames:
    """The names of the run this upload started (the same in every step)."""
    return run_names(environment_name(), upload["bucket"], upload["key"], upload.get("versionId"))


@cache
def client(service: str):
    return boto3.client(service, config=CLIENT_CONFIGS.get(service))


def sleep(seconds: float) -> None:
    """Waits between retries (the local run replaces it with its simulated clock)."""
    time.sleep(seconds)


def reset() -> None:
    """Forget cached settings and clients (tests change the environment between cases)."""
    for cached in _CACHED:
        cached.cache_clear()


_context: dict[str, Any] = {}


def bind(event: dict[str, Any]) -> None:
    """Carry the run's execution ARN (the state machine passes it to every step) into each log line."""
    _context.clear()
    if isinstance(event, dict) and event.get("executionArn"):
        _context["executionArn"] = event["executionArn"]


def log(message: str, **fields: Any) -> None:
    merged = {**_context, **fields}
    logger.info(message, extra={key: value for key, value in merged.items() if value is not None})


_CACHED = (environment_name, serving_plan, job_environment, client)
