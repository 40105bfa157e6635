"""Checking one dataset (training file, optional validation file, settings) end to end.

`check_dataset` is what the CLI (`python -m tools validate`) and the pipeline's first step
(the ValidateDataset Lambda) both call; `write_prepared` then writes the files Bedrock
will read, when they differ from the upload (plain text converted, a validation split).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Protocol

from customization import invocation_logs
from customization.catalog import (
    DISTILLATION,
    INPUT_TEXT,
    REINFORCEMENT_FINE_TUNING,
    Catalog,
    ModelSpec,
    UnknownModelError,
    load_catalog,
)
from customization.cost import CostEstimate, estimate_cost, estimate_from_logs
from customization.serving import ServingPlan
from customization.validation import sweeps
from customization.validation.hyperparameters import CheckedHyperparameters, check_hyperparameters
from customization.validation.jobspec import JobSettings
from customization.validation.prepare import SplitPlan, plan_split, text_to_input_records, write_lines, write_split
from customization.validation.problems import ProblemLog
from customization.validation.scanner import DatasetScanner, FileScan, iter_lines, max_line_bytes, read_chunks

R_MODEL = "base-model"
R_LIFECYCLE = "model-lifecycle"
R_TYPE = "customization-type"
R_HYPERPARAMETER = "hyperparameter"
R_RECORDS = "record-count"
R_SIZE = "file-size"
R_VALIDATION = "validation-data"
R_PLAIN_TEXT = "plain-text"
R_COST = "cost-ceiling"
R_TEACHER = "teacher-model"
R_GRADER = "grader"


class Source(Protocol):
    """A file to read, possibly twice (the split writes in a second pass)."""

    name: str

    def chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class LocalFile:
    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as stream:
            yield from read_chunks(stream)


@dataclass
class DatasetCheck:
    settings: JobSettings
    log: ProblemLog
    model: ModelSpec | None = None
    data_format: str | None = None
    token_limit: int | None = None
    train: FileScan | None = None
    validation: FileScan | None = None
    hyperparameters: dict[str, str] = field(default_factory=dict)
    split: SplitPlan | None = None
    cost: CostEstimate | None = None
    # A sweep's variants: {"index", "sweep", "hyperParameters", "trainingUsd"} each (validation.sweeps).
    variants: list[dict] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.log.error_count == 0

    @property
    def train_records(self) -> int:
        if self.split:
            return self.split.train_records
        return self.train.records if self.train else 0

    @property
    def validation_records(self) -> int:
        if self.split:
            return self.split.validation_records
        return self.validation.records if self.validation else 0

    @property
    def needs_prepared_files(self) -> bool:
        """Bedrock cannot read the upload as it is: it is plain text, or a split is due."""
        return (self.data_format == INPUT_TEXT and self.train is not None and _is_plain_text(self.train.name)) or bool(
            self.split
        )

    def summary(self) -> dict:
        """The machine-readable result: what the CLI's --json and the Lambda return."""
        return {
            "valid": self.valid,
            "baseModel": self.settings.base_model,
            "customizationType": self.settings.customization_type,
            "dataFormat": self.data_format,
            "tokenLimitPerRecord": self.token_limit,
            "hyperParameters": self.hyperparameters,
            "records": {"train": self.train_records, "validation": self.validation_records},
            "tokens": {
                "train": self.train.tokens if self.train else 0,
                "validation": self.validation.tokens if self.validation else 0,
                "largestRecord": max((s.max_record_tokens for s in (self.train, self.validation) if s), default=0),
            },
            "validationSplit": None
            if not self.split
            else {"ratio": self.split.ratio, "validationRecords": self.split.validation_records},
            "errors": self.log.error_count,
            "warnings": self.log.warning_count,
            "problemsByRule": {**self.log.errors_by_rule, **self.log.warnings_by_rule},
            "problems": [problem.as_dict() for problem in self.log.problems],
            "problemsNotShown": self.log.truncated,
            "cost": self.cost.as_dict() if self.cost else None,
            **({"variants": self.variants} if self.variants else {}),
        }


def check_dataset(
    train: Source,
    settings: JobSettings,
    *,
    log: ProblemLog | None = None,
    validation: Source | None = None,
    settings_origin: str = "settings",
    dataset_bucket: str | None = None,
    serving: ServingPlan | None = None,
    catalog: Catalog | None = None,
    today: dt.date | None = None,
    cost_ceiling_usd: float | None = None,
    graders: Mapping[str, str] | None = None,
    max_sweep_variants: int | None = None,
) -> DatasetCheck:
    """Check `train` (and `validation`) for `settings`; `graders` (name -> module, the
    environment's deployed ones; None: the built-in ones) are where a reinforcement fine-tuning
    run's grader is found, to check every record has what it needs."""
    log = log or ProblemLog()
    result = DatasetCheck(settings=settings, log=log)
    for key, value in (("baseModel", settings.base_model), ("customizationType", settings.customization_type)):
        if not isinstance(value, str):
            # From a job.json: the catalog's look-ups take strings only.
            log.error(settings_origin, None, R_MODEL if key == "baseModel" else R_TYPE, f"{key} must be a string")
            return result
    try:
        model = (catalog or load_catalog()).model(settings.base_model)
    except UnknownModelError as error:
        log.error(settings_origin, None, R_MODEL, f"baseModel: {error}")
        return result
    result.model = model
    offered = bool((catalog or load_catalog()).current_models(settings.customization_type, today))
    ended = model.lifecycle_problem(today, offered_elsewhere=offered)
    legacy = model.lifecycle_warning(today)
    if ended and not offered:
        ended += (
            f"; no current Bedrock model offers {settings.customization_type}: fine-tune a current model on "
            "records instead (see the README's model table)"
        )
    if ended:
        log.error(settings_origin, None, R_LIFECYCLE, f"baseModel: {ended}")
    elif legacy:
        log.warning(settings_origin, None, R_LIFECYCLE, f"baseModel: {legacy}")
    data_format = model.data_formats.get(settings.customization_type)
    if data_format is None:
        log.error(
            settings_origin,
            None,
            R_TYPE,
            f"customizationType: {model.name} supports {', '.join(model.customization_types)}, "
            f"not {settings.customization_type}",
        )
        return result
    result.data_format = data_format
    kind = settings.customization_type
    if kind == DISTILLATION and isinstance(settings.teacher_model, str):
        problem = (catalog or load_catalog()).teacher_problem(settings.teacher_model, model.id)
        if problem:
            log.error(settings_origin, None, R_TEACHER, problem)
    record_check = _grader_check(settings, graders, log, settings_origin) if kind == REINFORCEMENT_FINE_TUNING else None

    checked = check_hyperparameters(settings.hyperparameters, model, settings.customization_type)
    for problem in checked.problems:
        log.error(settings_origin, None, R_HYPERPARAMETER, f"hyperParameters.{problem.key}: {problem.message}")
    for problem in checked.warnings:
        log.warning(settings_origin, None, R_HYPERPARAMETER, f"hyperParameters.{problem.key}: {problem.message}")
    result.hyperparameters = checked.values
    accepted = model.hyperparameters_for(settings.customization_type)
    variant_checks = _check_variants(settings, model, log, settings_origin, max_sweep_variants)
    batch_size = checked.number("batchSize", accepted.get("batchSize"))
    result.token_limit = model.token_limit(int(batch_size) if batch_size else None)

    if kind == DISTILLATION and settings.invocation_logs is not None:
        _check_from_logs(result, train, validation, serving, cost_ceiling_usd, settings_origin, checked, accepted)
        return result
    if _is_plain_text(train.name) and data_format != INPUT_TEXT:
        log.error(
            train.name,
            None,
            R_PLAIN_TEXT,
            f"plain text is for continued pre-training; {settings.customization_type} on {model.name} "
            "needs a .jsonl file of records",
        )
        return result
    scanner = DatasetScanner(
        model,
        data_format,
        log,
        token_limit=result.token_limit,
        dataset_bucket=dataset_bucket,
        record_check=record_check,
    )
    result.train = scanner.scan(train.name, training_lines(train, result))
    _check_size(log, result.train, model.train_file_bytes, "training")

    if validation is not None:
        if not model.validation_supported_for(kind):
            log.error(
                validation.name, None, R_VALIDATION, f"{model.name} takes no validation data for {kind}: drop this file"
            )
        lines = iter_lines(validation.chunks(), scanner.max_line_bytes)
        result.validation = scanner.scan(validation.name, lines, is_validation=True)
        _check_size(log, result.validation, model.validation_file_bytes, "validation")
    elif settings.validation_split:
        if model.validation_supported_for(kind):
            result.split = plan_split(result.train.split_keys, settings.validation_split)
        else:
            log.error(
                settings_origin,
                None,
                R_VALIDATION,
                f"validationSplit: {model.name} takes no validation data for {kind}",
            )

    _check_record_counts(log, result, train.name)
    epochs = checked.number("epochCount", accepted.get("epochCount")) or 1
    share = result.train_records / result.train.records if result.train.records else 0
    result.cost = estimate_cost(
        model,
        round(result.train.tokens * share),
        epochs,
        serving or ServingPlan(),
        customization_type=kind,
        prompts=result.train_records,
        teacher=(catalog or load_catalog()).teachers.get(settings.teacher_model) if kind == DISTILLATION else None,
        max_response_length=settings.max_response_length,
    )
    if variant_checks:
        result.variants, result.cost = _variant_costs(variant_checks, accepted, result.cost, model, serving)
    training_usd = result.cost.training_usd
    if training_usd is not None and result.cost.teacher_usd is not None:
        training_usd += result.cost.teacher_usd  # distillation: the teacher's answers are part of the run
    if cost_ceiling_usd is not None and training_usd is not None and training_usd > cost_ceiling_usd:
        log.error(
            settings_origin,
            None,
            R_COST,
            f"estimated training cost ${training_usd:,.2f}"
            + (f" (the sweep's {len(result.variants)} variants together)" if result.variants else "")
            + f" is above this environment's ceiling ${cost_ceiling_usd:,.2f}: "
            + ("drop variants, " if result.variants else "")
            + "reduce records or epochs, or raise limits.costCeilingUsd in cdk.json",
        )
    return result


def _check_from_logs(
    result: DatasetCheck,
    train: Source,
    validation: Source | None,
    serving: ServingPlan | None,
    cost_ceiling_usd: float | None,
    origin: str,
    checked,
    accepted,
) -> None:
    """Distillation whose prompts come from invocation logs: the uploaded file only starts the
    run, and must be empty (two sources of prompts would leave one silently unused); the cost is
    unknown, and its bound is held to the ceiling."""
    log, model, settings = result.log, result.model, result.settings
    if any(chunk.strip() for chunk in train.chunks()):
        log.error(
            train.name,
            None,
            R_RECORDS,
            f"job.json takes the prompts from {invocation_logs.KEY}, so this file must be empty (it only starts the "
            f"run): empty it, or drop {invocation_logs.KEY} to train on its records",
        )
    if validation is not None:
        log.error(
            validation.name,
            None,
            R_VALIDATION,
            f"distillation from {invocation_logs.KEY} takes no validation file: drop it",
        )
    result.train = FileScan(name=train.name)
    max_prompts = model.records_for(DISTILLATION).train_max or invocation_logs.MAX_PROMPTS
    teacher = settings.teacher_model if isinstance(settings.teacher_model, str) else None
    result.cost = estimate_from_logs(
        model,
        checked.number("epochCount", accepted.get("epochCount")) or 1,
        serving or ServingPlan(),
        max_prompts=max_prompts,
        teacher=load_catalog().teachers.get(teacher) if teacher else None,
        max_response_length=settings.max_response_length,
    )
    bound = result.cost.upper_bound_usd
    if cost_ceiling_usd is not None and bound is not None and bound > cost_ceiling_usd:
        log.error(
            origin,
            None,
            R_COST,
            f"the prompts come from invocation logs, so the cost is known only once the job read them; at most "
            f"{max_prompts:,} prompts it may be ${bound:,.2f}, above this environment's ceiling "
            f"${cost_ceiling_usd:,.2f}: lower maxResponseLengthForInference, or raise limits.costCeilingUsd in cdk.json",
        )


def _grader_check(
    settings: JobSettings, graders: Mapping[str, str] | None, log: ProblemLog, origin: str
) -> Callable[[dict], str | None] | None:
    """The grader's own check of a record (graders.record_problem), or None where the grader
    cannot be loaded (an undeployed name is refused where the run's settings are resolved)."""
    from graders import BUILT_IN, UnknownGrader, load_grader, record_problem

    if not isinstance(settings.grader, str):
        return None
    available = dict(BUILT_IN) if graders is None else dict(graders)
    if settings.grader not in available:
        return None
    extra = {name: module for name, module in available.items() if name not in BUILT_IN}
    try:
        module = load_grader(settings.grader, extra)
    except UnknownGrader as error:
        log.error(origin, None, R_GRADER, str(error))
        return None
    return lambda record: record_problem(module, record)


def training_lines(train: Source, result: DatasetCheck) -> Iterator[tuple[int, bytes]]:
    """The training records as Bedrock will get them (plain text converted to records).

    Lines are read with a bound (see `max_line_bytes`): one too long for any record is
    reported, never held whole, however long it is.
    """
    lines = iter_lines(train.chunks(), max_line_bytes(result.token_limit))
    if _is_plain_text(train.name):
        return text_to_input_records(lines, result.token_limit, log=result.log, file=train.name)
    return lines


def write_prepared(
    result: DatasetCheck, train: Source, train_out: BinaryIO, validation_out: BinaryIO | None = None
) -> None:
    """Write the prepared training (and split validation) records; only for a valid result."""
    if not result.valid:
        raise ValueError("refusing to prepare an invalid dataset")
    lines = training_lines(train, result)
    if result.split:
        if validation_out is None:
            raise ValueError("a split needs a validation output")
        write_split(lines, result.split, train_out, validation_out)
    else:
        write_lines(lines, train_out)


def _is_plain_text(name: str) -> bool:
    return name.lower().endswith(".txt")


def _check_size(log: ProblemLog, scan: FileScan, limit: int | None, role: str) -> None:
    if limit is not None and scan.bytes > limit:
        log.error(
            scan.name,
            None,
            R_SIZE,
            f"{scan.bytes:,} bytes; a {role} file may have at most {limit:,}: drop or shorten records",
        )


def _check_record_counts(log: ProblemLog, result: DatasetCheck, train_name: str) -> None:
    model = result.model
    bounds = model.records_for(result.settings.customization_type)
    train, validation = result.train_records, result.validation_records
    where = result.validation.name if result.validation else train_name
    if result.train.records == 0 and result.log.error_count == 0:
        log.error(train_name, None, R_RECORDS, "no records: the file is empty")
        return
    split_note = f" after holding out {validation} for validation" if result.split else ""
    if bounds.train_min is not None and train < bounds.train_min:
        log.error(
            train_name,
            None,
            R_RECORDS,
            f"{train:,} training records{split_note}; {_method(result)} needs at least {bounds.train_min:,}",
        )
    if bounds.train_max is not None and train > bounds.train_max:
        log.error(
            train_name,
            None,
            R_RECORDS,
            f"{train:,} training records{split_note}; {_method(result)} takes at most "
            f"{bounds.train_max:,}: drop some{'' if result.settings.customization_type in _FIXED_LIMITS else ' or ask for a quota increase'}",
        )
    if validation and bounds.validation_max is not None and validation > bounds.validation_max:
        log.error(
            where,
            None,
            R_RECORDS,
            f"{validation:,} validation records; {model.name} takes at most {bounds.validation_max:,}",
        )
    if validation and bounds.validation_min is not None and validation < bounds.validation_min:
        log.error(
            where,
            None,
            R_RECORDS,
            f"{validation:,} validation records; {model.name} needs at least {bounds.validation_min:,}",
        )
    if bounds.combined_max is not None and train + validation > bounds.combined_max:
        log.error(
            train_name,
            None,
            R_RECORDS,
            f"{train + validation:,} training and validation records together; "
            f"{model.name} takes at most {bounds.combined_max:,}",
        )


# Methods whose record limits are fixed by AWS's pages, not a Service Quotas value.
_FIXED_LIMITS = (DISTILLATION, REINFORCEMENT_FINE_TUNING)


def _method(result: DatasetCheck) -> str:
    """`Amazon Nova Micro`, or `REINFORCEMENT_FINE_TUNING on Amazon Nova 2 Lite` for a method
    with limits of its own."""
    kind = result.settings.customization_type
    return f"{kind} on {result.model.name}" if kind in _FIXED_LIMITS else result.model.name


def _check_variants(
    settings: JobSettings, model: ModelSpec, log: ProblemLog, origin: str, limit: int | None
) -> list[tuple[dict, CheckedHyperparameters]]:
    """Each sweep variant's hyperparameters (the run's, with the variant's over them), checked
    like the run's own; problems name the variant. Empty when there is no sweep to run."""
    combinations = settings.sweep
    if not combinations:
        return []
    if not sweeps.check_variant_count(len(combinations), limit, log, origin):
        return []
    duplicate = sweeps.duplicate_problem(combinations)
    if duplicate:
        log.error(origin, None, sweeps.R_SWEEP, duplicate)
        return []
    checked = []
    # One line per problem, naming the variants that have it (an unknown name is in every one).
    problems: dict[tuple[str, str], list[tuple[int, dict]]] = {}
    for number, combination in enumerate(combinations, 1):
        merged = {**(settings.hyperparameters or {}), **combination}
        variant = check_hyperparameters(merged, model, settings.customization_type)
        for problem in variant.problems:
            if problem.key in combination:
                problems.setdefault((problem.key, problem.message), []).append((number, combination))
        checked.append((combination, variant))
    for (key, message), where in problems.items():
        numbers = ", ".join(str(number) for number, _ in where)
        which = (
            f"sweep variant {numbers} ({sweeps.describe(where[0][1])})"
            if len(where) == 1
            else f"sweep variants {numbers}"
        )
        log.error(origin, None, sweeps.R_SWEEP, f"{which}: {key}: {message}")
    return checked if all(variant.ok for _, variant in checked) else []


def _variant_costs(
    checks: list[tuple[dict, CheckedHyperparameters]],
    accepted: Mapping,
    single: CostEstimate,
    model: ModelSpec,
    serving: ServingPlan | None,
) -> tuple[list[dict], CostEstimate]:
    """The variants as the run carries them, and the run's estimate: every variant's training
    together (each is a job over the same tokens, for its own epochs)."""
    variants: list[dict] = []
    total: float | None = 0.0
    epochs = 0.0
    for number, (combination, checked) in enumerate(checks, 1):
        variant_epochs = checked.number("epochCount", accepted.get("epochCount")) or 1
        cost = estimate_cost(model, single.training_tokens, variant_epochs, serving or ServingPlan())
        variants.append(
            {
                "index": number,
                "sweep": {name: checked.values.get(name, str(value)) for name, value in combination.items()},
                "hyperParameters": checked.values,
                "trainingUsd": cost.training_usd,
            }
        )
        epochs += variant_epochs
        total = None if total is None or cost.training_usd is None else total + cost.training_usd
    note = f"sweep of {len(variants)} variants: the sum of their training estimates ({epochs:g} epochs in all)"
    total = round(total, 2) if total is not None else None
    return variants, replace(single, training_usd=total, epochs=epochs, notes=(*single.notes, note))
