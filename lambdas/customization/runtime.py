"""What every handler needs from the Lambda environment: settings, clients and logs.

Settings arrive as environment variables set by the stack (see customization.settings); they
are read lazily, on first use, so tests can set them and import handlers in any order.
Logs are JSON (the function's log format is JSON): `extra=` fields become JSON keys.
"""

from __future__ import annotations

import logging
import os
import time
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from customization.log_events import LogEvent
from customization.naming import RunNames, run_names
from customization.settings import Deployment, S

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


@cache
def settings(kind: type[S]) -> S:
    """The function's settings of one group (see customization.settings), read once."""
    return kind.from_environment(os.environ)


def environment_name() -> str:
    return settings(Deployment).environment


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


def log(event: LogEvent | str, **fields: Any) -> None:
    """One JSON log line; a `LogEvent` (one the dashboard reads) must carry all its fields."""
    kept: tuple[str, ...] = ()
    if isinstance(event, LogEvent):
        missing = [name for name in event.fields if name not in fields]
        if missing:
            raise ValueError(f"log line {event.message!r} needs {', '.join(missing)}: the dashboard reads them")
        event, kept = event.message, event.fields
    merged = {**_context, **fields}
    # The dashboard's fields stay even when null (its filters skip nulls); other empty ones go.
    logger.info(event, extra={key: value for key, value in merged.items() if value is not None or key in kept})


_CACHED = (settings, client)
