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
The page does not say whether step_number runs on across epochs or starts again at 0 in each:
when a step number appears under two epochs, rows are keyed by (epoch, step) and the steps
are counted on across epochs (epoch by epoch), so that no two epochs fold into one point.
A NaN or infinite loss is no reason to refuse the file: it is a run that diverged, and the
diagnosis says so (the curve keeps its finite points).

Nothing here may fail a run: every problem becomes "no curve available: <why>".
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
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

# The diagnosis (see "-- the diagnosis --" below for how each verdict is tested). Fewer training
# steps than this show no trend at all.
MIN_TRAINING_POINTS = 3
# Overfitting: the validation loss stayed above its minimum for at least this many evaluations
# after it (2 is Bedrock's own earlyStoppingPatience default for Claude 3 Haiku, in the
# catalog), and each of the last OVERFITTING_PATIENCE evaluations is above the minimum by more
# than OVERFITTING_NOISE_MULTIPLE times the validation noise and by at least
# OVERFITTING_MIN_RISE (relative). The minimum of a noisy curve is itself a low draw, so a
# rise of one or two noise deviations after it is expected from noise alone; 3 is not. The
# floor of 5% stands for the noise a few evaluations cannot measure (a validation set of a few
# hundred records moves its mean loss by a few per cent between evaluations).
OVERFITTING_PATIENCE = 2
OVERFITTING_NOISE_MULTIPLE = 3.0
OVERFITTING_MIN_RISE = 0.05
# Unstable. Trend: the centred moving mean over MOVING_WINDOW_SHARE of the steps (at least
# MOVING_WINDOW_MIN, odd). The first WARMUP_SHARE of the steps is left out: the learning-rate
# warm-up and the fastest fall of the loss are there by design. Below MIN_POINTS_FOR_INSTABILITY
# steps after it there is too little to judge. The scale is the curve's overall drop (the
# range of its trend), never the loss itself: at a low loss floor ordinary batch noise is a
# large share of the loss but a small share of what training achieved. Unstable is any of:
# - diverging: the mean loss over the tail (TAIL_SHARE) climbed back above the lowest full
#   window of the trend by more than DIVERGENCE_RANGE_SHARE of the drop and more than
#   DIVERGENCE_NOISE_MULTIPLE standard errors of a window mean (the lowest of many noisy window
#   means is itself about 3 standard errors low, so 5 is not noise);
# - spiking: more than SPIKE_SHARE of the steps (and at least SPIKE_MIN_COUNT: one bad batch is
#   not an unstable run) stray from the trend by more than SPIKE_NOISE_MULTIPLE times the noise
#   of its fifth of the run (SPIKE_BLOCKS) and more than SPIKE_RANGE_SHARE of the drop
#   (per-record losses at batch size 1 are heavy tailed: exponential-like noise passes 8
#   robust deviations at about 1 step in 600);
# - oscillating: the loss swings by more than OSCILLATION_SHARE of the drop (robust deviation)
#   and alternates step to step: the lag-1 autocorrelation of the residuals is more than
#   OSCILLATION_AUTOCORRELATION below what independent noise gives (about -1/window). Noise of
#   any size is independent from batch to batch; a step size too large for the curvature
#   overshoots one way, then the other. Needs MIN_POINTS_FOR_OSCILLATION steps (the
#   autocorrelation of 30 noise residuals has a standard error of about 0.18).
MOVING_WINDOW_SHARE = 0.05
MOVING_WINDOW_MIN = 5
WARMUP_SHARE = 0.10
MIN_POINTS_FOR_INSTABILITY = 10
DIVERGENCE_RANGE_SHARE = 0.20
DIVERGENCE_NOISE_MULTIPLE = 5.0
SPIKE_NOISE_MULTIPLE = 8.0
SPIKE_RANGE_SHARE = 0.10
SPIKE_SHARE = 0.05
SPIKE_MIN_COUNT = 3
SPIKE_BLOCKS = 5  # the noise a spike is measured against is that of its fifth of the run
OSCILLATION_SHARE = 0.05
OSCILLATION_AUTOCORRELATION = 0.40
MIN_POINTS_FOR_OSCILLATION = 30
# Underfitting: a least-squares line through the last TAIL_SHARE of the steps (at least
# TAIL_MIN_POINTS) still falls, and the fall is real:
# - its t statistic (slope over its standard error) is above UNDERFITTING_T: 4, not the
#   textbook 2 or 3, because per-record losses are heavy tailed (one converged batch-size-1
#   curve in a few hundred reaches t = 3 by chance) while a fall worth more epochs is far above;
# - the fall over the tail is more than UNDERFITTING_NOISE_MULTIPLE times the residual
#   standard deviation (the fall stands out of the noise by eye): on a long run the t test
#   finds a fall far too small to be worth more epochs, and it trusts independent Gaussian
#   residuals, which real curves only approximate (batch-size-1 noise as large as the loss
#   passes t = 4 about once in 500 converged curves; it never falls one noise deviation);
# - the fall is more than UNDERFITTING_DROP of the tail's starting level: a converged curve
#   flattens, and under 3% over the last fifth is the flattening, not a fall.
# - the fall is more than UNDERFITTING_SHARE_OF_DROP of all the curve fell, from its start to
#   the end of the line: a curve that fell 1.5 and then 0.003 over its last fifth has
#   converged, however clear that last 0.003 is when the noise is small (a t test on ten
#   points of tiny noise finds such a slope now and then). A curve still falling as it ends
#   has fallen a good share of its drop in the last fifth (a straight decline: 20%).
# The validation loss, with VALIDATION_TREND_MIN_POINTS evaluations or more, must agree: its
# line over its own tail falls by more than UNDERFITTING_DROP and by more than
# UNDERFITTING_VALIDATION_NOISE_MULTIPLE times its noise. With fewer evaluations there is no
# validation trend, and the training loss is judged alone (the summary says so).
TAIL_SHARE = 0.2
TAIL_MIN_POINTS = 5
UNDERFITTING_T = 4.0
UNDERFITTING_NOISE_MULTIPLE = 1.0
UNDERFITTING_DROP = 0.03
UNDERFITTING_SHARE_OF_DROP = 0.05
VALIDATION_TREND_MIN_POINTS = 3
UNDERFITTING_VALIDATION_NOISE_MULTIPLE = 2.0

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
    """One loss against step: a point a step (several rows of one step averaged), sorted.
    Only finite losses are points; the first row whose loss is NaN or infinite is `not_finite`."""

    uri: str
    points: tuple[Point, ...]
    rows: int  # rows read (before averaging the rows of one step)
    not_finite: Point | None = None  # its loss is the NaN or infinity read
    restarted: bool = False  # step numbers started again in each epoch: steps here run on

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
    read: list[Point] = []
    count = 0
    for count, row in enumerate(rows, start=1):
        if count > max_rows:
            raise CurvesUnavailable(too_large(uri, f"more than {max_rows:,} rows"))
        line = reader.line_num
        step = _whole(_cell(row, at["step_number"], uri, line, "step_number"), uri, line, "step_number")
        epoch = _whole(_cell(row, at["epoch_number"], uri, line, "epoch_number"), uri, line, "epoch_number")
        loss = _loss(_cell(row, at[loss_column], uri, line, loss_column), uri, line, loss_column)
        perplexity = None
        if perplexity_at is not None and perplexity_at < len(row):
            try:
                perplexity = _finite(float(row[perplexity_at]))
            except ValueError:
                perplexity = None  # optional: a blank or odd perplexity does not spoil the loss
        read.append(Point(step, epoch, loss, perplexity))
    if not read:
        raise CurvesUnavailable(f"{uri} is empty: a header and no rows")
    epochs_of: dict[int, set[int]] = {}
    for point in read:
        epochs_of.setdefault(point.step, set()).add(point.epoch)
    restarted = any(len(epochs) > 1 for epochs in epochs_of.values())
    if restarted:
        read = _counted_on(read)
    by_step: dict[int, list[Point]] = {}
    bad: list[Point] = []
    for point in read:
        (by_step.setdefault(point.step, []) if math.isfinite(point.loss) else bad).append(point)
    return Curve(
        uri=uri,
        points=tuple(_averaged(by_step[step]) for step in sorted(by_step)),
        rows=count,
        not_finite=min(bad, key=lambda p: p.step) if bad else None,
        restarted=restarted,
    )


def _counted_on(read: list[Point]) -> list[Point]:
    """Steps numbered anew in each epoch, counted on: an epoch starts one after the last step
    of the epoch before it."""
    last: dict[int, int] = {}
    for point in read:
        last[point.epoch] = max(last.get(point.epoch, 0), point.step)
    offset, offsets = 0, {}
    for epoch in sorted(last):
        offsets[epoch] = offset
        offset += last[epoch] + 1
    return [Point(p.step + offsets[p.epoch], p.epoch, p.loss, p.perplexity) for p in read]


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


def _loss(text: str, uri: str, line: int, column: str) -> float:
    """A loss: any number, NaN and infinity included (a diverged run writes them)."""
    try:
        return float(text)
    except ValueError:
        raise CurvesUnavailable(f"{uri} line {line}: {column} {text[:40]!r} is not a finite number") from None


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
#
# Every verdict is a test against the curve's own noise, so that the noise of a batch (small
# for large batches, as large as the loss itself at batch size 1) never reads as a problem:
# - the noise of the training loss is the robust spread (1.4826 x the median absolute
#   deviation: the standard deviation for Gaussian noise, barely moved by a few spikes) of its
#   residuals from its centred moving mean;
# - the noise of the validation loss (a few evaluations) is the robust spread of its second
#   differences: zero on a smooth curve (the bend at its minimum is left out).


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

    def scaled(self, name: str, factor: float) -> Change | None:
        """`name` set to `factor` times what the run used, within bounds; None when it has no value."""
        current = self.current(name)
        return self.change(name, current * factor) if current is not None else None

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
    that holds is the verdict), with the change to try. A loss that became NaN or infinite is
    unstable before anything else: the run diverged."""
    details: dict[str, Any] = {"trainingSteps": len(training.points)}
    if validation:
        details["validationEvaluations"] = len(validation.points)
    if training.restarted or (validation and validation.restarted):
        details["stepsRestartEachEpoch"] = True
    if note:
        details["note"] = note
    diverged = _not_finite(training, validation, tuning, details)
    if diverged:
        return diverged
    if len(training.points) < MIN_TRAINING_POINTS:
        return unavailable(
            f"{training.uri} has {len(training.points)} step(s); a trend needs at least {MIN_TRAINING_POINTS}"
        )
    if validation is not None and not validation.points:
        validation = None
    epochs = [p.epoch for p in training.points] + ([p.epoch for p in validation.points] if validation else [])
    base = min(epochs)
    found = (
        _overfitting(validation, base, tuning, details)
        or _unstable(training, tuning, details)
        or _underfitting(training, validation, tuning, details)
    )
    if found:
        return found
    settled = f"training loss settled near {_tail_mean(training.losses):.4f}"
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


# -- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFit:
    slope: float
    intercept: float
    residual_sd: float  # 0 for two points or a perfect line
    slope_se: float

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def line_fit(xs: Sequence[float], ys: Sequence[float]) -> LineFit:
    """The least-squares line through (xs, ys), with the standard error of its slope."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return LineFit(0.0, mean_y, 0.0, math.inf)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    squares = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    residual_sd = math.sqrt(squares / (n - 2)) if n > 2 else 0.0
    return LineFit(slope, intercept, residual_sd, residual_sd / math.sqrt(sxx))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def robust_sd(values: Sequence[float]) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of Gaussian noise, and
    barely moved by a few outliers."""
    if not values:
        return 0.0
    centre = median(values)
    return 1.4826 * median([abs(v - centre) for v in values])


def validation_noise(losses: Sequence[float]) -> float:
    """The noise of a short curve, from its second differences (x[i-1] - 2 x[i] + x[i+1]: about
    zero wherever the curve is smooth, and sqrt(6) sigma for independent noise), by their
    robust spread. The one centred on the minimum is left out: the bend there is the signal."""
    if len(losses) < 3:
        return 0.0
    lowest = min(range(len(losses)), key=lambda i: (losses[i], -i))
    bends = [losses[i - 1] - 2 * losses[i] + losses[i + 1] for i in range(1, len(losses) - 1) if i != lowest]
    return 1.4826 * median([abs(b) for b in bends]) / math.sqrt(6) if bends else 0.0


def lag1_autocorrelation(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    centred = [v - mean for v in values]
    variance = sum(c * c for c in centred)
    if variance == 0:
        return 0.0
    return sum(a * b for a, b in pairwise(centred)) / variance


def noise_autocorrelation(window: int) -> float:
    """The lag-1 autocorrelation of independent noise's residuals from a centred moving mean."""
    own, other = 1 - 1 / window, -1 / window
    covariance = 2 * own * other + (window - 2) * other * other
    variance = own * own + (window - 1) * other * other
    return covariance / variance


def tail_size(count: int, minimum: int = TAIL_MIN_POINTS) -> int:
    return min(count, max(minimum, math.ceil(count * TAIL_SHARE)))


def _tail_mean(losses: Sequence[float]) -> float:
    tail = losses[-tail_size(len(losses)) :]
    return sum(tail) / len(tail)


# -- the verdicts ------------------------------------------------------------------------------


def _not_finite(training: Curve, validation: Curve | None, tuning: Tuning, details: dict) -> Diagnosis | None:
    for which, found in (("training", training), ("validation", validation)):
        if found is None or found.not_finite is None:
            continue
        at = found.not_finite
        details.update(notFiniteStep=at.step, notFiniteEpoch=at.epoch, notFiniteCurve=which)
        summary = (
            f"unstable: the loss became NaN/infinite at step {at.step} ({which} loss, epoch {at.epoch}): "
            "the run diverged"
        )
        return _unstable_advice(summary, tuning, details)
    return None


def _overfitting(validation: Curve | None, base: int, tuning: Tuning, details: dict) -> Diagnosis | None:
    if validation is None or len(validation.points) < OVERFITTING_PATIENCE + 1:
        return None
    losses = validation.losses
    lowest = min(losses)
    # The last evaluation at the minimum: every one after it is above it.
    at = max(i for i, loss in enumerate(losses) if loss == lowest)
    after = len(losses) - 1 - at
    if after < OVERFITTING_PATIENCE:
        return None
    noise = validation_noise(losses)
    needed = max(OVERFITTING_NOISE_MULTIPLE * noise, OVERFITTING_MIN_RISE * abs(lowest))
    # Persisted: each of the last OVERFITTING_PATIENCE evaluations is that far above the minimum.
    held = min(losses[-OVERFITTING_PATIENCE:]) - lowest
    if held <= needed or lowest <= 0:
        return None
    rise = (losses[-1] - lowest) / lowest
    minimum = validation.points[at]
    epoch = _epoch_ordinal(minimum.epoch, base)
    details.update(
        k=after,
        minimumEpoch=epoch,
        minimumStep=minimum.step,
        minimumLoss=lowest,
        rise=round(rise, 4),
        validationNoise=round(noise, 6),
    )
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
        if tuning.current(name) is not None:
            return tuning.scaled(name, 0.5)
    return None


def _unstable(training: Curve, tuning: Tuning, details: dict) -> Diagnosis | None:
    losses, steps = training.losses, [p.step for p in training.points]
    count = len(losses)
    window = window_for(count)
    half = window // 2
    trend = moving_mean(losses, window)
    first = math.ceil(count * WARMUP_SHARE)
    if count - first < MIN_POINTS_FOR_INSTABILITY:
        return None
    residuals = [loss - mean for loss, mean in zip(losses[first:], trend[first:], strict=True)]
    noise = robust_sd(residuals)
    drop = max(trend) - min(trend)
    scale = drop if drop > 0 else max(abs(max(losses)), 1e-12)
    measured = {"window": window, "noise": round(noise, 6), "drop": round(drop, 6)}
    # Full windows only: a window cut short at either end is a noisier mean.
    full = range(max(first, half), count - half)

    if full:
        low = min(full, key=lambda i: trend[i])
        tail_mean = _tail_mean(losses)
        climbed = tail_mean - trend[low]
        if (
            climbed > DIVERGENCE_RANGE_SHARE * scale
            and climbed > DIVERGENCE_NOISE_MULTIPLE * noise / math.sqrt(window)
            and low < count - tail_size(count)
        ):
            details.update(measured, lowestStep=steps[low], climbed=round(climbed, 6), climbedShare=climbed / scale)
            summary = (
                f"unstable: training loss climbed back up from {trend[low]:.4f} (step {steps[low]}) to "
                f"{tail_mean:.4f} over the last {TAIL_SHARE:.0%} of the run, {climbed / scale:.0%} of its overall "
                "drop: it is diverging"
            )
            return _unstable_advice(summary, tuning, details)

    # Upward only (a loss spikes up; a convex fall leaves the moving mean above the loss), and
    # against the noise of its own stretch of the run: per-record noise shrinks with the loss.
    size = max(window, math.ceil(len(residuals) / SPIKE_BLOCKS))
    spikes = []
    for start in range(0, len(residuals), size):
        block = residuals[start : start + size]
        threshold = max(SPIKE_NOISE_MULTIPLE * robust_sd(block), SPIKE_RANGE_SHARE * scale)
        spikes += [steps[first + start + i] for i, r in enumerate(block) if r > threshold]
    if len(spikes) >= SPIKE_MIN_COUNT and len(spikes) > SPIKE_SHARE * len(residuals):
        share = len(spikes) / len(residuals)
        details.update(measured, spikes=len(spikes), checkedSteps=len(residuals), spikeShare=round(share, 4))
        summary = (
            f"unstable: training loss jumped more than {SPIKE_NOISE_MULTIPLE:g} times its noise (and "
            f"{SPIKE_RANGE_SHARE:.0%} of its overall drop) away from its {window}-step moving mean at {len(spikes)} "
            f"steps ({share:.0%}; first at step {spikes[0]})"
        )
        return _unstable_advice(summary, tuning, details)

    if len(full) >= MIN_POINTS_FOR_OSCILLATION:
        inner = [losses[i] - trend[i] for i in full]
        correlation = lag1_autocorrelation(inner)
        swing = robust_sd(inner)
        if (
            correlation - noise_autocorrelation(window) < -OSCILLATION_AUTOCORRELATION
            and swing > OSCILLATION_SHARE * scale
        ):
            details.update(measured, swing=round(swing, 6), lag1Autocorrelation=round(correlation, 4))
            summary = (
                f"unstable: training loss swung up and down around its {window}-step moving mean by "
                f"{swing / scale:.0%} of its overall drop, alternating from step to step "
                f"(lag-1 autocorrelation {correlation:.2f}): the steps overshoot"
            )
            return _unstable_advice(summary, tuning, details)
    return None


def _unstable_advice(summary: str, tuning: Tuning, details: dict) -> Diagnosis:
    change = _lower_learning_rate(tuning)
    if change is not None:
        advice = (
            f"lower the learning rate: set {change.hyperparameter} to {change.value} in job.json "
            f"(now {change.current}, half of it; allowed {change.allowed})"
        )
        return Diagnosis(UNSTABLE, summary, advice, change, details)
    change = tuning.scaled("batchSize", 2)
    if change is not None:
        advice = (
            f"the learning rate is at its lowest: set batchSize to {change.value} in job.json "
            f"(now {change.current}; allowed {change.allowed}) to average more records a step"
        )
        return Diagnosis(UNSTABLE, summary, advice, change, details)
    return Diagnosis(UNSTABLE, summary, "check the training data for mislabelled or duplicated records", None, details)


def _tail_fall(curve_: Curve, minimum: int) -> tuple[float, float, LineFit]:
    """The fall and the relative fall of the least-squares line over the curve's tail, and the line."""
    size = tail_size(len(curve_.points), minimum)
    tail = curve_.points[-size:]
    xs, ys = [float(p.step) for p in tail], [p.loss for p in tail]
    fit = line_fit(xs, ys)
    fall = -fit.slope * (xs[-1] - xs[0])
    start = fit.at(xs[0])
    return fall, (fall / start if start > 0 else 0.0), fit


def _falling_training(training: Curve, details: dict) -> float | None:
    fall, relative, fit = _tail_fall(training, TAIL_MIN_POINTS)
    t = -fit.slope / fit.slope_se if fit.slope_se > 0 else (math.inf if fit.slope < 0 else 0.0)
    if (
        relative > UNDERFITTING_DROP
        and t > UNDERFITTING_T
        and fall > UNDERFITTING_NOISE_MULTIPLE * fit.residual_sd
        and fall > UNDERFITTING_SHARE_OF_DROP * _overall_drop(training, fit)
    ):
        details.update(trainingDrop=round(relative, 4), trainingT=round(t, 2) if math.isfinite(t) else None)
        return relative
    return None


def _overall_drop(curve_: Curve, tail_fit: LineFit) -> float:
    """How far the curve fell in all: from the mean of its first points to the end of the tail's line."""
    losses = curve_.losses
    first = losses[: max(3, math.ceil(len(losses) * 0.05))]
    return max(0.0, sum(first) / len(first) - tail_fit.at(float(curve_.points[-1].step)))


def _falling_validation(validation: Curve, details: dict) -> float | None:
    fall, relative, _ = _tail_fall(validation, VALIDATION_TREND_MIN_POINTS)
    noise = validation_noise(validation.losses)
    if relative > UNDERFITTING_DROP and fall > UNDERFITTING_VALIDATION_NOISE_MULTIPLE * noise:
        details.update(validationDrop=round(relative, 4))
        return relative
    return None


def _underfitting(training: Curve, validation: Curve | None, tuning: Tuning, details: dict) -> Diagnosis | None:
    scratch: dict[str, Any] = {}
    train_drop = _falling_training(training, scratch)
    if train_drop is None:
        return None
    fell = f"training loss fell {train_drop:.0%}"
    if validation is not None and len(validation.points) >= VALIDATION_TREND_MIN_POINTS:
        validation_drop = _falling_validation(validation, scratch)
        if validation_drop is None:
            return None
        fell += f" and validation loss {validation_drop:.0%}"
    elif validation is not None:
        fell += (
            f" (the validation curve has {len(validation.points)} evaluation(s), too few for a trend: "
            "judged on training loss alone)"
        )
    else:
        fell += " (no validation curve: judged on training loss alone)"
    details.update(scratch)
    summary = f"underfitting: {fell} over the last {TAIL_SHARE:.0%} of the run and were still falling at the end"
    change = tuning.scaled("epochCount", 2)
    if change is not None:
        advice = (
            f"train for more epochs: set epochCount to {change.value} in job.json "
            f"(now {change.current}; allowed {change.allowed})"
        )
        return Diagnosis(UNDERFITTING, summary, advice, change, details)
    for name in ("learningRate", "learningRateMultiplier"):
        change = tuning.scaled(name, 2)
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
            "final": found.points[-1].loss if found.points else None,
            "best": min(found.losses) if found.points else None,
            "notFinite": {"step": found.not_finite.step, "epoch": found.not_finite.epoch} if found.not_finite else None,
            "stepsRestartEachEpoch": found.restarted,
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
            "overfittingNoiseMultiple": OVERFITTING_NOISE_MULTIPLE,
            "overfittingMinRise": OVERFITTING_MIN_RISE,
            "divergenceRangeShare": DIVERGENCE_RANGE_SHARE,
            "divergenceNoiseMultiple": DIVERGENCE_NOISE_MULTIPLE,
            "spikeNoiseMultiple": SPIKE_NOISE_MULTIPLE,
            "spikeRangeShare": SPIKE_RANGE_SHARE,
            "spikeShare": SPIKE_SHARE,
            "oscillationShare": OSCILLATION_SHARE,
            "oscillationAutocorrelation": OSCILLATION_AUTOCORRELATION,
            "underfittingT": UNDERFITTING_T,
            "underfittingNoiseMultiple": UNDERFITTING_NOISE_MULTIPLE,
            "underfittingDrop": UNDERFITTING_DROP,
            "underfittingShareOfDrop": UNDERFITTING_SHARE_OF_DROP,
            "tailShare": TAIL_SHARE,
        },
        **diagnosis.as_dict(),
        "training": curve(training),
        "validation": curve(validation),
    }
