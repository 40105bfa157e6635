"""The custom model's scores beside its base model's, the promotion decision, and the reports.

Pure functions of the answers: the Evaluate step, the tests and the local run share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from customization.catalog import ModelSpec
from customization.evaluation.cases import Case
from customization.evaluation.inference import Answer
from customization.evaluation.metrics import Gate, exact_match, percentile, token_f1
from customization.sweep import table as sweep_table

METRICS = {"exactMatch": "exact match", "tokenF1": "token F1"}  # config name -> words
# config name -> the ModelScore field (and evaluation.json key) that holds it
METRIC_FIELDS = {"exactMatch": "exact_match", "tokenF1": "token_f1"}
EXAMPLES_EACH_WAY = 3
SHOWN_CHARACTERS = 400
HOURLY = "included in the throughput's hourly price"


@dataclass(frozen=True)
class ModelScore:
    model: str  # what was invoked: a serving ARN or a base model ID
    exact_match: float
    token_f1: float
    mean_output_tokens: float
    mean_response_words: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int
    retries: int
    rejected: int  # requests the runtime refused (counted as wrong answers)
    cost_usd: float | None  # None: no price in the catalog
    cost_note: str

    def metric(self, name: str) -> float:
        return getattr(self, METRIC_FIELDS[name])


@dataclass(frozen=True)
class Comparison:
    metric: str
    min_improvement: float
    custom: ModelScore
    base: ModelScore
    records: int

    @property
    def improvement(self) -> float:
        return round(self.custom.metric(self.metric) - self.base.metric(self.metric), 6)

    @property
    def promoted(self) -> bool:
        return Gate(self.min_improvement).promoted(self.custom.metric(self.metric), self.base.metric(self.metric))

    def headline(self) -> str:
        """One line for the notification and the state: the numbers and the verdict."""
        name = METRICS[self.metric]
        verdict = "PROMOTED" if self.promoted else "NOT PROMOTED"
        other = "tokenF1" if self.metric == "exactMatch" else "exactMatch"
        return (
            f"{verdict}: {name} {self.custom.metric(self.metric):.2f} (custom) vs "
            f"{self.base.metric(self.metric):.2f} (base), {self.improvement:+.2f}, gate {self.min_improvement:+.2f}; "
            f"{METRICS[other]} {self.custom.metric(other):.2f} vs {self.base.metric(other):.2f}; "
            f"latency p50 {_ms(self.custom.latency_p50_ms)} vs {_ms(self.base.latency_p50_ms)} "
            f"on {self.records} validation records"
        )


def score(
    model: str, cases: Sequence[Case], answers: Sequence[Answer], prices: tuple[float | None, float | None], note: str
) -> ModelScore:
    """`prices`: USD per 1,000 input and output tokens, or None for a model billed by the hour."""
    count = max(len(answers), 1)
    input_tokens = sum(a.input_tokens for a in answers)
    output_tokens = sum(a.output_tokens for a in answers)
    latencies = [a.latency_ms for a in answers if a.error is None]
    per_input, per_output = prices
    cost = None
    if per_input is not None and per_output is not None:
        cost = round(input_tokens / 1000 * per_input + output_tokens / 1000 * per_output, 6)
    return ModelScore(
        model=model,
        exact_match=round(
            sum(exact_match(a.text, c.reference) for a, c in zip(answers, cases, strict=True)) / count, 4
        ),
        token_f1=round(sum(token_f1(a.text, c.reference) for a, c in zip(answers, cases, strict=True)) / count, 4),
        mean_output_tokens=round(output_tokens / count, 1),
        mean_response_words=round(sum(len(a.text.split()) for a in answers) / count, 1),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p95_ms=percentile(latencies, 0.95),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        retries=sum(a.retries for a in answers),
        rejected=sum(1 for a in answers if a.error is not None),
        cost_usd=cost,
        cost_note=note,
    )


def token_prices(base: ModelSpec, serving_mode: str | None) -> tuple[tuple, str]:
    """What the evaluation's tokens cost on this model: on-demand custom models are billed at
    the base model's token rates; provisioned throughput is paid by the hour instead."""
    prices = (base.prices.on_demand_per_1k_input_tokens, base.prices.on_demand_per_1k_output_tokens)
    if serving_mode == "provisioned":
        return (0.0, 0.0), HOURLY
    if None in prices:
        return (None, None), f"no on-demand token price for {base.name} in the catalog"
    return prices, "on-demand token prices from the catalog (estimates)"


@dataclass(frozen=True)
class Example:
    line: int
    prompt: str
    reference: str
    custom: str
    base: str
    custom_score: float
    base_score: float


def examples(
    metric: str, cases: Sequence[Case], custom: Sequence[Answer], base: Sequence[Answer]
) -> tuple[list[Example], list[Example]]:
    """The records where the custom model gained most over the base model, and where it did worst."""
    measure = exact_match if metric == "exactMatch" else token_f1
    rows = [
        Example(
            line=case.line,
            prompt=case.prompt,
            reference=case.reference,
            custom=c.text,
            base=b.text,
            custom_score=measure(c.text, case.reference),
            base_score=measure(b.text, case.reference),
        )
        for case, c, b in zip(cases, custom, base, strict=True)
    ]
    by_gain = sorted(rows, key=lambda r: (r.custom_score - r.base_score, r.custom_score, -r.line), reverse=True)
    best = by_gain[:EXAMPLES_EACH_WAY]
    worst = sorted(rows, key=lambda r: (r.custom_score, r.custom_score - r.base_score, r.line))[:EXAMPLES_EACH_WAY]
    return best, worst


def report(
    comparison: Comparison,
    context: dict,
    cases: Sequence[Case],
    custom: Sequence[Answer],
    base: Sequence[Answer],
) -> dict:
    """evaluation.json: the decision, both scores, and every record's answers."""
    best, worst = examples(comparison.metric, cases, custom, base)
    return {
        **context,
        "metric": comparison.metric,
        "minImprovement": comparison.min_improvement,
        "improvement": comparison.improvement,
        "promoted": comparison.promoted,
        "headline": comparison.headline(),
        "records": comparison.records,
        "custom": asdict(comparison.custom),
        "base": asdict(comparison.base),
        "bestExamples": [asdict(e) for e in best],
        "worstExamples": [asdict(e) for e in worst],
        "results": [
            {
                "line": case.line,
                "reference": case.reference,
                "custom": c.text,
                "base": b.text,
                "customLatencyMs": c.latency_ms,
                "baseLatencyMs": b.latency_ms,
                **({"customError": c.error} if c.error else {}),
                **({"baseError": b.error} if b.error else {}),
            }
            for case, c, b in zip(cases, custom, base, strict=True)
        ],
    }


def markdown(evaluation: dict) -> str:
    """evaluation.md: what a reviewer reads first."""
    custom, base = evaluation["custom"], evaluation["base"]
    metric = evaluation["metric"]
    lines = [
        f"# Evaluation: {evaluation['dataset']}",
        "",
        f"Custom model `{custom['model']}` against base model `{base['model']}` on "
        f"{evaluation['records']} records of `{evaluation['validationUri']}` "
        f"(a deterministic sample: the same file gives the same records).",
        "",
        f"**{'Promoted' if evaluation['promoted'] else 'Not promoted'}**: {METRICS[metric]} "
        f"{custom[METRIC_FIELDS[metric]]:.3f} vs {base[METRIC_FIELDS[metric]]:.3f} ({evaluation['improvement']:+.3f}); "
        f"the gate asks for at least {evaluation['minImprovement']:+.3f}.",
    ]
    lineage = evaluation.get("lineage") or {}
    if lineage:
        lines += [
            "",
            f"Trained on top of `{lineage.get('parentModel')}` (run `{lineage.get('parentRun') or '-'}`"
            + (f", dataset version `{lineage['parentDatasetVersion']}`" if lineage.get("parentDatasetVersion") else "")
            + "): the base model compared against is that model's foundation model.",
        ]
    if evaluation.get("servingAction"):
        lines += ["", f"Serving: {evaluation['servingAction']}"]
    lines += ["", *table(custom, base), "", *curves_section(evaluation.get("curves"))]
    if sweep_lines := sweep_table(evaluation.get("sweep")):
        lines += ["## Hyperparameter sweep", "", *sweep_lines, ""]
    for title, rows in (
        ("Where the custom model gained most", evaluation["bestExamples"]),
        ("Where the custom model did worst", evaluation["worstExamples"]),
    ):
        lines += [f"## {title}", ""]
        for row in rows:
            lines += [
                f"### Line {row['line']} (custom {row['custom_score']:.2f}, base {row['base_score']:.2f})",
                "",
                *_quoted("Prompt", row["prompt"]),
                *_quoted("Expected", row["reference"]),
                *_quoted("Custom", row["custom"]),
                *_quoted("Base", row["base"]),
            ]
    if evaluation.get("skipped"):
        lines += ["## Left out of the sample", ""]
        lines += [f"- {count} record(s): {reason}" for reason, count in evaluation["skipped"].items()]
        lines.append("")
    return "\n".join(lines)


def curves_section(curves: dict | None) -> list[str]:
    """The job's training curves: the diagnosis, what to change, and the chart beside this page."""
    if not curves:
        return []
    lines = ["## Training curves", "", f"**{curves['verdict'].capitalize()}**: {curves['summary']}", ""]
    lines += [f"What to change: {curves['advice']}", ""]
    if curves.get("chartUri"):
        # Relative: curves.svg is written beside this page (reports/<slug>/<run id>/).
        name = curves["chartUri"].rsplit("/", 1)[-1]
        lines += [f"![Training and validation loss against step]({name})", ""]
    if curves.get("reportUri"):
        lines += [f"The curves' points: `{curves['reportUri']}`", ""]
    return lines


def table(custom: dict, base: dict) -> list[str]:
    """Both models side by side (markdown, also printed by the local run)."""
    rows = [
        ("exact match", f"{custom['exact_match']:.3f}", f"{base['exact_match']:.3f}"),
        ("token F1", f"{custom['token_f1']:.3f}", f"{base['token_f1']:.3f}"),
        ("mean response (words)", f"{custom['mean_response_words']:g}", f"{base['mean_response_words']:g}"),
        ("latency p50 / p95", _latencies(custom), _latencies(base)),
        (
            "tokens in / out",
            f"{custom['input_tokens']:,} / {custom['output_tokens']:,}",
            f"{base['input_tokens']:,} / {base['output_tokens']:,}",
        ),
        ("estimated cost", _cost(custom), _cost(base)),
        ("throttled, retried", str(custom["retries"]), str(base["retries"])),
        ("rejected requests", str(custom["rejected"]), str(base["rejected"])),
    ]
    return [
        "| metric | custom | base |",
        "|---|---|---|",
        *(f"| {name} | {left} | {right} |" for name, left, right in rows),
    ]


def _latencies(score: dict) -> str:
    return f"{_ms(score['latency_p50_ms'])} / {_ms(score['latency_p95_ms'])}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _cost(score: dict) -> str:
    if score["cost_note"] == HOURLY:
        return "in the hourly price"
    return _usd(score["cost_usd"])


def _usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    # A sample costs fractions of a cent: enough digits to compare the two models.
    return f"${value:,.4f}" if value >= 0.01 else f"${value:.6f}"


def _quoted(label: str, text: str) -> list[str]:
    shown = text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + " …"
    quoted = "\n".join(f"> {line}" if line else ">" for line in shown.splitlines() or [""])
    return [f"**{label}:**", "", quoted, ""]
