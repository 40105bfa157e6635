"""Hyperparameters checked against what the chosen model really accepts.

Tutorials use names Bedrock does not know (`epochs`, `warmupSteps`, `learning_rate`), and
Bedrock only rejects them when the job starts; we say which name to use instead. Values
are normalized to the strings the API requires (`hyperParameters` is a map of strings).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from customization.catalog import HyperparameterSpec, ModelSpec

# Names seen in tutorials and other frameworks -> the API names they mean. Keys are
# lower-case with separators removed; the first candidate the model has is suggested.
_ALIASES: dict[str, tuple[str, ...]] = {
    "epochs": ("epochCount",),
    "epoch": ("epochCount",),
    "numepochs": ("epochCount",),
    "numtrainepochs": ("epochCount",),
    "nepochs": ("epochCount",),
    "epochcount": ("epochCount",),
    "warmupsteps": ("learningRateWarmupSteps",),
    "warmup": ("learningRateWarmupSteps",),
    "numwarmupsteps": ("learningRateWarmupSteps",),
    "learningratewarmupsteps": ("learningRateWarmupSteps",),
    "lr": ("learningRate", "learningRateMultiplier"),
    "learningrate": ("learningRate", "learningRateMultiplier"),
    "learningratemultiplier": ("learningRateMultiplier", "learningRate"),
    "batch": ("batchSize",),
    "batchsize": ("batchSize",),
    "trainbatchsize": ("batchSize",),
    "perdevicetrainbatchsize": ("batchSize",),
    "earlystoppingthreshold": ("earlyStoppingThreshold",),
    "earlystoppingpatience": ("earlyStoppingPatience",),
}
_SEPARATORS = re.compile(r"[-_\s.]")


@dataclass(frozen=True)
class HyperparameterProblem:
    key: str
    message: str


@dataclass
class CheckedHyperparameters:
    values: dict[str, str] = field(default_factory=dict)  # API names -> strings, as sent to Bedrock
    problems: list[HyperparameterProblem] = field(default_factory=list)
    warnings: list[HyperparameterProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def number(self, name: str, spec: HyperparameterSpec | None = None) -> float | None:
        if name in self.values:
            return float(self.values[name])
        return spec.default if spec else None


def check_hyperparameters(
    given: Mapping[str, object] | None, model: ModelSpec, customization_type: str
) -> CheckedHyperparameters:
    """Names and values of `given` for `model` and `customization_type`; defaults are not filled in."""
    result = CheckedHyperparameters()
    if given is None:
        return result
    if not isinstance(given, Mapping):
        result.problems.append(
            HyperparameterProblem("hyperParameters", f"must be an object of name to value, got {type(given).__name__}")
        )
        return result
    if not model.publishes_hyperparameters(customization_type):
        return _unpublished(given, model, result)
    accepted = model.hyperparameters_for(customization_type)
    if not accepted and given:
        # Distillation: AWS documents no hyperparameters; Bedrock sets the training itself.
        for name in given:
            result.problems.append(
                HyperparameterProblem(
                    name,
                    f"{customization_type} on {model.name} takes no hyperparameters (AWS documents none for it): "
                    "leave hyperParameters out",
                )
            )
        return result
    for name, raw in given.items():
        spec = accepted.get(name)
        if spec is None:
            result.problems.append(HyperparameterProblem(name, _unknown_name(name, model, customization_type)))
            continue
        value, problem = _parse(raw, spec)
        if problem:
            result.problems.append(HyperparameterProblem(name, problem))
        else:
            result.values[name] = value
    return result


def _unpublished(given: Mapping[str, object], model: ModelSpec, result: CheckedHyperparameters):
    """AWS publishes no hyperparameters for this model: pass numbers on as Bedrock takes them
    (strings), and say that nobody checked them."""
    for name, raw in given.items():
        if isinstance(raw, bool) or not isinstance(raw, int | float | str) or not str(raw).strip():
            result.problems.append(HyperparameterProblem(name, f"must be a number or a string, got {raw!r}"))
            continue
        result.values[name] = _decimal(float(raw)) if isinstance(raw, float) else str(raw)
        result.warnings.append(
            HyperparameterProblem(
                name,
                f"not checked: AWS publishes no hyperparameter names or ranges for {model.name}; Bedrock will "
                "refuse the job if it does not take this one (leave hyperParameters out to use Bedrock's defaults)",
            )
        )
    return result


def _unknown_name(name: str, model: ModelSpec, customization_type: str) -> str:
    accepted = model.hyperparameters_for(customization_type)
    known = ", ".join(f"{n} ({s.describe()})" for n, s in sorted(accepted.items()))
    if name in (model.hyperparameters or {}):
        return f"{model.name} does not take {name} for {customization_type}; it takes {known}"
    for candidate in _ALIASES.get(_SEPARATORS.sub("", name).lower(), ()):
        if candidate in accepted:
            return f"{model.name} calls it {candidate!r} ({accepted[candidate].describe()}); rename {name!r}"
    return f"{model.name} has no hyperparameter {name!r}; it takes {known}"


def _parse(raw: object, spec: HyperparameterSpec) -> tuple[str, str | None]:
    if spec.type == "enum":
        if raw not in spec.choices:
            return "", f"must be one of {spec.describe()}, got {raw!r}"
        return str(raw), None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return "", f"must be a number (or a string holding one), got {raw!r}"
    try:
        number = float(raw)
    except ValueError:
        return "", f"must be a number, got {raw!r}"
    if not math.isfinite(number):
        return "", f"must be a finite number, got {raw!r}"
    if spec.type == "int":
        if number != int(number):
            return "", f"must be a whole number ({spec.describe()}), got {raw!r}"
        text = str(int(number))
    else:
        text = _decimal(number)
    too_low = spec.minimum is not None and number < spec.minimum
    if too_low or (spec.maximum is not None and number > spec.maximum):
        return "", f"{raw!r} is out of range: allowed {spec.describe()}"
    return text, None


def typed_hyperparameters(values: Mapping[str, str], model: ModelSpec, customization_type: str) -> dict[str, object]:
    """The checked `values` (strings, as the run's state carries them) as numbers and strings by
    their specs: reinforcement fine-tuning's rftConfig.hyperParameters is a typed structure
    (botocore RFTHyperParameters), unlike fine-tuning's map of strings."""
    specs = model.hyperparameters_for(customization_type)
    typed: dict[str, object] = {}
    for name, text in values.items():
        kind = specs[name].type if name in specs else "enum"
        typed[name] = int(float(text)) if kind == "int" else float(text) if kind == "float" else str(text)
    return typed


def _decimal(number: float) -> str:
    """0.00001 rather than 1e-05: plain decimals read the same in every parser and console."""
    return f"{number:.15f}".rstrip("0").rstrip(".")
