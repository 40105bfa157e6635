"""The settings of one run: the environment's defaults, overridden by `job.json`.

`job.json` sits beside the training file (`datasets/<name>/job.json`). A key it does not
know is an error, not a silent no-op: a misspelt `hyperparameters` would otherwise train
with defaults.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from customization import invocation_logs, lineage
from customization.catalog import (
    CONTINUED_PRE_TRAINING,
    DISTILLATION,
    FINE_TUNING,
    REINFORCEMENT_FINE_TUNING,
    load_catalog,
)
from customization.serving import NONE, ON_DEMAND, ServingPlan
from customization.settings import SettingsError, as_json, json_value
from customization.validation import sweeps
from customization.validation.problems import ProblemLog
from customization.validation.records import lone_surrogate, show
from customization.validation.scanner import json_problem

JOB_FILE = "job.json"
CUSTOMIZATION_TYPES = (FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION, REINFORCEMENT_FINE_TUNING)
# botocore's TeacherModelConfig.maxResponseLengthForInference is a plain integer, its range
# undocumented (API reference, checked 2026-11-29); AWS's samples use 1,000 and 4,096. Bounded
# here so that a typo cannot make the teacher (billed per output token) write novels.
MAX_RESPONSE_LENGTH_RANGE = (1, 32_768)
MAX_VALIDATION_SPLIT = 0.5
# Settings nest two levels ({"hyperParameters": {"epochCount": "2"}}); deeper is a mistake,
# and refused before the checks quote it (a repr of a thousand nested lists would overflow).
MAX_JOB_DEPTH = 8
R_JOB = "job-settings"


@dataclass(frozen=True)
class JobSettings:
    base_model: str
    customization_type: str = FINE_TUNING
    hyperparameters: Mapping[str, object] = field(default_factory=dict)
    validation_split: float | None = None  # share of records held out when no validation file is given
    # The environment's serving mode, or "none" when job.json skips serving for this run.
    serving_mode: str | None = None
    # DISTILLATION: the teacher (a catalog teacher ID) and the longest answer asked of it.
    teacher_model: str | None = None
    max_response_length: int | None = None
    # REINFORCEMENT_FINE_TUNING: the name of one of the environment's deployed graders.
    grader: str | None = None
    # Re-fine-tuning: the run (or custom model ARN) job.json names as the base, and, once the
    # ValidateDataset step resolved it with Bedrock, the parent custom model's ARN: the job's
    # baseModelIdentifier (base_model is then the parent's foundation model).
    base_run: str | None = None
    parent_model: str | None = None
    # DISTILLATION from Bedrock invocation logs (customization.invocation_logs): job.json's
    # "invocationLogs" object; the prompts are then the logs', not the uploaded file's.
    invocation_logs: object = None
    # Hyperparameter sweep (validation.sweep): job.json's "sweep" as given, then its variants
    # (each the run's hyperparameters with one combination over them); keepSweepModels keeps
    # the losers' custom models.
    sweep: object = None
    keep_sweep_models: bool = False

    def as_dict(self) -> dict:
        method = {
            key: value
            for key, value in (
                ("teacherModel", self.teacher_model),
                ("maxResponseLengthForInference", self.max_response_length),
                ("grader", self.grader),
                ("baseRun", self.base_run),
                ("parentModel", self.parent_model),
                (invocation_logs.KEY, self.invocation_logs),
                ("sweep", self.sweep),
                ("keepSweepModels", self.keep_sweep_models or None),
            )
            if value is not None
        }
        return {
            "baseModel": self.base_model,
            "customizationType": self.customization_type,
            "hyperParameters": dict(self.hyperparameters),
            "validationSplit": self.validation_split,
            "servingMode": self.serving_mode,
            **method,
        }


@dataclass(frozen=True)
class RunDefaults:
    """The environment's defaults for every run (cdk.json `customization`), which a dataset's
    job.json overrides, and the base models a job.json may pick (the pipeline's IAM allows
    exactly these)."""

    settings: JobSettings
    allowed_base_models: tuple[str, ...]
    # limits.costCeilingUsd: a dataset whose training estimate is higher is refused at
    # validation, before it waits for a slot (and again before its job starts).
    cost_ceiling_usd: float | None = None
    # Distillation teachers a job.json may pick (customization.teacherModels: the customization
    # role may invoke exactly these); None outside an environment: any the catalog pairs.
    teacher_models: tuple[str, ...] | None = None
    # The graders the environment deploys, name -> module (cdk.json graders); None outside an
    # environment (`tools validate` without --env): the built-in ones.
    graders: Mapping[str, str] | None = None
    # Log prefixes a job.json invocationLogs may name (customization.invocationLogPrefixes);
    # None outside an environment: any well-formed prefix.
    invocation_log_prefixes: tuple[str, ...] | None = None
    # limits.maxSweepVariants; None outside an environment (`tools validate` without --env).
    max_sweep_variants: int | None = None

    def to_environment(self) -> dict[str, str]:
        settings = self.settings
        ceiling = {} if self.cost_ceiling_usd is None else {"COST_CEILING_USD": str(self.cost_ceiling_usd)}
        if self.max_sweep_variants is not None:
            ceiling["MAX_SWEEP_VARIANTS"] = str(self.max_sweep_variants)
        return {
            **ceiling,
            "TEACHER_MODELS": as_json(list(self.teacher_models or ())),
            "INVOCATION_LOG_PREFIXES": as_json(list(self.invocation_log_prefixes or ())),
            "DEPLOYED_GRADERS": as_json(dict(self.graders or {})),
            "DEFAULT_JOB_SETTINGS": as_json(
                {
                    "baseModel": settings.base_model,
                    "customizationType": settings.customization_type,
                    "hyperParameters": {name: str(value) for name, value in settings.hyperparameters.items()},
                    "validationSplit": settings.validation_split,
                }
            ),
            "ALLOWED_BASE_MODELS": as_json(list(self.allowed_base_models)),
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> RunDefaults:
        defaults = json_value(environ, "DEFAULT_JOB_SETTINGS")
        try:
            settings = JobSettings(
                base_model=defaults["baseModel"],
                customization_type=defaults.get("customizationType", FINE_TUNING),
                hyperparameters=defaults.get("hyperParameters", {}),
                validation_split=defaults.get("validationSplit"),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise SettingsError(f"DEFAULT_JOB_SETTINGS is malformed ({error!r}): redeploy the stack") from None
        ceiling = environ.get("COST_CEILING_USD")
        sweeps = environ.get("MAX_SWEEP_VARIANTS")
        return cls(
            max_sweep_variants=int(sweeps) if sweeps else None,
            settings=settings,
            allowed_base_models=tuple(json_value(environ, "ALLOWED_BASE_MODELS", [])),
            cost_ceiling_usd=float(ceiling) if ceiling else None,
            teacher_models=tuple(json_value(environ, "TEACHER_MODELS", [])),
            graders=dict(json_value(environ, "DEPLOYED_GRADERS", {})),
            invocation_log_prefixes=tuple(json_value(environ, "INVOCATION_LOG_PREFIXES", [])),
        )

    def available_graders(self) -> dict[str, str]:
        """name -> module of the graders a run may name."""
        if self.graders is not None:
            return dict(self.graders)
        from graders import BUILT_IN  # the functions' code asset holds both packages

        return dict(BUILT_IN)


_KEYS = {
    "baseModel": "base_model",
    "customizationType": "customization_type",
    "hyperParameters": "hyperparameters",
    "validationSplit": "validation_split",
    "serving": "serving_mode",
    "teacherModel": "teacher_model",
    "maxResponseLengthForInference": "max_response_length",
    "grader": "grader",
    invocation_logs.KEY: "invocation_logs",
    lineage.KEY: "base_run",
    "sweep": "sweep",
    "keepSweepModels": "keep_sweep_models",
}


def apply_job_file(defaults: JobSettings, text: str | None, log: ProblemLog, file: str = JOB_FILE) -> JobSettings:
    """`defaults` with the overrides of a `job.json` text; problems go to `log`."""
    if text is None:
        return check_settings(defaults, log, file="environment defaults")
    repeated: list[str] = []
    try:
        overrides = _job_decoder(repeated).decode(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as error:
        log.error(file, error.lineno, R_JOB, f"not valid JSON ({json_problem(error)})")
        return defaults
    except (ValueError, RecursionError) as error:
        log.error(file, None, R_JOB, f"not valid JSON ({json_problem(error)})")
        return defaults
    for key in repeated:
        log.warning(
            file, None, R_JOB, f"the key {show(key)} appears twice in one object: the last one is used; keep one"
        )
    try:
        overrides = _usable(overrides, "", log, file)
    except _TooDeep:
        log.error(file, None, R_JOB, f"nested more than {MAX_JOB_DEPTH} levels deep: settings take two at most")
        return defaults
    if not isinstance(overrides, dict):
        log.error(file, 1, R_JOB, 'must be one JSON object, e.g. {"baseModel": "amazon.nova-micro-v1:0:128k"}')
        return defaults
    changes = {}
    for key, value in overrides.items():
        if key not in _KEYS:
            log.error(file, None, R_JOB, f"unknown key {show(key)}; allowed: {', '.join(_KEYS)}")
        elif key == "serving":
            changes["serving_mode"] = _serving_mode(value, defaults.serving_mode, log, file)
        else:
            changes[_KEYS[key]] = value
    if "base_model" in changes and "base_run" in changes:
        # A re-fine-tuned run trains on its parent's model: a second base would contradict it.
        log.error(
            file,
            None,
            R_JOB,
            f"baseModel and {lineage.KEY} cannot both be set: a run that customizes an earlier run's model "
            f"trains on that model's base; remove baseModel",
        )
        del changes["base_model"]
    # Hyperparameters chosen for the default model and method rarely fit another one: a job
    # that picks its own model or method starts from that one's defaults.
    other_model = "base_model" in changes and changes["base_model"] != defaults.base_model
    other_method = "customization_type" in changes and changes["customization_type"] != defaults.customization_type
    if (other_model or other_method) and "hyperparameters" not in changes:
        changes["hyperparameters"] = {}
    elif isinstance(changes.get("hyperparameters"), Mapping) and not (other_model or other_method):
        changes["hyperparameters"] = {**defaults.hyperparameters, **changes["hyperparameters"]}
    return check_settings(replace(defaults, **changes), log, file=file)


def _job_decoder(repeated: list[str]) -> json.JSONDecoder:
    """A parser for job.json that lists the keys it finds twice in one object in `repeated`."""

    def pairs(items: list[tuple[str, object]]) -> dict:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen and key not in repeated:
                    repeated.append(key)
                seen.add(key)
        return obj

    return json.JSONDecoder(object_pairs_hook=pairs, parse_int=_int)


def _int(text: str) -> int | float:
    # int() refuses more than 4,300 digits, and float() of an int beyond a double's range raises
    # OverflowError in the checks; as infinity, it is refused as a number that is not finite.
    if len(text) > 300 and math.isinf(value := float(text)):
        return value
    return int(text)


class _TooDeep(Exception):
    pass


_DROP = object()


def _usable(value: object, path: str, log: ProblemLog, file: str, depth: int = 0) -> object:
    """`value` without the settings no check could read right, each reported at its path: a
    lone surrogate (not Unicode text), a number that is not finite (NaN, Infinity, 1e400)."""
    if depth > MAX_JOB_DEPTH:
        raise _TooDeep
    where = path or "the file"
    if isinstance(value, str):
        surrogate = lone_surrogate(value)
        if surrogate:
            log.error(
                file,
                None,
                R_JOB,
                f"{where} holds a lone surrogate \\u{ord(surrogate):04x}, which is not valid Unicode text: "
                "fix the escape",
            )
            return _DROP
    elif isinstance(value, float) and not math.isfinite(value):
        what = "NaN" if math.isnan(value) else "Infinity, or beyond the range of a JSON number (about 1.8e308)"
        log.error(file, None, R_JOB, f"{where} is {what}: write a finite number")
        return _DROP
    elif isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            surrogate = lone_surrogate(key)
            if surrogate:
                log.error(
                    file,
                    None,
                    R_JOB,
                    f"a key of {where} holds a lone surrogate \\u{ord(surrogate):04x}, which is not valid "
                    "Unicode text: fix the escape",
                )
                continue
            child = _usable(child, f"{path}.{key}" if path else key, log, file, depth + 1)
            if child is not _DROP:
                kept[key] = child
        return kept
    elif isinstance(value, list):
        items = (_usable(child, f"{path}[{index}]", log, file, depth + 1) for index, child in enumerate(value))
        return [item for item in items if item is not _DROP]
    return value


def _serving_mode(value: object, environment_mode: str | None, log: ProblemLog, file: str) -> str | None:
    """A run may skip serving, or take the environment's: the mode (and its IAM, quota and
    cost) is the environment's decision, so a dataset cannot ask for another one."""
    allowed = ["none"] if environment_mode in (None, "none") else ["none", environment_mode]
    mode = value.get("mode") if isinstance(value, dict) and value.keys() == {"mode"} else None
    if mode not in allowed:
        log.error(
            file,
            None,
            R_JOB,
            f'serving must be {{"mode": ...}} with mode {" or ".join(map(repr, allowed))} '
            f"(this environment serves with {environment_mode!r}), got {show(value)}",
        )
        return environment_mode
    return mode


def check_settings(settings: JobSettings, log: ProblemLog, *, file: str) -> JobSettings:
    if not isinstance(settings.base_model, str) or not settings.base_model:
        log.error(file, None, R_JOB, f"baseModel must be a model ID string, got {show(settings.base_model)}")
    if settings.customization_type not in CUSTOMIZATION_TYPES:
        log.error(
            file,
            None,
            R_JOB,
            f"customizationType {show(settings.customization_type)} is not one of {', '.join(CUSTOMIZATION_TYPES)}",
        )
    settings = _check_method_settings(settings, log, file)
    settings = sweeps.check_sweep_shape(settings, log, file)
    if settings.base_run is not None:
        problem = lineage.syntax_problem(settings.base_run)
        if problem:
            log.error(file, None, R_JOB, problem)
            settings = replace(settings, base_run=None)
    split = settings.validation_split
    if split is not None and (
        isinstance(split, bool) or not isinstance(split, int | float) or not 0 < split <= MAX_VALIDATION_SPLIT
    ):
        log.error(
            file,
            None,
            R_JOB,
            f"validationSplit must be a number above 0 and at most {MAX_VALIDATION_SPLIT} "
            f"(0.1 to 0.2 is usual), got {show(split)}",
        )
        settings = replace(settings, validation_split=None)
    return settings


def _check_method_settings(settings: JobSettings, log: ProblemLog, file: str) -> JobSettings:
    """teacherModel and maxResponseLengthForInference belong to distillation, grader to
    reinforcement fine-tuning: each is refused, one line, where the method does not take it."""
    kind = settings.customization_type
    for key, value, method in (
        ("teacherModel", settings.teacher_model, DISTILLATION),
        ("maxResponseLengthForInference", settings.max_response_length, DISTILLATION),
        ("grader", settings.grader, REINFORCEMENT_FINE_TUNING),
        (invocation_logs.KEY, settings.invocation_logs, DISTILLATION),
    ):
        if value is not None and kind != method:
            log.error(file, None, R_JOB, f"{key} is for customizationType {method} only; this run is {show(kind)}")
    if kind == DISTILLATION and not isinstance(settings.teacher_model, str):
        log.error(
            file,
            None,
            R_JOB,
            f'teacherModel must name the distillation teacher, e.g. "amazon.nova-pro-v1:0", got '
            f"{show(settings.teacher_model)}",
        )
        # A teacher that is not a model ID is no teacher: the checks after this one look it up.
        settings = replace(settings, teacher_model=None)
    length, (low, high) = settings.max_response_length, MAX_RESPONSE_LENGTH_RANGE
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or not low <= length <= high):
        log.error(
            file,
            None,
            R_JOB,
            f"maxResponseLengthForInference must be a whole number of tokens from {low} to {high:,}, got {show(length)}",
        )
        settings = replace(settings, max_response_length=None)
    if kind == REINFORCEMENT_FINE_TUNING and not isinstance(settings.grader, str):
        log.error(
            file,
            None,
            R_JOB,
            f'grader must name the reward function that scores the answers, e.g. "exact-match", got '
            f"{show(settings.grader)}",
        )
        settings = replace(settings, grader=None)
    return settings


@dataclass(frozen=True)
class ResolvedRun:
    """A run's settings as the pipeline will use them, and where they came from (for problems)."""

    settings: JobSettings
    serving: ServingPlan
    origin: str
    parent: lineage.Parent | None = None  # the custom model a re-fine-tuning run trains on


# job.json holds a handful of settings: anything larger is a mistake (a dataset saved under the
# wrong name), refused without being read whole.
JOB_FILE_MAX_BYTES = 65_536


def read_job_file(stream: Any) -> bytes:
    """At most JOB_FILE_MAX_BYTES + 1 bytes of a job.json (a file object or S3 body): enough to
    tell a settings file from one too large to be one."""
    return stream.read(JOB_FILE_MAX_BYTES + 1)


def _sets(job_text: str | None, key: str) -> bool:
    """Whether the job.json text sets `key` at its top level."""
    if job_text is None:
        return False
    try:
        document = json.loads(job_text)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and key in document


def resolve_run(
    defaults: RunDefaults,
    serving: ServingPlan,
    job: bytes | None,
    log: ProblemLog,
    *,
    job_file: str,
    defaults_origin: str = "environment defaults",
    parents: Callable[[str], lineage.Parent] | None = None,
) -> ResolvedRun:
    """The environment's defaults with a dataset's job.json (`job`, its bytes, or None) applied,
    checked the way the pipeline checks them: the same code in the ValidateDataset step,
    `tools submit` and `tools validate --env`, so what passes here passes there.

    `parents` resolves a job.json `baseRun` with Bedrock (the ValidateDataset step passes
    `lineage.resolve_parent`); without it (offline) only its syntax is checked."""
    text = None
    if job is not None and len(job) > JOB_FILE_MAX_BYTES:
        log.error(
            job_file,
            None,
            R_JOB,
            f"larger than {JOB_FILE_MAX_BYTES:,} bytes: job.json holds a few settings only (is it a dataset saved "
            "under the wrong name?)",
        )
        job = None
    if job is not None:
        try:
            text = job.decode("utf-8")
        except UnicodeDecodeError as error:
            log.error(job_file, None, R_JOB, f"not UTF-8 ({error.reason} at byte {error.start}): save it as UTF-8")
    base = replace(defaults.settings, serving_mode=defaults.settings.serving_mode or serving.mode)
    settings = apply_job_file(base, text, log, file=job_file)
    if settings.serving_mode == NONE:
        serving = replace(serving, mode=NONE)
    origin = job_file if text is not None else defaults_origin
    allowed = defaults.allowed_base_models
    parent = None
    if settings.base_run is not None and parents is not None:
        parent, settings = _resolve_parent(defaults, settings, text, parents, log, origin)
        if parent is None:
            return ResolvedRun(settings=settings, serving=serving, origin=origin)
    elif allowed and settings.base_model not in allowed:
        log.error(
            origin,
            None,
            "base-model",
            f"baseModel {show(settings.base_model)} is not allowed in this environment (allowed: "
            f"{', '.join(allowed)}): add it to customization.otherBaseModels in cdk.json",
        )
    _check_method_choices(defaults, settings, log, origin)
    model = load_catalog().models.get(settings.base_model) if isinstance(settings.base_model, str) else None
    kind = settings.customization_type if isinstance(settings.customization_type, str) else FINE_TUNING
    if (
        model is not None
        and settings.validation_split
        and not model.validation_supported_for(kind)
        and not _sets(text, "validationSplit")
    ):
        # The environment's default split is for models that take validation data; asked of
        # one that does not, it is left out, not an error the dataset cannot fix. A fine-tuning
        # run is told (its model differs from the usual); distillation and RFT take none by
        # design, so telling every such run would only be noise.
        if kind == FINE_TUNING:
            log.warning(
                origin,
                None,
                "validation-data",
                f"validationSplit: the environment's default ({settings.validation_split:g}) is not applied: "
                f"{model.name} takes no validation data{_for_method(kind)}, so every record trains",
            )
        settings = replace(settings, validation_split=None)
    if model is not None and serving.mode == ON_DEMAND and not model.on_demand_serving:
        log.error(
            origin,
            None,
            "serving",
            f"serving on demand was asked for, which {model.name} does not support: pick a model that does "
            "(Amazon Nova), or serve with provisioned throughput or none (serving.mode in cdk.json, "
            "--serving on the command line)",
        )
    return ResolvedRun(settings=settings, serving=serving, origin=origin, parent=parent)


def _resolve_parent(
    defaults: RunDefaults,
    settings: JobSettings,
    text: str | None,
    parents: Callable[[str], lineage.Parent],
    log: ProblemLog,
    origin: str,
) -> tuple[lineage.Parent | None, JobSettings]:
    """The parent baseRun names, checked against what this environment allows and what the
    catalog says Bedrock allows; the run's settings then train on top of it. (None, settings)
    after one error line naming the parent and what to do."""
    where = f"{lineage.KEY} {settings.base_run!r}"
    try:
        parent = parents(settings.base_run)
    except lineage.ParentProblem as problem:
        log.error(origin, None, "base-run", str(problem))
        return None, settings
    allowed = defaults.allowed_base_models
    model = load_catalog().models.get(parent.foundation_model)
    problem = None
    if model is None:
        problem = f"its base model {parent.foundation_model!r} is not in the catalog: customize a catalog model's run"
    elif allowed and model.id not in allowed:
        problem = (
            f"its base model {model.id} is not allowed in this environment (allowed: {', '.join(allowed)}): "
            "add it to customization.otherBaseModels in cdk.json"
        )
    else:
        kind = settings.customization_type if isinstance(settings.customization_type, str) else FINE_TUNING
        reason = model.recustomization.problem(model.name, kind, parent.customization_type)
        if reason:
            problem = f"{reason}: train on {model.id} instead (remove {lineage.KEY})"
    if problem:
        log.error(origin, None, "base-run", f"{where} ({parent.arn}): {problem}")
        return None, settings
    changes: dict[str, Any] = {"base_model": model.id, "parent_model": parent.arn}
    if model.id != settings.base_model:
        # As for a job.json that picks another model: the environment's hyperparameters were
        # chosen for its own model; only the job's own apply.
        document = json.loads(text.removeprefix("\ufeff")) if text else {}
        own = document.get("hyperParameters") if isinstance(document, dict) else None
        changes["hyperparameters"] = dict(own) if isinstance(own, Mapping) else {}
    return parent, replace(settings, **changes)


def _check_method_choices(defaults: RunDefaults, settings: JobSettings, log: ProblemLog, origin: str) -> None:
    """The teacher and the grader a run names must be the environment's: its IAM lets the
    customization role invoke exactly those (cdk.json customization.teacherModels, graders)."""
    teacher, allowed = settings.teacher_model, defaults.teacher_models
    in_environment = allowed is not None
    if (
        settings.customization_type == DISTILLATION
        and isinstance(teacher, str)
        and in_environment
        and teacher not in allowed
    ):
        where = f"allowed: {', '.join(allowed)}" if allowed else "it allows none"
        log.error(
            origin,
            None,
            "teacher-model",
            f"teacherModel {show(teacher)} is not allowed in this environment ({where}): add it to "
            "customization.teacherModels in cdk.json",
        )
    if settings.customization_type == DISTILLATION and settings.invocation_logs is not None:
        # The environment's prefixes only: the customization role may read exactly those.
        for problem in invocation_logs.settings_problems(settings.invocation_logs, defaults.invocation_log_prefixes):
            log.error(origin, None, "invocation-logs", problem)
    grader = settings.grader
    if settings.customization_type == REINFORCEMENT_FINE_TUNING and isinstance(grader, str):
        deployed = defaults.available_graders()
        if grader not in deployed:
            known = ", ".join(sorted(deployed)) or "none"
            log.error(
                origin,
                None,
                "grader",
                f"grader {show(grader)} is not deployed in this environment (deployed: {known}): add it to "
                "graders.builtIn or graders.modules in cdk.json",
            )


def _for_method(kind: str) -> str:
    """` for DISTILLATION`: said of the methods whose rules differ from the model's own."""
    return "" if kind in (FINE_TUNING, CONTINUED_PRE_TRAINING) else f" for {kind}"
