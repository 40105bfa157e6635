"""How settings travel from `cdk.json` to a running function: environment variables.

Each group of settings is a frozen dataclass with a `to_environment()` / `from_environment()`
pair, side by side, so the variable names are written once: the stack calls
`to_environment()` on what the environment's config resolves to, the handler gets the same
object back through `runtime.settings(Kind)`. A missing or malformed variable means the
function and its stack disagree: `SettingsError` says to redeploy.

The groups live with their capability (`ServingPlan` in serving, `JobEnvironment` in
training, `EvaluationSettings` in evaluation, `RunDefaults` in validation, `SafetyNetSettings`
in inventory); the ones that belong to no single capability are here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar

_MISSING: Any = object()


class SettingsError(RuntimeError):
    """A variable the stack sets is missing or malformed: redeploy the stack."""


class Settings(Protocol):
    """What a settings group offers the stack and the handlers."""

    def to_environment(self) -> dict[str, str]: ...

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = ...) -> Self: ...


S = TypeVar("S", bound=Settings)


def required(environ: Mapping[str, str], name: str) -> str:
    try:
        return environ[name]
    except KeyError:
        raise SettingsError(f"environment variable {name} is not set: redeploy the stack") from None


def json_value(environ: Mapping[str, str], name: str, default: Any = _MISSING) -> Any:
    raw = environ.get(name)
    if raw is None:
        if default is _MISSING:
            raise SettingsError(f"environment variable {name} is not set: redeploy the stack")
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"environment variable {name} is not JSON ({error}): redeploy the stack") from None


def as_json(value: Any) -> str:
    return json.dumps(value)


def environment_of(*groups: Settings) -> dict[str, str]:
    """The variables of several settings groups, refusing two that set one name differently."""
    merged: dict[str, str] = {}
    for group in groups:
        for name, value in group.to_environment().items():
            if name in merged and merged[name] != value:
                raise ValueError(f"settings disagree on {name}: {merged[name]!r} and {value!r}")
            merged[name] = value
    return merged


@dataclass(frozen=True)
class Deployment:
    """Which environment (dev, prod, ...) a function belongs to: every function has it."""

    environment: str

    def to_environment(self) -> dict[str, str]:
        return {"ENVIRONMENT": self.environment}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Deployment:
        return cls(environment=required(environ, "ENVIRONMENT"))


@dataclass(frozen=True)
class TriggerSettings:
    """StartRun: the state machine an upload starts."""

    state_machine_arn: str

    def to_environment(self) -> dict[str, str]:
        return {"STATE_MACHINE_ARN": self.state_machine_arn}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TriggerSettings:
        return cls(state_machine_arn=required(environ, "STATE_MACHINE_ARN"))


@dataclass(frozen=True)
class TopicSettings:
    """Where people are told: the environment's notification topic."""

    topic_arn: str

    def to_environment(self) -> dict[str, str]:
        return {"TOPIC_ARN": self.topic_arn}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TopicSettings:
        return cls(topic_arn=required(environ, "TOPIC_ARN"))


@dataclass(frozen=True)
class DeadLetterSettings:
    """Where a message that could not be delivered is kept for a person (the DLQ, which alarms)."""

    queue_url: str

    def to_environment(self) -> dict[str, str]:
        return {"DEAD_LETTER_QUEUE_URL": self.queue_url}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> DeadLetterSettings:
        return cls(queue_url=required(environ, "DEAD_LETTER_QUEUE_URL"))
