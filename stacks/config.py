"""Per-environment settings, parsed and validated once at synth.

The settings live in `cdk.json` under the context key `environments`, one object per
environment name. `load_environments` turns them into frozen, typed objects or raises a
`ConfigError` whose message names every wrong key, the value found and what is allowed,
so that `cdk synth` stops before any template is written.

Validation is done by pydantic (strict mode: no silent "7" -> 7 coercion, unknown keys
rejected so a typo cannot be ignored); this module only shapes its errors for people.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from lambdas.customization.catalog import FINE_TUNING, UnknownModelError, load_catalog
from lambdas.customization.hyperparameters import check_hyperparameters
from lambdas.customization.jobspec import MAX_VALIDATION_SPLIT

CONTEXT_KEY = "environments"
SELECTOR_KEY = "env"

ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")

AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
RegionName = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]
Days = Annotated[int, Field(ge=1, le=3650)]


class ConfigError(ValueError):
    """A problem in the `cdk.json` environments, worded for the person who edits it."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid", populate_by_name=True)


class StorageConfig(_Settings):
    """Lifecycle of the buckets: how long old object versions and access logs are kept."""

    noncurrent_version_expiration_days: Days = Field(alias="noncurrentVersionExpirationDays")
    abort_incomplete_upload_days: Annotated[int, Field(ge=1, le=365)] = Field(alias="abortIncompleteUploadDays")
    access_log_expiration_days: Days = Field(alias="accessLogExpirationDays")


class CustomizationConfig(_Settings):
    """Defaults for every run of the environment; a dataset's job.json may override them.

    Checked with the same code the pipeline runs on each dataset, so a hyperparameter the
    model does not accept fails `cdk synth`, not a job hours later.
    """

    base_model: str = Field(alias="baseModel")
    customization_type: Literal["FINE_TUNING", "CONTINUED_PRE_TRAINING"] = Field(
        default=FINE_TUNING, alias="customizationType"
    )
    hyper_parameters: dict[str, Annotated[str, StringConstraints(min_length=1)] | int | float] = Field(
        default_factory=dict, alias="hyperParameters"
    )
    validation_split: Annotated[float, Field(gt=0, le=MAX_VALIDATION_SPLIT)] | None = Field(
        default=None, alias="validationSplit"
    )

    @model_validator(mode="after")
    def _the_model_accepts_these_settings(self) -> CustomizationConfig:
        try:
            model = load_catalog().model(self.base_model)
        except UnknownModelError as error:
            raise ValueError(f"baseModel: {error}") from None
        if self.customization_type not in model.customization_types:
            raise ValueError(
                f"customizationType: {model.name} supports {', '.join(model.customization_types)}, "
                f"not {self.customization_type}"
            )
        checked = check_hyperparameters(self.hyper_parameters, model, self.customization_type)
        if checked.problems:
            raise ValueError("; ".join(f"hyperParameters.{p.key}: {p.message}" for p in checked.problems))
        return self

    def as_job_settings(self) -> dict:
        """The JSON the ValidateDataset function reads (same keys as job.json)."""
        return {
            "baseModel": self.base_model,
            "customizationType": self.customization_type,
            "hyperParameters": {name: str(value) for name, value in self.hyper_parameters.items()},
            "validationSplit": self.validation_split,
        }


class EnvironmentConfig(_Settings):
    """Everything that differs between two deployments of the pipeline."""

    name: str
    account: AccountId | None = None
    region: RegionName | None = None
    retain_data: bool = Field(alias="retainData")
    storage: StorageConfig
    customization: CustomizationConfig

    @model_validator(mode="after")
    def _protected_environments_are_pinned(self) -> EnvironmentConfig:
        # Data that must survive a `cdk destroy` must also never land in whatever account
        # the operator's shell happens to point at.
        if self.retain_data and (self.account is None or self.region is None):
            missing = [key for key in ("account", "region") if getattr(self, key) is None]
            raise ValueError(
                f"retainData is true, so the environment must pin {' and '.join(missing)} "
                "(a 12-digit account ID and a region such as us-east-1)"
            )
        return self

    @model_validator(mode="after")
    def _the_model_is_customizable_in_the_region(self) -> EnvironmentConfig:
        model = load_catalog().model(self.customization.base_model)
        if self.region is not None and self.region not in model.regions:
            raise ValueError(
                f"customization.baseModel {model.id} is customizable in {', '.join(model.regions)}, "
                f"not in the environment's region {self.region}"
            )
        return self

    @property
    def pinned(self) -> bool:
        return self.account is not None and self.region is not None


def load_environments(context: Any) -> dict[str, EnvironmentConfig]:
    """Parse the `environments` context value into one config per environment name.

    `-c environments='{...}'` on the command line arrives as a JSON string: accepted too.
    """
    if isinstance(context, str):
        try:
            context = json.loads(context)
        except json.JSONDecodeError as error:
            raise ConfigError(f"-c {CONTEXT_KEY}=...: not valid JSON ({error})") from None
    if not isinstance(context, Mapping) or not context:
        raise ConfigError(
            f'cdk.json context "{CONTEXT_KEY}": got {_show(context)}; allowed: an object that '
            'maps each environment name to its settings, e.g. {"dev": {...}, "prod": {...}}'
        )
    problems: list[str] = []
    environments: dict[str, EnvironmentConfig] = {}
    for name, settings in context.items():
        if not ENVIRONMENT_NAME.match(str(name)):
            problems.append(
                f"{CONTEXT_KEY}.{name}: got environment name {name!r}; allowed: lower-case "
                "letters, digits and '-', starting with a letter, at most 20 characters"
            )
            continue
        if not isinstance(settings, Mapping):
            problems.append(f"{CONTEXT_KEY}.{name}: got {_show(settings)}; allowed: an object of settings")
            continue
        try:
            environments[name] = EnvironmentConfig.model_validate({**settings, "name": name})
        except ValidationError as error:
            problems.extend(_describe(f"{CONTEXT_KEY}.{name}", error))
    if problems:
        raise ConfigError("Invalid cdk.json context:\n  " + "\n  ".join(problems))
    return environments


def select_environments(environments: Mapping[str, EnvironmentConfig], selected: str | None) -> list[EnvironmentConfig]:
    """All environments, or only the one named by `-c env=NAME`."""
    if selected is None:
        return list(environments.values())
    if selected not in environments:
        raise ConfigError(
            f'-c {SELECTOR_KEY}={selected}: unknown environment "{selected}"; allowed: '
            f'{", ".join(sorted(environments))} (or add it under "{CONTEXT_KEY}" in cdk.json)'
        )
    return [environments[selected]]


def _describe(prefix: str, error: ValidationError) -> list[str]:
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in (prefix, *problem["loc"]))
        if problem["type"] == "missing":
            lines.append(f"{location}: required key is missing")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"{location}: unknown key (got {_show(problem['input'])}); check the spelling")
        elif problem["type"] == "value_error" and isinstance(problem["input"], Mapping):
            # A rule across keys (see the model validators): the message says it all.
            lines.append(f"{location}: {problem['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{location}: got {_show(problem['input'])}; {_allowed(problem['msg'])}")
    return lines


def _allowed(pydantic_message: str) -> str:
    # "Input should be greater than or equal to 1" reads better as "allowed: greater ..."
    prefix = "Input should be "
    if pydantic_message.startswith(prefix):
        return "allowed: " + pydantic_message.removeprefix(prefix)
    return pydantic_message


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    return f"{value!r} ({type(value).__name__})"
