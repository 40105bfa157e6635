"""curves.svg: training and validation loss against step, drawn by hand as plain SVG.

Plain on purpose: no scripts, no external fonts or styles, no CSS classes (e-mail clients
and GitHub's image proxy strip them), a white background (GitHub's dark theme would show a
transparent chart on black), explicit width and height with a viewBox (it scales), and a
<title> for screen readers. No plotting library: matplotlib alone would triple the Lambda asset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import pairwise
from xml.sax.saxutils import escape

from customization.curves import Curve, Diagnosis, Point, thinned

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 24, 56, 64
TRAINING_COLOUR = "#1f6fb4"  # blue and orange: told apart with the common colour-vision deficiencies
VALIDATION_COLOUR = "#d9730d"
GRID_COLOUR = "#e3e3e3"
TEXT_COLOUR = "#222222"
FONT = 'font-family="Helvetica, Arial, sans-serif"'  # generic families: nothing to download
MAX_DRAWN_POINTS = 400  # per curve; more is not visible at this width
DIVERGED_COLOUR = "#b00020"
# Characters XML 1.0 does not allow, even escaped (control characters other than tab, newline
# and carriage return, surrogates, U+FFFE and U+FFFF). A dataset name may hold them
# (layout.dataset_name_problem refuses only "/"): they become U+FFFD, so the SVG stays XML.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` escaped for an XML text node or attribute, any character XML 1.0 forbids replaced."""
    return escape(NOT_XML.sub("\ufffd", text), {'"': "&quot;"})


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering low..high."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    # From the tick at or below `low` to the one at or above `high`: every point is inside.
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(n * step, 12) for n in range(first, max(last, first + 1) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def render(training: Curve, validation: Curve | None, diagnosis: Diagnosis, title: str) -> str:
    train_points = thinned(training.points, MAX_DRAWN_POINTS)
    valid_points = thinned(validation.points, MAX_DRAWN_POINTS) if validation else []
    everything = train_points + valid_points
    diverged = [c.not_finite for c in (training, validation) if c is not None and c.not_finite is not None]
    steps = [p.step for p in everything] + [p.step for p in diverged] or [0]
    losses = [p.loss for p in everything] or [0.0, 1.0]  # every loss NaN: axes, and the marker
    x_ticks = nice_ticks(min(steps), max(steps))
    y_ticks = nice_ticks(min(losses), max(losses))
    x_low, x_high, y_low, y_high = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(step: float) -> float:
        return LEFT + (step - x_low) / ((x_high - x_low) or 1) * plot_w

    def y(loss: float) -> float:
        return TOP + plot_h - (loss - y_low) / ((y_high - y_low) or 1) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title">',
        f'<title id="title">{xml_text(title)}: {xml_text(diagnosis.summary)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(LEFT, 22, title, size=15, weight="bold"),
        _text(LEFT, 42, diagnosis.summary[:120], size=12),
    ]
    for tick in y_ticks:
        parts.append(_line(LEFT, y(tick), LEFT + plot_w, y(tick), GRID_COLOUR))
        parts.append(_text(LEFT - 8, y(tick) + 4, _label(tick), size=11, anchor="end"))
    for tick in x_ticks:
        parts.append(_line(x(tick), TOP + plot_h, x(tick), TOP + plot_h + 5, TEXT_COLOUR))
        parts.append(_text(x(tick), TOP + plot_h + 19, _label(tick), size=11, anchor="middle"))
    parts += _epoch_boundaries(train_points, x, TOP, plot_h)
    parts.append(_line(LEFT, TOP, LEFT, TOP + plot_h, TEXT_COLOUR))
    parts.append(_line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, TEXT_COLOUR))
    parts.append(_text(LEFT + plot_w / 2, HEIGHT - 22, "step", size=12, anchor="middle"))
    parts.append(
        f'<text x="18" y="{TOP + plot_h / 2:.1f}" {FONT} font-size="12" fill="{TEXT_COLOUR}" '
        f'text-anchor="middle" transform="rotate(-90 18 {TOP + plot_h / 2:.1f})">loss</text>'
    )
    for point in diverged[:1]:
        at = x(point.step)
        parts.append(
            f'<line x1="{at:.1f}" y1="{TOP:.1f}" x2="{at:.1f}" y2="{TOP + plot_h:.1f}" '
            f'stroke="{DIVERGED_COLOUR}" stroke-width="2"/>'
        )
        parts.append(_text(at - 4, TOP + 26, "loss NaN/infinite", size=10, anchor="end", colour=DIVERGED_COLOUR))
    if train_points:
        parts.append(_polyline(train_points, x, y, TRAINING_COLOUR, dashed=False))
    if valid_points:
        parts.append(_polyline(valid_points, x, y, VALIDATION_COLOUR, dashed=True))
        parts += [
            f'<circle cx="{x(p.step):.1f}" cy="{y(p.loss):.1f}" r="2.5" fill="{VALIDATION_COLOUR}"/>'
            for p in valid_points
        ]
        best = min(valid_points, key=lambda p: (p.loss, -p.step))
        parts.append(
            f'<circle cx="{x(best.step):.1f}" cy="{y(best.loss):.1f}" r="5" fill="none" '
            f'stroke="{VALIDATION_COLOUR}" stroke-width="2"/>'
        )
    parts += _legend(LEFT + plot_w - 190, TOP + 8, bool(valid_points))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _epoch_boundaries(points: Sequence[Point], x, top: float, height: float) -> list[str]:
    """A dashed line where each epoch after the first begins, labelled with the epoch."""
    drawn, first_epoch = [], points[0].epoch if points else 0
    for previous, point in pairwise(points):
        if point.epoch != previous.epoch:
            at = x(point.step)
            drawn.append(
                f'<line x1="{at:.1f}" y1="{top:.1f}" x2="{at:.1f}" y2="{top + height:.1f}" '
                f'stroke="#999999" stroke-width="1" stroke-dasharray="4 4"/>'
            )
            ordinal = point.epoch - first_epoch + 1
            drawn.append(_text(at + 4, top + 12, f"epoch {ordinal}", size=10, colour="#666666"))
    return drawn


def _legend(left: float, top: float, with_validation: bool) -> list[str]:
    rows = [("training loss", TRAINING_COLOUR, False)]
    if with_validation:
        rows.append(("validation loss (circle: lowest)", VALIDATION_COLOUR, True))
    parts = [
        f'<rect x="{left:.1f}" y="{top:.1f}" width="186" height="{10 + 18 * len(rows)}" fill="#ffffff" '
        f'stroke="#bbbbbb" stroke-width="1"/>'
    ]
    for i, (label, colour, dashed) in enumerate(rows):
        row_y = top + 15 + 18 * i
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        parts.append(
            f'<line x1="{left + 8:.1f}" y1="{row_y:.1f}" x2="{left + 30:.1f}" y2="{row_y:.1f}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(_text(left + 36, row_y + 4, label, size=11))
    return parts


def _polyline(points: Sequence[Point], x, y, colour: str, *, dashed: bool) -> str:
    coordinates = " ".join(f"{x(p.step):.1f},{y(p.loss):.1f}" for p in points)
    dash = ' stroke-dasharray="6 3"' if dashed else ""
    return f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-width="1"/>'


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int,
    anchor: str = "start",
    weight: str = "normal",
    colour: str = TEXT_COLOUR,
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" {FONT} font-size="{size}" font-weight="{weight}" fill="{colour}" '
        f'text-anchor="{anchor}">{xml_text(text)}</text>'
    )
