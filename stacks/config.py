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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from customization import invocation_logs
from customization.catalog import FINE_TUNING, UnknownModelError, load_catalog
from customization.evaluation.step import EvaluationSettings
from customization.naming import PROJECT
from customization.serving import COMMITMENTS, NO_COMMITMENT, NONE, ON_DEMAND, PROVISIONED, SERVING_MODES, ServingPlan
from customization.sweep import MAX_VARIANTS
from customization.validation.hyperparameters import check_hyperparameters
from customization.validation.jobspec import MAX_VALIDATION_SPLIT, JobSettings, RunDefaults

CONTEXT_KEY = "environments"
SELECTOR_KEY = "env"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

# Part of stack, job and model names: Bedrock's model names allow no "--" and no trailing "-".
ENVIRONMENT_NAME = re.compile(r"^(?=.{1,20}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$")

AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
RegionName = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]
Days = Annotated[int, Field(ge=1, le=3650)]
KmsKeyArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]{1,128}$")]


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
    # What a dataset's job.json may pick besides baseModel; the pipeline's IAM allows these only.
    other_base_models: list[str] = Field(default_factory=list, alias="otherBaseModels")
    # Distillation teachers a job.json may name (catalog `distillation.teachers`): the customization
    # role may invoke exactly these, each as AWS offers it (in-Region, or through its profile), so
    # an environment pays for no teacher it did not choose.
    teacher_models: list[str] = Field(default_factory=list, alias="teacherModels")
    # Distillation from Bedrock invocation logs (customization.invocation_logs): the S3 folders a
    # job.json `invocationLogs` may name; the customization role may read exactly these. Empty: off.
    invocation_log_prefixes: list[str] = Field(default_factory=list, alias="invocationLogPrefixes")
    # The KMS key the logs are encrypted with, when it is a customer-managed one (SSE-S3 logs need
    # nothing): the role may decrypt with it through S3 only.
    invocation_log_key_arn: KmsKeyArn | None = Field(default=None, alias="invocationLogKeyArn")

    @property
    def allowed_base_models(self) -> list[str]:
        return [self.base_model, *(m for m in self.other_base_models if m != self.base_model)]

    @model_validator(mode="after")
    def _the_model_accepts_these_settings(self) -> CustomizationConfig:
        try:
            model = load_catalog().model(self.base_model)
            for other in self.other_base_models:
                load_catalog().model(other)
        except UnknownModelError as error:
            raise ValueError(f"baseModel: {error}") from None
        for key, model_id in (
            ("baseModel", self.base_model),
            *(("otherBaseModels", m) for m in self.other_base_models),
        ):
            ended = load_catalog().model(model_id).lifecycle_problem()
            if ended:
                raise ValueError(f"{key}: {ended}")
        if self.customization_type not in model.customization_types:
            raise ValueError(
                f"customizationType: {model.name} supports {', '.join(model.customization_types)}, "
                f"not {self.customization_type}"
            )
        checked = check_hyperparameters(self.hyper_parameters, model, self.customization_type)
        if checked.problems:
            raise ValueError("; ".join(f"hyperParameters.{p.key}: {p.message}" for p in checked.problems))
        teachers = load_catalog().teachers
        for teacher in self.teacher_models:
            if teacher not in teachers:
                raise ValueError(
                    f"teacherModels: {teacher!r} is not a distillation teacher in the catalog; allowed: "
                    + ", ".join(sorted(teachers))
                )
            students = [m for m in self.allowed_base_models if m in teachers[teacher].students]
            if not students:
                raise ValueError(
                    f"teacherModels: {teacher} teaches {', '.join(teachers[teacher].students)}, none of which is "
                    "baseModel or in otherBaseModels: allow a student, or drop the teacher"
                )
        for prefix in self.invocation_log_prefixes:
            problem = invocation_logs.prefix_problem(prefix)
            if problem:
                raise ValueError(f"invocationLogPrefixes: {problem}")
        if (self.invocation_log_prefixes or self.invocation_log_key_arn) and not self.teacher_models:
            raise ValueError(
                "invocationLogPrefixes: invocation logs are a source of distillation prompts, and this environment "
                "allows no teacher: add one to teacherModels, or drop the log settings"
            )
        if self.invocation_log_key_arn and not self.invocation_log_prefixes:
            raise ValueError("invocationLogKeyArn: set invocationLogPrefixes too (the key decrypts those logs)")
        return self

    def run_defaults(
        self,
        serving_mode: str | None = None,
        cost_ceiling_usd: float | None = None,
        graders: Mapping[str, str] | None = None,
        max_sweep_variants: int | None = None,
    ) -> RunDefaults:
        """What every run starts from before its job.json (the pipeline and `tools validate --env`)."""
        return RunDefaults(
            cost_ceiling_usd=cost_ceiling_usd,
            max_sweep_variants=max_sweep_variants,
            settings=JobSettings(
                base_model=self.base_model,
                customization_type=self.customization_type,
                hyperparameters={name: str(value) for name, value in self.hyper_parameters.items()},
                validation_split=self.validation_split,
                serving_mode=serving_mode,
            ),
            allowed_base_models=tuple(self.allowed_base_models),
            teacher_models=tuple(self.teacher_models),
            graders=dict(graders or {}),
            invocation_log_prefixes=tuple(self.invocation_log_prefixes),
        )


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Hours = Annotated[float, Field(gt=0, le=24 * 14)]


class ServingConfig(_Settings):
    """How a trained model is served: not at all, provisioned throughput, or on demand."""

    mode: Literal[SERVING_MODES] = NONE
    model_units: Annotated[int, Field(ge=1, le=100)] = Field(default=1, alias="modelUnits")
    commitment: Literal[COMMITMENTS] = NO_COMMITMENT
    # Where set (dev), an hourly safety net deletes no-commitment serving older than this.
    time_to_live_hours: Annotated[float, Field(ge=2, le=24 * 90)] | None = Field(default=None, alias="timeToLiveHours")

    @model_validator(mode="after")
    def _no_commitment_means_one_unit(self) -> ServingConfig:
        if self.mode == PROVISIONED and self.commitment == NO_COMMITMENT and self.model_units != 1:
            raise ValueError(
                f"modelUnits is {self.model_units}, but throughput without a commitment has exactly 1 model unit "
                "(at most 2 such per account): use modelUnits 1, or a OneMonth/SixMonths commitment"
            )
        return self

    def plan(self) -> ServingPlan:
        return ServingPlan(mode=self.mode, model_units=self.model_units, commitment=self.commitment)


class EvaluationConfig(_Settings):
    """How each served custom model is judged against its base model before it is promoted.

    The Evaluate step sends `sampleSize` validation records (the same ones every time for the
    same file) to both models. The custom model is promoted when its `metric` is at least the
    base model's plus `minImprovement`; where `deleteServingWhenNotPromoted` is true, the
    no-commitment throughput or deployment of a model that is not promoted is deleted.
    """

    sample_size: Annotated[int, Field(ge=1, le=1000)] = Field(default=50, alias="sampleSize")
    # exactMatch for label-like answers (classification, extraction); tokenF1 for free text.
    metric: Literal["exactMatch", "tokenF1"] = "exactMatch"
    min_improvement: Annotated[float, Field(ge=-1, le=1)] = Field(default=0.0, alias="minImprovement")
    delete_serving_when_not_promoted: bool = Field(default=False, alias="deleteServingWhenNotPromoted")
    # Requests in flight at once, over both models: keeps the step under the runtime quotas.
    concurrency: Annotated[int, Field(ge=1, le=16)] = 4
    # At most the smallest output limit among the catalog's models (Meta Llama: 2,048 tokens).
    max_output_tokens: Annotated[int, Field(ge=1, le=2048)] = Field(default=512, alias="maxOutputTokens")
    # A hyperparameter sweep's winner: the lowest final validation loss of its job, or the
    # lowest on its validation curve (customization.sweep); only the winner is evaluated.
    sweep_metric: Literal["validationLoss", "bestValidationLoss"] = Field(default="validationLoss", alias="sweepMetric")

    def settings(self) -> EvaluationSettings:
        return EvaluationSettings(
            sample_size=self.sample_size,
            metric=self.metric,
            min_improvement=self.min_improvement,
            delete_serving_when_not_promoted=self.delete_serving_when_not_promoted,
            concurrency=self.concurrency,
            max_output_tokens=self.max_output_tokens,
        )


class LimitsConfig(_Settings):
    """Bounds that keep a run from spending without anyone noticing."""

    max_job_hours: Hours = Field(alias="maxJobHours")
    max_serving_setup_hours: Hours = Field(default=2, alias="maxServingSetupHours")
    quota_wait_hours: Annotated[float, Field(ge=0, le=72)] = Field(default=6, alias="quotaWaitHours")
    cost_ceiling_usd: Annotated[float, Field(gt=0)] | None = Field(default=None, alias="costCeilingUsd")
    # Runs of this environment training at once; the others wait for a slot (runSlotWaitHours at
    # most) before their job starts, so a burst of uploads cannot start a burst of paid jobs.
    max_concurrent_runs: Annotated[int, Field(ge=1, le=100)] = Field(default=2, alias="maxConcurrentRuns")
    # How long a run waits for a slot: long enough for the runs ahead of it to finish (a full
    # run can take maxJobHours plus serving and evaluation), short enough that a forgotten
    # queue ends with a notification rather than never.
    run_slot_wait_hours: Annotated[float, Field(ge=0, le=336)] = Field(default=48, alias="runSlotWaitHours")
    # Hyperparameter sweeps (job.json "sweep"): at most this many variants per run, each a paid
    # job; 0 refuses every sweep. Validation also holds all of them together to costCeilingUsd.
    max_sweep_variants: Annotated[int, Field(ge=0, le=MAX_VARIANTS)] = Field(default=4, alias="maxSweepVariants")
    # A sweep's jobs training at once (its Map's MaxConcurrency). Bedrock's quota on concurrent
    # customization jobs is per account and region and shared with every other run: keep this
    # times maxConcurrentRuns within it (Service Quotas), or the starts wait on CapacityUnavailable.
    max_parallel_jobs: Annotated[int, Field(ge=1, le=20)] = Field(default=2, alias="maxParallelJobs")


class PollingConfig(_Settings):
    """How the pipeline learns that things ended. A job's end comes from Bedrock's own event;
    an hourly backstop reads the status of every job still waited for, in case an event was
    lost. Serving (throughput, deployments) has no such event: it is polled, from
    `servingFirstPollSeconds` backing off to `servingMaxPollSeconds` apart."""

    backstop_minutes: Annotated[int, Field(ge=5, le=180)] = Field(default=60, alias="backstopMinutes")
    serving_first_poll_seconds: Annotated[int, Field(ge=10, le=3600)] = Field(
        default=60, alias="servingFirstPollSeconds"
    )
    serving_max_poll_seconds: Annotated[int, Field(ge=10, le=3600)] = Field(default=300, alias="servingMaxPollSeconds")
    serving_backoff_rate: Annotated[float, Field(ge=1, le=5)] = Field(default=1.5, alias="servingBackoffRate")

    @model_validator(mode="after")
    def _first_is_not_above_max(self) -> PollingConfig:
        if self.serving_first_poll_seconds > self.serving_max_poll_seconds:
            raise ValueError(
                f"servingFirstPollSeconds ({self.serving_first_poll_seconds}) is above servingMaxPollSeconds "
                f"({self.serving_max_poll_seconds})"
            )
        return self


class NotificationsConfig(_Settings):
    emails: list[Email] = Field(default_factory=list)


class JobVpcConfig(_Settings):
    """Run customization jobs in your VPC (optional): Bedrock attaches network interfaces there."""

    subnet_ids: list[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        alias="subnetIds", min_length=1
    )
    security_group_ids: list[Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(
        alias="securityGroupIds", min_length=1
    )


class DeliveryConfig(_Settings):
    """Deploys from GitHub Actions without stored keys (optional): the `Delivery` stack holds a role
    that only jobs of `githubEnvironment` in `githubRepository` can assume, through GitHub's OIDC
    provider, and that may do nothing but assume this account's CDK bootstrap roles.

    `oidcProvider`: `create` makes the account's GitHub OIDC provider; `import` uses the one that
    exists (IAM holds one provider per URL and account, so only one stack may create it).
    """

    github_repository: str = Field(alias="githubRepository")
    github_environment: str = Field(alias="githubEnvironment")
    oidc_provider: Literal["create", "import"] = Field(alias="oidcProvider")

    @model_validator(mode="after")
    def _names_as_github_puts_them_in_the_token(self) -> DeliveryConfig:
        # Owner: letters, digits, single hyphens, at most 39; repository: letters, digits, '.', '_',
        # '-'. Repositories created or renamed since 2026-07-15 carry immutable IDs in the OIDC
        # subject, owner@123456/repo@456789 (GitHub docs, "Immutable subject claims", changelog
        # 2026-04-23, checked 2026-11-29). Both go into a StringEquals: no ':' and no wildcard.
        if not re.fullmatch(
            r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}(@\d+)?/[A-Za-z0-9._-]{1,100}(@\d+)?", self.github_repository
        ):
            raise ValueError(
                f"githubRepository is {self.github_repository!r}; allowed: OWNER/REPOSITORY as GitHub spells it, "
                "e.g. octo-org/bedrock-customization (OWNER@ID/REPOSITORY@ID for a repository whose OIDC "
                "subject carries immutable IDs)"
            )
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,255}", self.github_environment):
            raise ValueError(
                f"githubEnvironment is {self.github_environment!r}; allowed: the GitHub environment's name, "
                "letters, digits, '.', '_' and '-' (it is matched exactly in the role's trust policy)"
            )
        return self


GraderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")]
GraderModule = Annotated[str, StringConstraints(pattern=r"^graders(?:\.[a-z_][a-z0-9_]*)+$")]


class GradersConfig(_Settings):
    """Reward functions ("graders") for reinforcement fine-tuning (optional): each one the stack
    deploys is its own function, role and log group, and the customization role may invoke
    exactly these. `builtIn` picks from lambdas/graders (exact-match, json-schema, regex);
    `modules` adds the environment's own, name -> a module under lambdas/graders (the functions'
    code asset), e.g. {"citations": "graders.custom.citations"}."""

    built_in: list[Literal["exact-match", "json-schema", "regex"]] = Field(default_factory=list, alias="builtIn")
    modules: dict[GraderName, GraderModule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _each_module_is_a_grader(self) -> GradersConfig:
        # Imported at synth, as the function will import it: a typo fails `cdk synth`, not a
        # paid job's first batch of answers.
        from graders import UnknownGrader, load_grader

        for name in self.modules:
            try:
                load_grader(name, self.modules)
            except UnknownGrader as error:
                raise ValueError(f"modules.{name}: {error}") from None
        return self

    @property
    def deployed(self) -> dict[str, str]:
        """name -> module of every grader the stack deploys, built-in ones first."""
        from graders import BUILT_IN

        return {**{name: BUILT_IN[name] for name in dict.fromkeys(self.built_in)}, **self.modules}


class EnvironmentConfig(_Settings):
    """Everything that differs between two deployments of the pipeline."""

    name: str
    account: AccountId | None = None
    region: RegionName | None = None
    retain_data: bool = Field(alias="retainData")
    storage: StorageConfig
    customization: CustomizationConfig
    serving: ServingConfig = Field(default_factory=ServingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    limits: LimitsConfig
    polling: PollingConfig = Field(default_factory=PollingConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    job_vpc: JobVpcConfig | None = Field(default=None, alias="jobVpc")
    delivery: DeliveryConfig | None = None
    graders: GradersConfig = Field(default_factory=GradersConfig)

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
        for model_id in self.customization.allowed_base_models:
            allowed = load_catalog().model(model_id)
            if self.region is not None and self.region not in allowed.regions:
                raise ValueError(
                    f"customization: {allowed.id} is customizable in {', '.join(allowed.regions)}, "
                    f"not in the environment's region {self.region}"
                )
        for teacher_id in self.customization.teacher_models:
            teacher = load_catalog().teachers[teacher_id]
            if self.region is not None and self.region != teacher.region:
                raise ValueError(
                    f"customization.teacherModels: {teacher.name} teaches by distillation in {teacher.region}, "
                    f"not in the environment's region {self.region}"
                )
        if self.serving.mode == ON_DEMAND and not model.on_demand_serving:
            raise ValueError(
                f"serving.mode is on-demand, but custom {model.name} models cannot be served on demand: "
                "use provisioned (or none)"
            )
        return self

    @model_validator(mode="after")
    def _the_log_key_is_this_accounts(self) -> EnvironmentConfig:
        # The logs themselves must be in this account's buckets (s3:ResourceAccount in the role's
        # policy); a key of another account would let that account decide what the job reads.
        key = self.customization.invocation_log_key_arn
        if key and self.account is not None and key.split(":")[4] != self.account:
            raise ValueError(
                f"customization.invocationLogKeyArn: {key} is a key of account {key.split(':')[4]}, not of the "
                f"environment's account {self.account}: invocation logs are read from this account only"
            )
        return self

    @property
    def pinned(self) -> bool:
        return self.account is not None and self.region is not None

    def run_defaults(self) -> RunDefaults:
        """What every run of the environment starts from: its customization defaults and its
        cost ceiling (the pipeline, `tools validate --env` and `tools submit` use this one)."""
        return self.customization.run_defaults(
            cost_ceiling_usd=self.limits.cost_ceiling_usd,
            graders=self.graders.deployed,
            max_sweep_variants=self.limits.max_sweep_variants,
        )


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


def stack_id(environment: str, part: str) -> str:
    """`BedrockCustomization-dev-Pipeline`: the name of one of an environment's stacks."""
    return f"{PROJECT}-{environment}-{part}"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The context the CDK CLI would pass from `cdk.json`: feature flags and environments."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run the tools from a checkout of the project") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}): fix it, then try again"
        ) from None
    context = document.get("context") if isinstance(document, dict) else None
    if not isinstance(context, dict) or not isinstance(context.get("environments"), dict):
        raise ConfigError(f'{path}: expected an object "context" holding an object "environments"')
    return context
