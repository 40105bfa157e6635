"""The customizable base models, read from `catalog.json` (dated, each value with a source).

The data lives in JSON rather than code so that a reviewer can check a limit or a price
against its source page in one place, and so that updating it is a data change.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CATALOG_FILE = Path(__file__).with_name("catalog.json")

FINE_TUNING = "FINE_TUNING"
CONTINUED_PRE_TRAINING = "CONTINUED_PRE_TRAINING"
DISTILLATION = "DISTILLATION"
REINFORCEMENT_FINE_TUNING = "REINFORCEMENT_FINE_TUNING"

# Data formats (see BEDROCK.md, "Data formats").
BEDROCK_CONVERSATION = "bedrock-conversation"
CLAUDE_MESSAGES = "claude-messages"
PROMPT_COMPLETION = "prompt-completion"
INPUT_TEXT = "input-text"
# Distillation: bedrock-conversation-2024 records whose assistant turn is optional (the teacher
# answers the prompts that have none).
DISTILLATION_PROMPTS = "distillation-prompts"
# Reinforcement fine-tuning: OpenAI chat-completions prompts with reference_answer and the
# fields the grader reads.
RFT_PROMPTS = "rft-prompts"


ACTIVE, LEGACY, END_OF_LIFE = "active", "legacy", "end-of-life"


class UnknownModelError(ValueError):
    pass


@dataclass(frozen=True)
class Lifecycle:
    """Where the model is in AWS's lifecycle, as of `checked`, from `source`."""

    status: str  # ACTIVE, LEGACY or END_OF_LIFE
    legacy_date: dt.date | None
    end_of_life_date: dt.date | None
    replacement: str | None
    source: str
    checked: str

    def ended(self, today: dt.date) -> bool:
        """Past its end of life: Bedrock refuses new jobs on it (and requests to it)."""
        return self.status == END_OF_LIFE or (self.end_of_life_date is not None and self.end_of_life_date <= today)


@dataclass(frozen=True)
class HyperparameterSpec:
    name: str
    type: str  # "int", "float" or "enum"
    minimum: float | None
    maximum: float | None  # None: no upper bound is documented
    default: float | None  # None: AWS publishes none (Bedrock's own applies)
    customization_types: tuple[str, ...] | None = None
    choices: tuple[str, ...] = ()  # "enum" only

    def applies_to(self, customization_type: str) -> bool:
        return self.customization_types is None or customization_type in self.customization_types

    def describe(self) -> str:
        if self.type == "enum":
            allowed = " | ".join(self.choices)
        elif self.maximum is None:
            allowed = f"at least {_number(self.minimum)}"
        else:
            allowed = f"{_number(self.minimum)} to {_number(self.maximum)}"
        return allowed + ("" if self.default is None else f", default {_number(self.default)}")


@dataclass(frozen=True)
class RecordBounds:
    train_min: int | None
    train_max: int | None
    validation_min: int | None
    validation_max: int | None
    combined_max: int | None


@dataclass(frozen=True)
class MediaRules:
    images: bool
    video: bool
    max_images_per_record: int | None
    image_formats: tuple[str, ...]
    video_formats: tuple[str, ...]


@dataclass(frozen=True)
class Prices:
    training_per_1k_tokens: float | None
    storage_per_month: float | None
    provisioned_per_hour_per_unit: dict[str, float | None]
    on_demand_per_1k_input_tokens: float | None
    on_demand_per_1k_output_tokens: float | None
    # What one model unit of provisioned throughput serves ("input", "output" tokens per
    # minute); None where AWS publishes no figure (it tells account managers, not the docs).
    provisioned_tokens_per_minute_per_unit: dict[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Invocation:
    """How the base model is called at inference time (the evaluation compares against it)."""

    api: str  # "converse"
    base_model_id: str  # the on-demand model ID: no context suffix
    inference_profile: str | None  # a geography prefix ("us") where the model needs a profile
    system_prompts: bool  # Converse takes a system prompt for this model

    @property
    def model_id(self) -> str:
        """The modelId to send: `us.meta.llama3-2-1b-instruct-v1:0` or `amazon.nova-micro-v1:0`."""
        return f"{self.inference_profile}.{self.base_model_id}" if self.inference_profile else self.base_model_id


@dataclass(frozen=True)
class MethodSpec:
    """What one customization type changes for a model: its records' bounds, whether it takes
    validation data, its hyperparameters (None: the model's own apply), with the page read."""

    data_format: str
    records: RecordBounds | None = None
    validation_supported: bool | None = None
    hyperparameters: dict[str, HyperparameterSpec] | None = None
    single_turn: bool = False  # distillation of Llama (and Anthropic): one user prompt a record
    source: str | None = None
    checked: str | None = None


@dataclass(frozen=True)
class TeacherSpec:
    """A model that teaches students by distillation, in one Region (catalog `distillation`)."""

    id: str
    name: str
    region: str
    inference_profile: str | None  # "us": invoked only through the cross-Region profile us.<id>
    students: tuple[str, ...]
    on_demand_per_1k_output_tokens: float | None

    @property
    def invocation_id(self) -> str:
        """What a job names as the teacher: the model ID, or the profile's ID where it needs one."""
        return f"{self.inference_profile}.{self.id}" if self.inference_profile else self.id


@dataclass(frozen=True)
class Recustomization:
    """Whether a custom model of this base model can be customized again (its ARN as the next
    job's baseModelIdentifier): the methods the next job may use, and the methods the parent
    must have been made by, with the page read. Empty where no page says Bedrock allows it."""

    methods: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    source: str | None = None
    checked: str | None = None

    def problem(self, model_name: str, customization_type: str, parent_type: str | None) -> str | None:
        """Why a `customization_type` job cannot start from a custom model of this base made by
        `parent_type`; None when it can."""
        source = f"(source: {self.source}, checked {self.checked})" if self.source else "(no source found)"
        if customization_type not in self.methods:
            allowed = ", ".join(self.methods) or "none"
            return (
                f"{model_name}: a custom model cannot be customized again by {customization_type} "
                f"(allowed: {allowed}) {source}"
            )
        if parent_type not in self.parents:
            return (
                f"{model_name}: a custom model made by {parent_type} cannot be customized again "
                f"(parents allowed: {', '.join(self.parents) or 'none'}) {source}"
            )
        return None


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    family: str
    regions: tuple[str, ...]
    data_formats: dict[str, str]  # customization type -> data format
    records: RecordBounds
    tokens_per_record: tuple[tuple[int | None, int], ...]  # (largest batch size, limit), ascending
    train_file_bytes: int | None
    validation_file_bytes: int | None
    validation_supported: bool
    media: MediaRules
    on_demand_serving: bool
    invocation: Invocation
    # None where AWS publishes no names or ranges: values are then passed on unchecked.
    hyperparameters: dict[str, HyperparameterSpec] | None
    prices: Prices
    sources: dict[str, str]
    lifecycle: Lifecycle
    reasoning_content: bool = False  # assistant turns may carry reasoningContent (Nova 2)
    methods: dict[str, MethodSpec] = field(default_factory=dict)  # customization type -> its rules
    recustomization: Recustomization = field(default_factory=Recustomization)

    @property
    def customization_types(self) -> tuple[str, ...]:
        return tuple(self.data_formats)

    def records_for(self, customization_type: str) -> RecordBounds:
        method = self.methods.get(customization_type)
        return method.records if method and method.records else self.records

    def validation_supported_for(self, customization_type: str) -> bool:
        method = self.methods.get(customization_type)
        if method and method.validation_supported is not None:
            return method.validation_supported
        return self.validation_supported

    def publishes_hyperparameters(self, customization_type: str) -> bool:
        """Whether AWS names this model's hyperparameters for the type (else they pass unchecked)."""
        method = self.methods.get(customization_type)
        return (method is not None and method.hyperparameters is not None) or self.hyperparameters is not None

    def token_limit(self, batch_size: int | None = None) -> int:
        """Tokens allowed in one record; for some models it shrinks as the batch grows."""
        for largest_batch, tokens in self.tokens_per_record:
            if largest_batch is None or batch_size is None or batch_size <= largest_batch:
                return tokens
        return self.tokens_per_record[-1][1]

    def hyperparameters_for(self, customization_type: str) -> dict[str, HyperparameterSpec]:
        method = self.methods.get(customization_type)
        if method is not None and method.hyperparameters is not None:
            return dict(method.hyperparameters)
        specs = self.hyperparameters or {}
        return {name: spec for name, spec in specs.items() if spec.applies_to(customization_type)}

    def lifecycle_problem(self, today: dt.date | None = None, *, offered_elsewhere: bool = True) -> str | None:
        """Why the model cannot be customized any more, with what to use instead; None while it
        can. `offered_elsewhere` False: no current model offers what was asked of this one, so
        no replacement is named."""
        life = self.lifecycle
        if not life.ended(today or dt.date.today()):
            return None
        since = f" on {life.end_of_life_date:%Y-%m-%d}" if life.end_of_life_date else ""
        instead = f": use {life.replacement} instead" if life.replacement and offered_elsewhere else ""
        return (
            f"{self.name} ({self.id}) reached its end of life{since} and Bedrock no longer customizes it{instead} "
            f"(source: {life.source}, checked {life.checked})"
        )

    def lifecycle_warning(self, today: dt.date | None = None) -> str | None:
        """A model that is legacy, or has an end-of-life date ahead: it still works, for now."""
        life = self.lifecycle
        if life.ended(today or dt.date.today()) or (life.status != LEGACY and life.end_of_life_date is None):
            return None
        until = f" until {life.end_of_life_date:%Y-%m-%d}" if life.end_of_life_date else ""
        instead = f"; plan to move to {life.replacement}" if life.replacement else ""
        return f"{self.name} is a legacy model, customizable{until}{instead} (source: {life.source})"


class Catalog:
    def current_models(self, customization_type: str, today: dt.date | None = None) -> list[ModelSpec]:
        """The models Bedrock still customizes this way (not past their end of life)."""
        today = today or dt.date.today()
        return [
            model
            for model in self.models.values()
            if customization_type in model.customization_types and not model.lifecycle.ended(today)
        ]

    def __init__(self, data: dict[str, Any]) -> None:
        self.date: str = data["catalogDate"]
        self.models: dict[str, ModelSpec] = {
            model_id: _model(model_id, entry) for model_id, entry in data["models"].items()
        }
        distillation = data.get("distillation") or {}
        self.distillation_source: str | None = distillation.get("source")
        self.distillation_checked: str | None = distillation.get("checked")
        self.teachers: dict[str, TeacherSpec] = {
            teacher_id: TeacherSpec(
                id=teacher_id,
                name=entry["name"],
                region=entry["region"],
                inference_profile=entry.get("inferenceProfile"),
                students=tuple(entry["students"]),
                on_demand_per_1k_output_tokens=entry.get("onDemandPer1kOutputTokens"),
            )
            for teacher_id, entry in (distillation.get("teachers") or {}).items()
        }

    def teachers_of(self, student_id: str) -> list[TeacherSpec]:
        return [teacher for teacher in self.teachers.values() if student_id in teacher.students]

    def teacher_problem(self, teacher_id: object, student_id: str) -> str | None:
        """Why `teacher_id` cannot teach `student_id` by distillation, with the pairs AWS offers;
        None when it can."""
        teacher = self.teachers.get(teacher_id) if isinstance(teacher_id, str) else None
        offered = self.teachers_of(student_id)
        choices = ", ".join(f"{t.id} ({t.region})" for t in offered) or "none: AWS offers no teacher for it"
        source = f"(source: {self.distillation_source}, checked {self.distillation_checked})"
        if teacher is None:
            known = ", ".join(sorted(self.teachers))
            return f"teacherModel {teacher_id!r} is not a distillation teacher (teachers: {known}) {source}"
        if student_id not in teacher.students:
            return (
                f"teacherModel {teacher.id} cannot teach {student_id} by distillation; it teaches "
                f"{', '.join(teacher.students)} in {teacher.region}. Teachers of {student_id}: {choices} {source}"
            )
        return None

    def model(self, model_id: str) -> ModelSpec:
        if model_id in self.models:
            return self.models[model_id]
        hint = _closest(model_id, self.models)
        raise UnknownModelError(
            f"{model_id!r} is not a customizable base model in the catalog (dated {self.date}); "
            + (f"did you mean {hint!r}? " if hint else "")
            + "IDs carry a context suffix, e.g. amazon.nova-micro-v1:0:128k; known: "
            + ", ".join(sorted(self.models))
        )


@cache
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    return Catalog(json.loads(Path(path).read_text(encoding="utf-8")))


def _closest(model_id: str, models: dict[str, ModelSpec]) -> str | None:
    # "amazon.nova-micro-v1:0" (no context suffix) is the commonest mistake: prefer a prefix match.
    prefixed = [known for known in models if known.startswith(model_id)]
    if len(prefixed) == 1:
        return prefixed[0]
    matches = difflib.get_close_matches(model_id, list(models), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _model(model_id: str, entry: dict[str, Any]) -> ModelSpec:
    records, media, prices = entry["records"], entry["media"], entry["prices"]
    return ModelSpec(
        id=model_id,
        name=entry["name"],
        family=entry["family"],
        regions=tuple(entry["regions"]),
        data_formats={kind: spec["dataFormat"] for kind, spec in entry["customizationTypes"].items()},
        records=RecordBounds(
            train_min=records.get("trainMin"),
            train_max=records.get("trainMax"),
            validation_min=records.get("validationMin"),
            validation_max=records.get("validationMax"),
            combined_max=records.get("combinedMax"),
        ),
        tokens_per_record=tuple(
            (limit.get("maxBatchSize"), limit["tokens"])
            for limit in sorted(entry["tokensPerRecord"], key=lambda item: item.get("maxBatchSize") or 0)
        ),
        train_file_bytes=entry["fileSizeBytes"].get("train"),
        validation_file_bytes=entry["fileSizeBytes"].get("validation"),
        validation_supported=entry["validationData"]["supported"],
        media=MediaRules(
            images=media["images"],
            video=media["video"],
            max_images_per_record=media.get("maxImagesPerRecord"),
            image_formats=tuple(media.get("imageFormats", ())),
            video_formats=tuple(media.get("videoFormats", ())),
        ),
        on_demand_serving=entry.get("onDemandServing", False),
        reasoning_content=entry.get("reasoningContent", False),
        lifecycle=_lifecycle(entry["lifecycle"]),
        invocation=Invocation(
            api=entry["invocation"]["api"],
            base_model_id=entry["invocation"]["baseModelId"],
            inference_profile=entry["invocation"].get("inferenceProfile"),
            system_prompts=entry["invocation"]["systemPrompts"],
        ),
        hyperparameters=None if entry["hyperparameters"] is None else _hyperparameters(entry["hyperparameters"]),
        prices=Prices(
            training_per_1k_tokens=prices.get("trainingPer1kTokens"),
            storage_per_month=prices.get("storagePerMonth"),
            provisioned_per_hour_per_unit=dict(prices.get("provisionedPerHourPerUnit") or {}),
            on_demand_per_1k_input_tokens=prices.get("onDemandPer1kInputTokens"),
            on_demand_per_1k_output_tokens=prices.get("onDemandPer1kOutputTokens"),
            provisioned_tokens_per_minute_per_unit=dict(prices.get("provisionedTokensPerMinutePerUnit") or {}),
        ),
        sources=dict(entry.get("sources", {})),
        methods={kind: _method(spec) for kind, spec in entry["customizationTypes"].items()},
        recustomization=_recustomization(entry.get("recustomization") or {}),
    )


def _recustomization(entry: dict[str, Any]) -> Recustomization:
    return Recustomization(
        methods=tuple(entry.get("methods", ())),
        parents=tuple(entry.get("parents", ())),
        source=entry.get("source"),
        checked=entry.get("checked"),
    )


def _method(spec: dict[str, Any]) -> MethodSpec:
    records = spec.get("records")
    validation = spec.get("validationData")
    return MethodSpec(
        data_format=spec["dataFormat"],
        records=None
        if records is None
        else RecordBounds(
            train_min=records.get("trainMin"),
            train_max=records.get("trainMax"),
            validation_min=records.get("validationMin"),
            validation_max=records.get("validationMax"),
            combined_max=records.get("combinedMax"),
        ),
        validation_supported=None if validation is None else validation["supported"],
        hyperparameters=None if spec.get("hyperparameters") is None else _hyperparameters(spec["hyperparameters"]),
        single_turn=spec.get("singleTurn", False),
        source=spec.get("source"),
        checked=spec.get("checked"),
    )


def _hyperparameters(entries: dict[str, Any]) -> dict[str, HyperparameterSpec]:
    return {
        name: HyperparameterSpec(
            name=name,
            type=spec["type"],
            minimum=spec.get("min"),
            maximum=spec.get("max"),
            default=spec.get("default"),
            customization_types=tuple(spec["customizationTypes"]) if spec.get("customizationTypes") else None,
            choices=tuple(spec.get("choices", ())),
        )
        for name, spec in entries.items()
    }


def _lifecycle(entry: dict[str, Any]) -> Lifecycle:
    def date(value: str | None) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    return Lifecycle(
        status=entry["status"],
        legacy_date=date(entry.get("legacyDate")),
        end_of_life_date=date(entry.get("endOfLifeDate")),
        replacement=entry.get("replacement"),
        source=entry["source"],
        checked=entry["checked"],
    )


def _number(value: float) -> str:
    """0.00001 rather than 1e-05, as the value would be written in job.json."""
    return f"{value:.15f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
