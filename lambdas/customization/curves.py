"""Training curves: the metrics files a completed job wrote, read with bounds, and a diagnosis.

Where Bedrock writes them (Amazon Bedrock user guide, "Analyze the results of a model
customization job", https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html,
checked 2026-11-29):

    <outputDataConfig.s3Uri>/model-customization-job-<job id>/
        training_artifacts/step_wise_training_metrics.csv
            step_number, epoch_number, training_loss, perplexity
        validation_artifacts/post_fine_tuning_validation/validation_metrics.csv
            step_number, epoch_number, validation_loss, perplexity

The page says step_number starts at 0 and that only some jobs (those given validation data)
write validation metrics. AWS's own sample reads an extra `validation/` folder below
post_fine_tuning_validation/, so the files are found by listing the job's output folder and
matching the file name, never by a hard-coded key. Perplexity is optional (an older example
omits it), and a step may have several rows (AWS's samples average them): both are tolerated.

Nothing here may fail a run: every problem becomes "no curve available: <why>".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from customization.catalog import HyperparameterSpec, ModelSpec

TRAINING_FILE = "step_wise_training_metrics.csv"
VALIDATION_FILE = "validation_metrics.csv"
TRAINING_LOSS, VALIDATION_LOSS = "training_loss", "validation_loss"

# Reading bounds. A job writes one row a step of ~40 bytes: 250,000 rows (Titan's largest job,
# 10 epochs of 10,000 records at batch size 1, is 100,000 steps) stay under 16 MiB, which a
# 256 MB function parses in well under a second. A file beyond either bound is not a job's
# metrics as documented: it is refused, not read.
MAX_BYTES = 16 * 1024 * 1024
MAX_ROWS = 250_000
MAX_LINE_BYTES = 4096  # a row is four numbers; a longer line is not this file
# The job's output folder holds a handful of artifacts; a listing this long is not one job's.
MAX_LISTED_KEYS = 1000
# curves.json and the chart keep at most this many points per curve (bucket means): enough to
# see every feature at the chart's width, small enough for an e-mail client to open.
MAX_KEPT_POINTS = 600

# The diagnosis. Fewer training steps than this show no trend at all.
MIN_TRAINING_POINTS = 3
# Overfitting: the validation loss stayed above its minimum for at least this many evaluations
# after it (2 is Bedrock's own earlyStoppingPatience default for Claude 3 Haiku, in the
# catalog), and ended at least this much above it (a smaller rise is the noise of a sample).
OVERFITTING_PATIENCE = 2
OVERFITTING_MIN_RISE = 0.02
# Unstable: the training loss is compared with its centred moving mean over a window of
# MOVING_WINDOW_SHARE of the steps (at least MOVING_WINDOW_MIN, odd): a step further than
# UNSTABLE_DEVIATION (relative) from that mean is a spike. Batch-to-batch noise of a healthy
# fine-tuning run stays within about 10-15% of its trend; 30% is a loss that jumps. The run is
# unstable when more than UNSTABLE_SHARE of its steps spike (one spike is a bad batch, not an
# unstable run). The first WARMUP_SHARE of the steps is left out: the learning-rate warm-up
# and the fastest fall of the loss are there by design.
MOVING_WINDOW_SHARE = 0.05
MOVING_WINDOW_MIN = 5
UNSTABLE_DEVIATION = 0.30
UNSTABLE_SHARE = 0.10
WARMUP_SHARE = 0.10
MIN_POINTS_FOR_INSTABILITY = 10
# Underfitting: over the last TAIL_SHARE of the run (at least two points) the smoothed loss
# still fell by more than UNDERFITTING_DROP (relative). A converged curve flattens: under 3%
# over its last fifth is the flattening, not a fall.
TAIL_SHARE = 0.2
UNDERFITTING_DROP = 0.03

OVERFITTING, UNSTABLE, UNDERFITTING, HEALTHY, UNAVAILABLE = (
    "overfitting",
    "unstable",
    "underfitting",
    "healthy",
    "unavailable",
)
VERDICTS = (OVERFITTING, UNSTABLE, UNDERFITTING, HEALTHY, UNAVAILABLE)
NO_CURVE = "no curve available"


class CurvesUnavailable(Exception):
    """A metrics file that cannot give a curve; the message says which and why."""


@dataclass(frozen=True)
class Point:
    step: int
    epoch: int
    loss: float
    perplexity: float | None = None


@dataclass(frozen=True)
class Curve:
    """One loss against step: a point a step (several rows of one step averaged), sorted."""

    uri: str
    points: tuple[Point, ...]
    rows: int  # rows read (before averaging the rows of one step)

    @property
    def losses(self) -> list[float]:
        return [point.loss for point in self.points]


# -- reading -----------------------------------------------------------------------------------


def bounded_lines(chunks: Iterable[bytes], *, uri: str, max_bytes: int = MAX_BYTES) -> Iterator[str]:
    """The lines of a file given in chunks, decoded, never holding more than one line: a file
    longer than `max_bytes`, or a line longer than MAX_LINE_BYTES, stops the reading."""
    read, pending, first = 0, b"", True
    for chunk in chunks:
        read += len(chunk)
        if read > max_bytes:
            raise CurvesUnavailable(too_large(uri, f"more than {megabytes(max_bytes)}"))
        pending += chunk
        *complete, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise CurvesUnavailable(f"{uri} has a line longer than {MAX_LINE_BYTES:,} bytes: it is not a metrics CSV")
        for line in complete:
            yield _decoded(line, uri, first)
            first = False
    if pending:
        yield _decoded(pending, uri, first)


def _decoded(line: bytes, uri: str, first: bool) -> str:
    if len(line) > MAX_LINE_BYTES:
        raise CurvesUnavailable(f"{uri} has a line longer than {MAX_LINE_BYTES:,} bytes: it is not a metrics CSV")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise CurvesUnavailable(f"{uri} is not UTF-8 text: it is not a metrics CSV") from None
    return text.removeprefix("\ufeff").rstrip("\r") if first else text.rstrip("\r")


def parse_metrics(lines: Iterable[str], *, uri: str, loss_column: str, max_rows: int = MAX_ROWS) -> Curve:
    """The curve in a metrics CSV (header first); CurvesUnavailable names the line at fault."""
    # Every line goes to the reader (blank ones too), so that its line_num is the file's line.
    reader = csv.reader(lines)
    try:
        return _parsed(reader, uri, loss_column, max_rows)
    except csv.Error as error:  # a stray carriage return or NUL byte: not a CSV the csv module reads
        raise CurvesUnavailable(f"{uri} line {reader.line_num}: not CSV ({error})") from None


def _parsed(reader, uri: str, loss_column: str, max_rows: int) -> Curve:
    rows = (row for row in reader if any(cell.strip() for cell in row))
    header = next(rows, None)
    if header is None:
        raise CurvesUnavailable(f"{uri} is empty: Bedrock wrote the file but no header and no rows")
    columns = [name.strip().lower() for name in header]
    wanted = ("step_number", "epoch_number", loss_column)
    missing = [name for name in wanted if name not in columns]
    if missing:
        raise CurvesUnavailable(
            f"{uri} line {reader.line_num}: no column {', '.join(missing)} (columns: {', '.join(columns) or 'none'}); "
            f"the user guide's files have {', '.join(wanted)}"
        )
    at = {name: columns.index(name) for name in wanted}
    perplexity_at = columns.index("perplexity") if "perplexity" in columns else None
    by_step: dict[int, list[Point]] = {}
    count = 0
    for count, row in enumerate(rows, start=1):
        if count > max_rows:
            raise CurvesUnavailable(too_large(uri, f"more than {max_rows:,} rows"))
        line = reader.line_num
        step = _whole(_cell(row, at["step_number"], uri, line, "step_number"), uri, line, "step_number")
        epoch = _whole(_cell(row, at["epoch_number"], uri, line, "epoch_number"), uri, line, "epoch_number")
        loss = _number(_cell(row, at[loss_column], uri, line, loss_column), uri, line, loss_column)
        perplexity = None
        if perplexity_at is not None and perplexity_at < len(row):
            try:
                perplexity = _finite(float(row[perplexity_at]))
            except ValueError:
                perplexity = None  # optional: a blank or odd perplexity does not spoil the loss
        by_step.setdefault(step, []).append(Point(step, epoch, loss, perplexity))
    if not by_step:
        raise CurvesUnavailable(f"{uri} is empty: a header and no rows")
    return Curve(uri=uri, points=tuple(_averaged(by_step[step]) for step in sorted(by_step)), rows=count)


def _averaged(points: list[Point]) -> Point:
    if len(points) == 1:
        return points[0]
    perplexities = [p.perplexity for p in points if p.perplexity is not None]
    return Point(
        step=points[0].step,
        epoch=max(p.epoch for p in points),
        loss=sum(p.loss for p in points) / len(points),
        perplexity=sum(perplexities) / len(perplexities) if perplexities else None,
    )


def _cell(row: list[str], index: int, uri: str, line: int, column: str) -> str:
    if index >= len(row) or not row[index].strip():
        raise CurvesUnavailable(f"{uri} line {line}: no {column} value")
    return row[index].strip()


def _number(text: str, uri: str, line: int, column: str) -> float:
    try:
        value = _finite(float(text))
    except ValueError:
        value = None
    if value is None:
        raise CurvesUnavailable(f"{uri} line {line}: {column} {text[:40]!r} is not a finite number")
    return value


def _whole(text: str, uri: str, line: int, column: str) -> int:
    value = _number(text, uri, line, column)
    if value != int(value) or value < 0:
        raise CurvesUnavailable(f"{uri} line {line}: {column} {text[:40]!r} is not a whole number of 0 or more")
    return int(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def too_large(uri: str, size: str) -> str:
    return (
        f"{uri} is {size}; the pipeline reads at most {megabytes(MAX_BYTES)} and {MAX_ROWS:,} rows "
        "(customization.curves.MAX_BYTES, MAX_ROWS): read it yourself with aws s3 cp"
    )


def megabytes(count: float) -> str:
    return f"{count / 1024 / 1024:.1f} MB"


# -- the diagnosis -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A hyperparameter to set in job.json, named as this model's catalog entry calls it."""

    hyperparameter: str
    value: str
    current: str
    allowed: str

    def as_dict(self) -> dict[str, str]:
        return {"hyperparameter": self.hyperparameter, "value": self.value, "current": self.current}


@dataclass(frozen=True)
class Diagnosis:
    verdict: str
    summary: str
    advice: str
    change: Change | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "advice": self.advice,
            "change": self.change.as_dict() if self.change else None,
            "details": self.details,
        }


def unavailable(reason: str) -> Diagnosis:
    return Diagnosis(
        UNAVAILABLE,
        f"{NO_CURVE}: {reason}",
        "nothing to change from the curves: judge the run by its evaluation, and see docs/runbook.md",
    )


def moving_mean(values: Sequence[float], window: int) -> list[float]:
    """The centred moving mean (a shorter window at both ends)."""
    half = window // 2
    sums = [0.0]
    for value in values:
        sums.append(sums[-1] + value)
    means = []
    for i in range(len(values)):
        low, high = max(0, i - half), min(len(values), i + half + 1)
        means.append((sums[high] - sums[low]) / (high - low))
    return means


def window_for(count: int) -> int:
    window = max(MOVING_WINDOW_MIN, round(count * MOVING_WINDOW_SHARE))
    return window if window % 2 else window + 1


@dataclass(frozen=True)
class Tuning:
    """What the advice may change: the model's hyperparameters for this customization type
    (catalog) and the values the run used (its job.json or the environment's defaults)."""

    specs: dict[str, HyperparameterSpec]
    used: dict[str, str]

    @classmethod
    def of(cls, model: ModelSpec | None, customization_type: str, used: dict[str, str] | None) -> Tuning:
        specs = model.hyperparameters_for(customization_type) if model is not None else {}
        return cls(specs=specs, used=dict(used or {}))

    def current(self, name: str) -> float | None:
        spec = self.specs.get(name)
        if spec is None:
            return None
        try:
            return float(self.used[name])
        except (KeyError, ValueError):
            return spec.default

    def change(self, name: str, value: float) -> Change | None:
        """`name` set to `value`, kept within the catalog's bounds; None when that changes nothing."""
        spec, current = self.specs.get(name), self.current(name)
        if spec is None or current is None:
            return None
        value = min(max(value, spec.minimum), spec.maximum)
        if spec.type == "int":
            value = float(round(value))
        if math.isclose(value, current, rel_tol=1e-9, abs_tol=1e-15):
            return None
        return Change(name, _value(value, spec), _value(current, spec), spec.describe())


def _value(value: float, spec: HyperparameterSpec) -> str:
    if spec.type == "int":
        return str(round(value))
    return f"{value:.12f}".rstrip("0").rstrip(".") if value >= 1e-12 else "0"


def _epoch_ordinal(epoch: int, base: int) -> int:
    """Epochs as a person counts them (1 = the first): files that number them from 0 are shifted."""
    return epoch + 1 - base


def diagnose(training: Curve, validation: Curve | None, tuning: Tuning, note: str | None = None) -> Diagnosis:
    """Overfitting, unstable, underfitting or healthy (in that order of precedence: the first
    that holds is the verdict), with the change to try."""
    if len(training.points) < MIN_TRAINING_POINTS:
        return unavailable(
            f"{training.uri} has {len(training.points)} step(s); a trend needs at least {MIN_TRAINING_POINTS}"
        )
    epochs = [p.epoch for p in training.points] + ([p.epoch for p in validation.points] if validation else [])
    base = min(epochs)
    details: dict[str, Any] = {"trainingSteps": len(training.points)}
    if validation:
        details["validationEvaluations"] = len(validation.points)
    if note:
        details["note"] = note
    found = (
        _overfitting(validation, base, tuning, details)
        or _unstable(training, tuning, details)
        or _underfitting(training, validation, tuning, details)
    )
    if found:
        return found
    train_last = moving_mean(training.losses, window_for(len(training.points)))[-1]
    settled = f"training loss settled near {train_last:.4f}"
    if validation:
        best = min(validation.losses)
        settled += f", validation loss ended at {validation.losses[-1]:.4f} (best {best:.4f})"
    kept = ", ".join(f"{name}={_value(tuning.current(name) or 0, spec)}" for name, spec in tuning.specs.items())
    return Diagnosis(
        HEALTHY,
        f"healthy: {settled}; neither overfitting, unstable nor still falling",
        f"no change needed{': keep ' + kept if kept else ''}",
        details=details,
    )


def _overfitting(validation: Curve | None, base: int, tuning: Tuning, details: dict) -> Diagnosis | None:
    if validation is None or len(validation.points) < OVERFITTING_PATIENCE + 1:
        return None
    losses = validation.losses
    lowest = min(losses)
    # The last evaluation at the minimum: every one after it is above it.
    at = max(i for i, loss in enumerate(losses) if loss == lowest)
    after = len(losses) - 1 - at
    rise = (losses[-1] - lowest) / lowest if lowest > 0 else math.inf
    if after < OVERFITTING_PATIENCE or rise < OVERFITTING_MIN_RISE:
        return None
    minimum = validation.points[at]
    epoch = _epoch_ordinal(minimum.epoch, base)
    details.update(k=after, minimumEpoch=epoch, minimumStep=minimum.step, minimumLoss=lowest, rise=round(rise, 4))
    summary = (
        f"overfitting: validation loss rose for {after} evaluations after its minimum {lowest:.4f} "
        f"(step {minimum.step}, epoch {epoch}) and ended {rise:.0%} above it"
    )
    change = tuning.change("epochCount", epoch)
    if change is not None and float(change.value) < float(change.current):
        advice = (
            f"train for fewer epochs: set epochCount to {change.value} in job.json (now {change.current}; "
            f"allowed {change.allowed}), the epoch where validation loss was lowest; more training data also helps"
        )
        return Diagnosis(OVERFITTING, summary, advice, change, details)
    # The minimum is in the last epoch: fewer epochs would cut it off. A smaller step size does
    # less damage per epoch.
    change = _lower_learning_rate(tuning)
    advice = "add training data or stop earlier"
    if change is not None:
        advice = (
            f"the minimum is in the last epoch, so fewer epochs would cut it off: set {change.hyperparameter} to "
            f"{change.value} in job.json (now {change.current}; allowed {change.allowed}), or add training data"
        )
    return Diagnosis(OVERFITTING, summary, advice, change, details)


def _lower_learning_rate(tuning: Tuning) -> Change | None:
    """Half the learning rate (Claude 3 Haiku calls it learningRateMultiplier), within bounds."""
    for name in ("learningRate", "learningRateMultiplier"):
        current = tuning.current(name)
        if current is not None:
            return tuning.change(name, current / 2)
    return None


def _unstable(training: Curve, tuning: Tuning, details: dict) -> Diagnosis | None:
    losses = training.losses
    window = window_for(len(losses))
    means = moving_mean(losses, window)
    first = math.ceil(len(losses) * WARMUP_SHARE)
    checked = [(loss, mean) for loss, mean in zip(losses[first:], means[first:], strict=True)]
    if len(checked) < MIN_POINTS_FOR_INSTABILITY:
        return None
    spikes = sum(1 for loss, mean in checked if mean > 0 and abs(loss - mean) / mean > UNSTABLE_DEVIATION)
    share = spikes / len(checked)
    if share <= UNSTABLE_SHARE:
        return None
    details.update(spikes=spikes, checkedSteps=len(checked), spikeShare=round(share, 4), window=window)
    summary = (
        f"unstable: training loss strayed more than {UNSTABLE_DEVIATION:.0%} from its {window}-step moving mean "
        f"at {share:.0%} of steps (more than {UNSTABLE_SHARE:.0%} is unstable)"
    )
    change = _lower_learning_rate(tuning)
    if change is not None:
        advice = (
            f"lower the learning rate: set {change.hyperparameter} to {change.value} in job.json "
            f"(now {change.current}, half of it; allowed {change.allowed})"
        )
        return Diagnosis(UNSTABLE, summary, advice, change, details)
    batch = tuning.current("batchSize")
    change = tuning.change("batchSize", batch * 2) if batch is not None else None
    if change is not None:
        advice = (
            f"the learning rate is at its lowest: set batchSize to {change.value} in job.json "
            f"(now {change.current}; allowed {change.allowed}) to average more records a step"
        )
        return Diagnosis(UNSTABLE, summary, advice, change, details)
    return Diagnosis(UNSTABLE, summary, "check the training data for mislabelled or duplicated records", None, details)


def _falling(losses: Sequence[float], smoothed: bool) -> float | None:
    """How much (relative) the curve fell over its last TAIL_SHARE, when it still falls there."""
    if len(losses) < 2:
        return None
    values = moving_mean(losses, window_for(len(losses))) if smoothed else list(losses)
    start = len(values) - max(2, math.ceil(len(values) * TAIL_SHARE))
    if values[start] <= 0:
        return None
    drop = (values[start] - values[-1]) / values[start]
    # Still falling: down over the tail, and (unsmoothed) ending at the lowest value so far.
    if drop <= UNDERFITTING_DROP or (not smoothed and values[-1] > min(values)):
        return None
    return drop


def _underfitting(training: Curve, validation: Curve | None, tuning: Tuning, details: dict) -> Diagnosis | None:
    train_drop = _falling(training.losses, smoothed=True)
    if train_drop is None:
        return None
    validation_drop = None
    if validation is not None:
        validation_drop = _falling(validation.losses, smoothed=False)
        if validation_drop is None:
            return None
    details.update(trainingDrop=round(train_drop, 4))
    fell = f"training loss fell {train_drop:.0%}"
    if validation_drop is not None:
        details.update(validationDrop=round(validation_drop, 4))
        fell += f" and validation loss {validation_drop:.0%}"
    else:
        fell += " (no validation curve: judged on training loss alone)"
    summary = f"underfitting: {fell} over the last {TAIL_SHARE:.0%} of the run and were still falling at the end"
    epochs = tuning.current("epochCount")
    change = tuning.change("epochCount", epochs * 2) if epochs is not None else None
    if change is not None:
        advice = (
            f"train for more epochs: set epochCount to {change.value} in job.json "
            f"(now {change.current}; allowed {change.allowed})"
        )
        return Diagnosis(UNDERFITTING, summary, advice, change, details)
    for name in ("learningRate", "learningRateMultiplier"):
        current = tuning.current(name)
        change = tuning.change(name, current * 2) if current is not None else None
        if change is not None:
            advice = (
                f"epochCount is at its largest: set {name} to {change.value} in job.json "
                f"(now {change.current}, twice it; allowed {change.allowed})"
            )
            return Diagnosis(UNDERFITTING, summary, advice, change, details)
    return Diagnosis(UNDERFITTING, summary, "add training data", None, details)


# -- curves.json -------------------------------------------------------------------------------


def thinned(points: Sequence[Point], limit: int = MAX_KEPT_POINTS) -> list[Point]:
    """At most `limit` points: consecutive steps averaged in equal buckets (the shape stays)."""
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / limit)
    return [_averaged_bucket(points[i : i + size]) for i in range(0, len(points), size)]


def _averaged_bucket(points: Sequence[Point]) -> Point:
    return Point(
        step=points[len(points) // 2].step,
        epoch=points[len(points) // 2].epoch,
        loss=sum(p.loss for p in points) / len(points),
    )


def curves_document(
    training: Curve | None, validation: Curve | None, diagnosis: Diagnosis, context: dict[str, Any]
) -> dict[str, Any]:
    """curves.json: where the files were, the (thinned) curves and the diagnosis."""

    def curve(found: Curve | None) -> dict[str, Any] | None:
        if found is None:
            return None
        kept = thinned(found.points)
        return {
            "uri": found.uri,
            "rows": found.rows,
            "steps": len(found.points),
            "thinnedTo": len(kept) if len(kept) < len(found.points) else None,
            "final": found.points[-1].loss,
            "best": min(found.losses),
            "points": [
                {
                    "step": p.step,
                    "epoch": p.epoch,
                    "loss": p.loss,
                    **({"perplexity": p.perplexity} if p.perplexity is not None else {}),
                }
                for p in kept
            ],
        }

    return {
        **context,
        "source": "https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html",
        "thresholds": {
            "overfittingPatience": OVERFITTING_PATIENCE,
            "overfittingMinRise": OVERFITTING_MIN_RISE,
            "unstableDeviation": UNSTABLE_DEVIATION,
            "unstableShare": UNSTABLE_SHARE,
            "underfittingDrop": UNDERFITTING_DROP,
            "tailShare": TAIL_SHARE,
        },
        **diagnosis.as_dict(),
        "training": curve(training),
        "validation": curve(validation),
    }
