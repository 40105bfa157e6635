"""`python -m tools compare RUN RUN... --env NAME [--json]`: runs side by side, as a Markdown
table to paste into a review: which data and model each trained, with which settings, how its
loss curves ended and what they say, how it scored against its base model, what it cost and
whether it is served.

Each run is read the way `status RUN` reads it (tools.status.run_detail): one source for what a
run is, so the two commands never disagree. Read-only.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tools.deployed import (
    EXIT_OK,
    EXIT_USAGE,
    DeployedEnvironment,
    UsageError,
    aws_errors,
    environment_arguments,
    session_for,
    usd,
)

# More columns than this do not fit a review comment, and a comparison of that many runs is a
# sweep's job (its own report), not a table to read.
MAX_RUNS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_names", nargs="+", metavar="RUN", help="two or more runs, as status lists them")
    environment_arguments(parser)


def run(args: argparse.Namespace, session: Any = None) -> int:
    from tools.status import run_detail

    names = list(dict.fromkeys(args.run_names))  # a run named twice is one column
    try:
        if len(names) < 2:
            raise UsageError(
                f"compare needs two different runs, got {len(names)}: python -m tools status --env "
                f"{args.env} lists them"
            )
        if len(names) > MAX_RUNS:
            raise UsageError(f"at most {MAX_RUNS} runs side by side, got {len(names)}")
        environment = DeployedEnvironment.lookup(args.env, session)
        session = session_for(environment, session)
        details = []
        for name in names:
            with aws_errors(f"reading run {name}"):
                details.append(run_detail(session, environment, name))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    columns = [column(detail) for detail in details]
    print(json.dumps(columns, indent=2) if args.json else render(columns))
    return EXIT_OK


def column(detail: dict[str, Any]) -> dict[str, Any]:
    """What the table shows of one run, from its status detail."""
    settings = detail.get("settings") or {}
    curves = detail.get("curves") or {}
    job = detail.get("bedrockJob") or {}
    scores = detail.get("scores") or {}
    return {
        "run": detail["run"],
        "state": detail["state"],
        "dataset": detail.get("dataset"),
        "datasetVersion": detail.get("datasetVersion"),
        "baseModel": settings.get("baseModel"),
        "parent": _parent(detail.get("lineage") or {}),
        "customizationType": settings.get("customizationType"),
        "hyperParameters": settings.get("hyperParameters") or {},
        "trainingLoss": _loss(curves, "training", "final", job.get("trainingLoss")),
        "bestTrainingLoss": _loss(curves, "training", "best"),
        "validationLoss": _loss(curves, "validation", "final"),
        "bestValidationLoss": _loss(curves, "validation", "best"),
        "diagnosis": curves.get("summary"),
        "change": curves.get("advice"),
        "evaluation": detail.get("evaluation"),
        "promoted": detail.get("promoted"),
        "metric": scores.get("metric"),
        "customScore": scores.get("custom"),
        "baseScore": scores.get("base"),
        "trainingCostUsd": detail.get("cost"),
        "serving": detail.get("serving"),
        "error": detail.get("error"),
    }


def _parent(lineage: dict[str, Any]) -> str | None:
    """The run (or model) this one customized further, and the dataset version that one trained on."""
    parent = lineage.get("parentRun") or lineage.get("parentModel")
    version = lineage.get("parentDatasetVersion")
    return f"{parent} (dataset version {version})" if parent and version else parent


def _loss(curves: dict[str, Any], curve: str, field: str, fallback: float | None = None) -> float | None:
    value = (curves.get(curve) or {}).get(field)
    return value if isinstance(value, int | float) else fallback


# (row label, how to show the column's value); None shows as "-".
def _rows() -> list[tuple[str, Any]]:
    return [
        ("state", lambda c: c["state"]),
        ("dataset", lambda c: c["dataset"]),
        ("dataset version", lambda c: c["datasetVersion"]),
        ("base model", lambda c: c["baseModel"]),
        ("parent", lambda c: c["parent"]),
        ("method", lambda c: c["customizationType"]),
        ("hyperparameters", _hyperparameters),
        ("training loss (final / best)", lambda c: _pair(c["trainingLoss"], c["bestTrainingLoss"])),
        ("validation loss (final / best)", lambda c: _pair(c["validationLoss"], c["bestValidationLoss"])),
        ("curves", lambda c: c["diagnosis"]),
        ("change to try", lambda c: c["change"]),
        ("evaluation", _evaluation),
        ("promoted", lambda c: None if c["promoted"] is None else ("yes" if c["promoted"] else "no")),
        ("training cost (estimate)", lambda c: None if c["trainingCostUsd"] is None else usd(c["trainingCostUsd"])),
        ("serving", lambda c: c["serving"]),
        ("failed with", lambda c: c["error"]),
    ]


def _hyperparameters(c: dict[str, Any]) -> str | None:
    return ", ".join(f"{name}={value}" for name, value in sorted(c["hyperParameters"].items())) or None


def _pair(final: float | None, best: float | None) -> str | None:
    if final is None and best is None:
        return None
    return f"{_number(final)} / {_number(best)}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _evaluation(c: dict[str, Any]) -> str | None:
    if c["customScore"] is not None and c["baseScore"] is not None:
        return f"{c['metric']} {c['customScore']:.3f} (custom) vs {c['baseScore']:.3f} (base)"
    return c["evaluation"]


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    # A table cell is one line, and a pipe would end it.
    return " ".join(str(value).split()).replace("|", "\\|")


def render(columns: list[dict[str, Any]]) -> str:
    lines = [
        "| | " + " | ".join(f"`{c['run']}`" for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label, show in _rows():
        values = [show(c) for c in columns]
        if all(value in (None, "") for value in values):
            continue  # a row no run has (no parent, no failure) is noise
        lines.append(f"| {label} | " + " | ".join(_cell(value) for value in values) + " |")
    best = _best_validation(columns)
    if best:
        lines += ["", best]
    return "\n".join(lines)


def _best_validation(columns: list[dict[str, Any]]) -> str | None:
    """One line naming the run with the lowest best validation loss, when more than one has one."""
    scored = [(c["bestValidationLoss"], c["run"]) for c in columns if c["bestValidationLoss"] is not None]
    if len(scored) < 2:
        return None
    loss, name = min(scored)
    return f"Lowest validation loss: `{name}` ({loss:.4f})."
