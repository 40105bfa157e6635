"""Hyperparameter sweeps: job.json's `"sweep"`, checked and expanded into the run's variants.

Two shapes:
- a grid, `{"learningRate": [0.00001, 0.00002], "epochCount": [1, 2]}`: every combination
  (the product, in the order given: the last name varies fastest);
- a list of combinations, `[{"learningRate": 0.00001}, {"epochCount": 3}]`.

Each variant is the run's own hyperparameters with one combination over them; each is a
separate paid job, so the sweep is refused at validation, one line each, when it is larger
than limits.maxSweepVariants, when a variant's hyperparameter is one the model does not take
or out of the catalog's bounds (the same check as the run's own), when the method cannot
sweep, and when all the variants together would cost more than limits.costCeilingUsd.

Only FINE_TUNING sweeps: the winner is the variant with the lowest validation loss, which
fine-tuning jobs report (validationMetrics, validation_metrics.csv). Distillation takes no
hyperparameters (AWS documents none), reinforcement fine-tuning reports rewards rather than a
validation loss (and would run the grader over every variant's samples), and no current model
offers continued pre-training.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from customization.catalog import FINE_TUNING
from customization.validation.problems import ProblemLog
from customization.validation.records import show

R_SWEEP = "sweep"
# Above this, a grid is refused before it is expanded (its size alone is the problem).
MAX_EXPANDED = 1000


def check_sweep_shape(settings: Any, log: ProblemLog, file: str) -> Any:
    """`settings` with its sweep as a list of combinations (or None); problems go to `log`."""
    keep = settings.keep_sweep_models
    if not isinstance(keep, bool):
        log.error(file, None, R_SWEEP, f"keepSweepModels must be true or false, got {show(keep)}")
        settings = replace(settings, keep_sweep_models=False)
    if settings.sweep is None:
        return settings
    combinations = _combinations(settings.sweep, log, file)
    if combinations is None:
        return replace(settings, sweep=None)
    if settings.customization_type != FINE_TUNING:
        log.error(
            file,
            None,
            R_SWEEP,
            f"sweep is for customizationType {FINE_TUNING} only; this run is {show(settings.customization_type)}: "
            "the winner is chosen by validation loss, which only fine-tuning jobs report (distillation takes no "
            "hyperparameters, reinforcement fine-tuning reports rewards)",
        )
        return replace(settings, sweep=None)
    return replace(settings, sweep=combinations)


def _combinations(sweep: object, log: ProblemLog, file: str) -> list[dict[str, object]] | None:
    example = (
        'e.g. {"learningRate": [0.00001, 0.00002], "epochCount": [1, 2]} or [{"epochCount": 1}, {"epochCount": 2}]'
    )
    if isinstance(sweep, Mapping):
        if not sweep or not all(isinstance(values, list) and values for values in sweep.values()):
            log.error(
                file, None, R_SWEEP, f"sweep must name each hyperparameter with a non-empty list of values, {example}"
            )
            return None
        size = math.prod(len(values) for values in sweep.values())
        if size > MAX_EXPANDED:
            log.error(file, None, R_SWEEP, f"sweep has {size:,} variants: far more than any environment allows")
            return None
        names = list(sweep)
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*sweep.values())]
    if isinstance(sweep, list) and sweep and all(isinstance(item, Mapping) and item for item in sweep):
        if len(sweep) > MAX_EXPANDED:
            log.error(file, None, R_SWEEP, f"sweep has {len(sweep):,} variants: far more than any environment allows")
            return None
        return [dict(item) for item in sweep]
    log.error(file, None, R_SWEEP, f"sweep must be an object of lists (a grid) or a list of objects, {example}")
    return None


def describe(combination: Mapping[str, object]) -> str:
    """`epochCount=2, learningRate=0.00002`, for problems and reports."""
    return ", ".join(f"{name}={value}" for name, value in combination.items())


def check_variant_count(count: int, limit: int | None, log: ProblemLog, file: str) -> bool:
    if limit is not None and count > limit:
        allowed = "this environment allows no sweeps" if limit == 0 else f"this environment allows {limit}"
        log.error(
            file,
            None,
            R_SWEEP,
            f"sweep has {count} variants and {allowed} (limits.maxSweepVariants): drop some values or "
            "raise the limit in cdk.json",
        )
        return False
    if count < 2:
        log.error(file, None, R_SWEEP, "sweep has a single variant: put it in hyperParameters instead")
        return False
    return True


def duplicate_problem(combinations: list[Mapping[str, object]]) -> str | None:
    seen: dict[str, int] = {}
    for number, combination in enumerate(combinations, 1):
        key = repr(sorted((name, str(value)) for name, value in combination.items()))
        if key in seen:
            return f"sweep variants {seen[key]} and {number} are the same ({describe(combination)}): drop one"
        seen[key] = number
    return None
