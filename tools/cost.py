"""`python -m tools cost --env NAME (--run RUN | --base-model ID) --tokens-per-day N`: what
serving a custom model will cost, on demand against provisioned throughput (no commitment,
1 month, 6 months), before anyone reserves throughput.

The arithmetic the tutorial asks for ("calculate ROI before committing"): the cost of each
option for the expected traffic over `--days`, the traffic above which provisioned
throughput is cheaper than on demand (the break-even), the cheapest option, and the model
units the traffic needs. Training and storage are the same whichever option serves the
model; they are added so that the total over the days is complete.

Every price comes from the catalog (lambdas/customization/catalog.json), an estimate with its
source page. A price the catalog does not have is "unknown", never 0, and an option without
a price is named as not compared rather than silently left out.

AWS quotes provisioned throughput per account (its Provisioned Throughput page says the
throughput of a model unit comes from the account manager), so the catalog has no such price
for current models. A user with a quote gives it on the command line: `--unit-price-per-hour`,
`--unit-price-1-month`, `--unit-price-6-months` (the hourly rate of one model unit under each
term) and `--unit-tokens-per-minute` (what one unit serves, input and output together). Each
overrides the catalog's value for that run and is marked "from the command line" in the
output, where the catalog's are "catalog estimate".

`--base-model` needs no AWS account (cdk.json says which models the environment allows);
`--run` reads the run as `status` does: its base model, serving and training estimate.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from customization.catalog import ModelSpec, UnknownModelError, load_catalog
from customization.cost import HOURS_PER_MONTH, estimate_cost
from customization.run_state import SERVING, VALIDATION, part, run_settings, served_arn
from customization.serving import NONE, ON_DEMAND, ServingPlan
from tools.deployed import (
    EXIT_OK,
    EXIT_USAGE,
    DeployedEnvironment,
    UsageError,
    aws_errors,
    bedrock_job,
    describe_run,
    environment_config,
    names_of_execution,
    session_for,
    usd,
)

HOURS_PER_DAY = 24
MINUTES_PER_DAY = 24 * 60
DEFAULT_DAYS = 30
# Bedrock's CloudWatch metrics count input and output tokens apart (InputTokenCount,
# OutputTokenCount); without them, one output token for every four input tokens is a common
# shape for chat and extraction. The share is printed with every result, so the assumption
# is never hidden.
DEFAULT_OUTPUT_SHARE = 0.2

ON_DEMAND_OPTION = "onDemand"
# (key in the catalog's provisionedPerHourPerUnit, label, hours billed per term: None = by the hour)
PROVISIONED_TERMS = (
    ("noCommitment", "Provisioned, no commitment", None),
    ("OneMonth", "Provisioned, 1-month commitment", HOURS_PER_MONTH),
    ("SixMonths", "Provisioned, 6-month commitment", 6 * HOURS_PER_MONTH),
)
LABELS = {ON_DEMAND_OPTION: "On demand", **{key: label for key, label, _ in PROVISIONED_TERMS}}
# The flag that gives each term's hourly rate per model unit from a quote.
PRICE_FLAGS = {
    "noCommitment": "--unit-price-per-hour",
    "OneMonth": "--unit-price-1-month",
    "SixMonths": "--unit-price-6-months",
}
TOKENS_PER_MINUTE_FLAG = "--unit-tokens-per-minute"
CATALOG = "catalog estimate"
COMMAND_LINE = "from the command line"
# No-commitment throughput has exactly one model unit (at most two such per account).
NO_COMMITMENT_UNITS = 1
PRICING_PAGE = "https://aws.amazon.com/bedrock/pricing/"
THROUGHPUT_PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/prov-throughput.html"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are read as text and checked in run(): a bad value is then one `error:` line,
    # as every command's usage errors are, rather than argparse's usage block.
    parser.add_argument("--env", required=True, help="environment from cdk.json")
    parser.add_argument("--run", dest="run_name", metavar="RUN", help="a run (as status lists it): its base model")
    parser.add_argument("--base-model", metavar="ID", help="a base model the environment allows (no AWS calls)")
    parser.add_argument(
        "--tokens-per-day",
        required=True,
        metavar="N",
        help="expected traffic, input and output tokens together: 2000000, 2e6 or 2M",
    )
    parser.add_argument(
        "--output-share",
        default=str(DEFAULT_OUTPUT_SHARE),
        metavar="F",
        help=f"the share of those tokens the model writes, 0 to 1 (default {DEFAULT_OUTPUT_SHARE}: "
        "measure it from CloudWatch InputTokenCount and OutputTokenCount)",
    )
    parser.add_argument("--days", default=str(DEFAULT_DAYS), metavar="D", help=f"how long (default {DEFAULT_DAYS})")
    parser.add_argument(
        "--training-tokens",
        metavar="N",
        help="with --base-model: the dataset's tokens (tools validate prints them), to add the training cost",
    )
    for key, flag in PRICE_FLAGS.items():
        term = {"noCommitment": "without commitment", "OneMonth": "with a 1-month commitment"}.get(
            key, "with a 6-month commitment"
        )
        parser.add_argument(
            flag,
            metavar="USD",
            help=f"a quote: the hourly rate of one model unit {term}, instead of the catalog's",
        )
    parser.add_argument(
        TOKENS_PER_MINUTE_FLAG,
        metavar="N",
        help="a quote: tokens a minute (input and output together) one model unit serves, instead of the catalog's",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")


def run(args: argparse.Namespace, session: Any = None) -> int:
    try:
        traffic = Traffic(
            tokens_per_day=tokens_argument("--tokens-per-day", args.tokens_per_day),
            output_share=share_argument(args.output_share),
            days=days_argument(args.days),
        )
        quote = Quote(
            hourly={
                key: price_argument(flag, getattr(args, _dest(flag)))
                for key, flag in PRICE_FLAGS.items()
                if getattr(args, _dest(flag)) is not None
            },
            tokens_per_minute=None
            if args.unit_tokens_per_minute is None
            else tokens_per_minute_argument(args.unit_tokens_per_minute),
        )
        if args.run_name and args.base_model:
            raise UsageError("give --run RUN or --base-model ID, not both: a run's base model is the run's own")
        if not (args.run_name or args.base_model):
            raise UsageError("give --run RUN or --base-model ID: the model whose serving to price")
        if args.run_name:
            if args.training_tokens is not None:
                raise UsageError("--training-tokens is for --base-model: a run's training cost is its own estimate")
            subject = of_run(args.env, args.run_name, session)
        else:
            training_tokens = (
                None if args.training_tokens is None else tokens_argument("--training-tokens", args.training_tokens)
            )
            subject = of_base_model(args.env, args.base_model, training_tokens)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = compare(subject, traffic, quote)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return EXIT_OK


# -- the arguments ----------------------------------------------------------------------------------

_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9}


def tokens_argument(flag: str, text: str) -> int:
    """A positive number of tokens as people write it: 2000000, 2,000,000, 2e6, 2M, 500k."""
    # Separators only as written in thousands (2,000,000 or 2_000_000): "1,2,3" is not 123.
    match = re.fullmatch(
        r"\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?:_[0-9]{3})+|[0-9]+)((?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmb]?)\s*",
        text.lower(),
    )
    value = (
        float(match.group(1).replace(",", "").replace("_", "") + match.group(2)) * _SUFFIXES[match.group(3)]
        if match
        else 0
    )
    if not value >= 1 or not math.isfinite(value):
        raise UsageError(f"{flag} is {text!r}; allowed: a positive number of tokens, e.g. 2000000, 2e6 or 2M")
    return round(value)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def price_argument(flag: str, text: str) -> float:
    """A quoted hourly rate in US dollars: a positive, finite number (20.5, not $20.5/h)."""
    try:
        price = float(text)
    except ValueError:
        price = math.nan
    if not (price > 0 and math.isfinite(price)):
        raise UsageError(
            f"{flag} is {text!r}; allowed: a positive number of US dollars an hour for one model unit, e.g. 20.5"
        )
    return price


def tokens_per_minute_argument(text: str) -> int:
    """What one model unit serves a minute, as a quote gives it: 20000, 2e4 or 20k."""
    try:
        return tokens_argument(TOKENS_PER_MINUTE_FLAG, text)
    except UsageError:
        raise UsageError(
            f"{TOKENS_PER_MINUTE_FLAG} is {text!r}; allowed: a positive number of tokens a minute "
            "(input and output together) that one model unit serves, e.g. 20000 or 20k"
        ) from None


def share_argument(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not 0 <= share <= 1:
        raise UsageError(f"--output-share is {text!r}; allowed: a number from 0 to 1, e.g. 0.2 for 20% output tokens")
    return share


def days_argument(text: str) -> int:
    if not re.fullmatch(r"\s*[0-9]+\s*", text) or int(text) < 1:
        raise UsageError(f"--days is {text!r}; allowed: a whole number of days, at least 1")
    return int(text)


# -- what is priced -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traffic:
    tokens_per_day: float
    output_share: float
    days: int

    @property
    def output_per_day(self) -> float:
        return self.tokens_per_day * self.output_share

    @property
    def input_per_day(self) -> float:
        return self.tokens_per_day - self.output_per_day


@dataclass(frozen=True)
class Quote:
    """What the command line says of provisioned throughput, from the user's quote: hourly
    rates per model unit by term (keys of PROVISIONED_TERMS) and the tokens a minute, input and
    output together, one unit serves. Each overrides the catalog's value; empty: none given."""

    hourly: dict[str, float] = field(default_factory=dict)
    tokens_per_minute: int | None = None

    @property
    def given(self) -> bool:
        return bool(self.hourly) or self.tokens_per_minute is not None

    def as_json(self) -> dict[str, Any]:
        given: dict[str, Any] = {key: self.hourly[key] for key, _, _ in PROVISIONED_TERMS if key in self.hourly}
        if self.tokens_per_minute is not None:
            given["tokensPerMinutePerUnit"] = self.tokens_per_minute
        return given


@dataclass(frozen=True)
class Subject:
    """The model whose serving is priced, and what is known of its training and serving."""

    environment: str
    model: ModelSpec
    run: str | None = None
    serving_now: dict[str, Any] | None = None  # a run's: mode, arn, modelUnits, commitment
    training_usd: float | None = None
    training_included: bool = False  # False: --base-model without --training-tokens
    training_basis: str = ""
    storage_usd_per_month: float | None = None


def of_base_model(env: str, model_id: str, training_tokens: int | None) -> Subject:
    """A base model the environment allows, from cdk.json and the catalog alone (no AWS)."""
    config = environment_config(env)
    try:
        model = load_catalog().model(model_id)
    except UnknownModelError as error:
        raise UsageError(str(error)) from None
    allowed = config.customization.allowed_base_models
    if model.id not in allowed:
        raise UsageError(
            f"{model.id} is not allowed in {env}: its runs may use {', '.join(allowed)} "
            "(customization.baseModel and otherBaseModels in cdk.json)"
        )
    training = None
    basis = "not included: give --training-tokens (the dataset's tokens, as tools validate prints them)"
    if training_tokens is not None:
        # The estimate the pipeline makes before a job starts (customization.cost), with the
        # epochs this environment trains for.
        epochs = float(config.customization.hyper_parameters.get("epochCount") or _default_epochs(model))
        training = estimate_cost(model, training_tokens, epochs, ServingPlan()).training_usd
        basis = f"{training_tokens:,} tokens x {epochs:g} epochs, as {env} trains"
    return Subject(
        environment=env,
        model=model,
        training_usd=training,
        training_included=training_tokens is not None,
        training_basis=basis,
        storage_usd_per_month=model.prices.storage_per_month,
    )


def _default_epochs(model: ModelSpec) -> float:
    spec = (model.hyperparameters or {}).get("epochCount")
    return spec.default if spec else 1


def of_run(env: str, run_name: str, session: Any = None) -> Subject:
    """A run of the deployed environment: its base model, serving and training estimate, as
    its execution recorded them (`status RUN` reads the same)."""
    environment = DeployedEnvironment.lookup(env, session)
    session = session_for(environment, session)
    with aws_errors(f"reading run {run_name}"):
        execution = describe_run(session, environment, run_name)
        output = json.loads(execution.get("output") or "{}")
        model_id = run_settings(output).get("baseModel") or _base_model_of_job(session, environment, execution)
    if not model_id:
        status = execution["status"]
        when = "it has not started its job yet" if status == "RUNNING" else f"it ended {status} before its job started"
        raise UsageError(f"run {run_name} has no base model on record ({when}): price its model with --base-model ID")
    try:
        model = load_catalog().model(model_id)
    except UnknownModelError:
        raise UsageError(f"run {run_name}'s base model {model_id} is not in the catalog: no prices for it") from None
    serving = part(output, SERVING)
    mode = serving.get("mode") or run_settings(output).get("servingMode") or environment.config.serving.mode
    cost = part(output, VALIDATION).get("cost") or {}
    training = cost.get("trainingUsd")
    basis = "the run's estimate"
    if cost.get("trainingTokens"):
        basis += f": {cost['trainingTokens']:,} tokens x {cost.get('epochs', 1):g} epochs"
    return Subject(
        environment=env,
        model=model,
        run=run_name,
        serving_now={
            "mode": mode,
            "arn": served_arn(output),
            "modelUnits": serving.get("modelUnits"),
            "commitment": serving.get("commitment"),
        },
        training_usd=training,
        training_included=True,
        training_basis=basis if training is not None else "unknown: the run has no training estimate",
        storage_usd_per_month=cost.get("storageUsdPerMonth", model.prices.storage_per_month),
    )


def _base_model_of_job(session: Any, environment: DeployedEnvironment, execution: dict[str, Any]) -> str | None:
    """The base model from the run's Bedrock job (arn:...:foundation-model/<ID>), where the
    run's state does not name it."""
    names = names_of_execution(environment, execution)
    job = bedrock_job(session.client("bedrock"), names.job_name) if names else {}
    arn = job.get("baseModelArn") or ""
    return arn.split(":foundation-model/", 1)[1] if ":foundation-model/" in arn else None


# -- the arithmetic ----------------------------------------------------------------------------------


def blended_per_1k(output_share: float, input_per_1k: float, output_per_1k: float) -> float:
    """On-demand dollars per 1,000 tokens of traffic with this share of output tokens."""
    return (1 - output_share) * input_per_1k + output_share * output_per_1k


def on_demand_per_day(tokens_per_day: float, rate_per_1k: float) -> float:
    return tokens_per_day / 1000 * rate_per_1k


def provisioned_per_day(per_hour_per_unit: float, units: int) -> float:
    """Throughput bills every hour it exists, used or not."""
    return per_hour_per_unit * units * HOURS_PER_DAY


def billed_hours(days: int, term_hours: int | None) -> int:
    """Hours paid over `days`: by the hour without a commitment; whole terms with one (a
    commitment cannot be deleted before its term ends)."""
    hours = days * HOURS_PER_DAY
    return hours if term_hours is None else math.ceil(hours / term_hours) * term_hours


def capacity_per_unit_per_day(output_share: float, input_per_minute: int, output_per_minute: int) -> float:
    """Tokens a day (both kinds) one model unit serves at this share, traffic spread evenly."""
    limits = []
    if output_share < 1:
        limits.append(input_per_minute / (1 - output_share))
    if output_share > 0:
        limits.append(output_per_minute / output_share)
    return min(limits) * MINUTES_PER_DAY


def units_needed(tokens_per_day: float, capacity_per_day: float) -> int:
    return max(1, math.ceil(tokens_per_day / capacity_per_day))


def break_even_tokens_per_day(
    per_hour_per_unit: float,
    rate_per_1k: float,
    capacity_per_day: float | None = None,
    *,
    billed_hours: float | None = None,
    days: float | None = None,
) -> float | None:
    """The traffic above which provisioned throughput costs less than on demand; None where
    it never does. Over a period (`billed_hours` paid for `days` of traffic), so that a
    commitment's whole term counts: 10 days on a 6-month commitment pay 4,380 hours, and the
    traffic must pay for all of them. Without a period, one day of one unit. Below one unit's
    capacity the provisioned cost is flat, so the two meet where the on-demand cost reaches
    the unit's cost. Past that capacity each unit added costs the same again while serving at
    most its capacity: if one unit full costs more than its tokens on demand, so do k units,
    and provisioned is never cheaper."""
    if rate_per_1k <= 0:
        return None
    if billed_hours is not None and days:
        unit_per_day = per_hour_per_unit * billed_hours / days
    else:
        unit_per_day = provisioned_per_day(per_hour_per_unit, 1)
    even = unit_per_day * 1000 / rate_per_1k
    if capacity_per_day is not None and even > capacity_per_day:
        return None
    return even


def cheapest(costs: dict[str, float | None]) -> str | None:
    """The option with the lowest known cost; None when none is known."""
    known = {option: cost for option, cost in costs.items() if cost is not None}
    return min(known, key=lambda option: known[option]) if known else None


def compare(subject: Subject, traffic: Traffic, quote: Quote | None = None) -> dict[str, Any]:
    """Every option priced for the traffic over the days, the break-even, the cheapest, the
    model units, and the total with training and storage: the command's JSON. A quote's
    values replace the catalog's."""
    quote = quote or Quote()
    model, prices = subject.model, subject.model.prices
    source = model.sources.get("prices", PRICING_PAGE)
    unknown = f"unknown (not in the catalog; see {source})"
    days = traffic.days
    storage_over_days = (
        None
        if subject.storage_usd_per_month is None
        else subject.storage_usd_per_month * days * HOURS_PER_DAY / HOURS_PER_MONTH
    )
    fixed = storage_over_days if not subject.training_included else _add(storage_over_days, subject.training_usd)

    rate = None
    if prices.on_demand_per_1k_input_tokens is not None and prices.on_demand_per_1k_output_tokens is not None:
        rate = blended_per_1k(
            traffic.output_share, prices.on_demand_per_1k_input_tokens, prices.on_demand_per_1k_output_tokens
        )
    per_minute = prices.provisioned_tokens_per_minute_per_unit
    capacity, units_source = None, None
    if quote.tokens_per_minute is not None:
        # A quote's figure counts input and output together, as --tokens-per-day does.
        capacity, units_source = quote.tokens_per_minute * MINUTES_PER_DAY, COMMAND_LINE
    elif per_minute.get("input") and per_minute.get("output"):
        capacity = capacity_per_unit_per_day(traffic.output_share, per_minute["input"], per_minute["output"])
        units_source = CATALOG
    units = None if capacity is None else units_needed(traffic.tokens_per_day, capacity)

    options = []
    on_demand = {"option": ON_DEMAND_OPTION, "label": LABELS[ON_DEMAND_OPTION], "modelUnits": None}
    if not model.on_demand_serving:
        on_demand.update(available=False, why=f"custom {model.name} models are served by provisioned throughput only")
    elif rate is None:
        on_demand.update(available=True, price=None, why=unknown)
    else:
        per_day = on_demand_per_day(traffic.tokens_per_day, rate)
        on_demand.update(
            available=True,
            price=f"{_small_usd(rate * 1000)}/1M tokens at this split",
            priceSource=CATALOG,
            usdPer1kTokens=rate,
            usdPerDay=per_day,
            usdOverDays=per_day * days,
            billedHours=days * HOURS_PER_DAY,
        )
    options.append(on_demand)

    for key, label, term_hours in PROVISIONED_TERMS:
        hourly = quote.hourly.get(key, prices.provisioned_per_hour_per_unit.get(key))
        price_source = COMMAND_LINE if key in quote.hourly else CATALOG
        option: dict[str, Any] = {"option": key, "label": label, "modelUnits": units or 1, "available": True}
        if key == "noCommitment" and units is not None and units > NO_COMMITMENT_UNITS:
            option.update(
                available=False,
                why=f"the traffic needs {units} model units; no-commitment throughput has 1 (at most 2 per account)",
            )
        elif hourly is None:
            option.update(price=None, why=unknown)
        else:
            hours = billed_hours(days, term_hours)
            option.update(
                price=f"{usd(hourly)}/hour per model unit ({price_source})",
                priceSource=price_source,
                usdPerHourPerUnit=hourly,
                usdPerDay=provisioned_per_day(hourly, units or 1),
                usdOverDays=hourly * (units or 1) * hours,
                billedHours=hours,
            )
            if rate is not None and model.on_demand_serving:
                option["breakEvenTokensPerDay"] = break_even_tokens_per_day(
                    hourly, rate, capacity, billed_hours=hours, days=days
                )
        options.append(option)

    for option in options:
        if option["available"] and option.get("usdOverDays") is not None:
            option["totalUsd"] = _add(option["usdOverDays"], fixed)
    best = cheapest({o["option"]: o.get("usdOverDays") for o in options if o["available"]})
    not_compared = [o["option"] for o in options if o["available"] and o.get("usdOverDays") is None]
    report = {
        "environment": subject.environment,
        "run": subject.run,
        "model": {"id": model.id, "name": model.name, "onDemandServing": model.on_demand_serving},
        "servingNow": subject.serving_now,
        "traffic": {
            "tokensPerDay": traffic.tokens_per_day,
            "outputShare": traffic.output_share,
            "inputTokensPerDay": traffic.input_per_day,
            "outputTokensPerDay": traffic.output_per_day,
            "days": days,
        },
        "options": options,
        "cheapest": best,
        "notCompared": not_compared,
        "modelUnits": {
            "needed": units,
            "source": units_source,
            "note": _units_note(model, units, per_minute, quote),
        },
        "training": {
            "usd": subject.training_usd,
            "included": subject.training_included,
            "basis": subject.training_basis,
        },
        "storage": {"usdPerMonth": subject.storage_usd_per_month, "usdOverDays": storage_over_days},
        "prices": {
            "estimate": True,
            "catalogDate": load_catalog().date,
            "currency": "USD",
            "sources": sorted({source, model.sources.get("provisionedThroughput", THROUGHPUT_PAGE)}),
            "fromCommandLine": quote.as_json(),
        },
    }
    report["verdict"] = verdict(report)
    return report


def _add(first: float | None, second: float | None) -> float | None:
    return None if first is None or second is None else first + second


def _units_note(model: ModelSpec, units: int | None, per_minute: dict[str, int | None], quote: Quote) -> str:
    if units is not None and quote.tokens_per_minute is not None:
        return (
            f"{units} at {quote.tokens_per_minute:,} tokens a minute per unit, input and output together "
            f"({COMMAND_LINE}), traffic spread evenly over the day: size for your busiest minute"
        )
    if units is not None:
        return (
            f"{units} at {per_minute['input']:,} input and {per_minute['output']:,} output tokens a minute per unit, "
            "traffic spread evenly over the day: size for your busiest minute"
        )
    return (
        f"unknown: AWS publishes no throughput per model unit for {model.name} ({THROUGHPUT_PAGE} says to ask your "
        f"AWS account manager). Ask, or measure one no-commitment throughput under your traffic, and give it as "
        f"{TOKENS_PER_MINUTE_FLAG} N; the table prices 1 unit, the least you can buy"
    )


SHORT = {
    ON_DEMAND_OPTION: "on demand",
    "noCommitment": "provisioned without commitment",
    "OneMonth": "provisioned for 1 month",
    "SixMonths": "provisioned for 6 months",
}


def verdict(report: dict[str, Any]) -> str:
    """One line: the cheapest option, and what could not be compared."""
    traffic = report["traffic"]
    load = f"{traffic['tokensPerDay']:,.0f} tokens/day over {traffic['days']} days"
    unpriced = _listed([SHORT[option] for option in report["notCompared"]])
    if report["cheapest"] is None:
        where = "the catalog and the command line have" if report["prices"]["fromCommandLine"] else "the catalog has"
        return f"Verdict: nothing can be compared for {load}: {where} no price for {unpriced}."
    best = next(o for o in report["options"] if o["option"] == report["cheapest"])
    priced = [o for o in report["options"] if o.get("usdOverDays") is not None]
    how = "estimate" if best.get("priceSource", CATALOG) == CATALOG else COMMAND_LINE
    cost = f"{usd(best['usdOverDays'])} for {load} ({how})"
    if len(priced) == 1:
        line = f"Verdict: {SHORT[best['option']]} is the only option with a price, {cost}"
    else:
        line = f"Verdict: {SHORT[best['option']]} is the cheapest, {cost}"
    evens = [o for o in priced if o.get("breakEvenTokensPerDay")]
    if evens:
        lowest = min(evens, key=lambda o: o["breakEvenTokensPerDay"])
        line += (
            f"; {SHORT[lowest['option']]} beats on demand above {lowest['breakEvenTokensPerDay']:,.0f} tokens/day "
            f"over these {traffic['days']} days"
        )
    if unpriced:
        where = "the catalog or on the command line" if report["prices"]["fromCommandLine"] else "the catalog"
        line += f"; {unpriced} cannot be compared (no price in {where})"
    return line + "."


def _listed(items: list[str]) -> str:
    """a, b and c"""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# -- the output ---------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    traffic, model, days = report["traffic"], report["model"], report["traffic"]["days"]
    share = traffic["outputShare"]
    lines = []
    if report["run"]:
        lines.append(
            f"Run {report['run']} in {report['environment']}: {model['name']} ({model['id']}), {_now(report)}."
        )
    else:
        lines.append(f"{model['name']} ({model['id']}) in {report['environment']}.")
    lines.append(
        f"Traffic: {traffic['tokensPerDay']:,.0f} tokens/day ({1 - share:.0%} input, {share:.0%} output), "
        f"over {days} days. Prices are estimates (USD) from the catalog dated {report['prices']['catalogDate']}"
        + (f", except those marked {COMMAND_LINE} (your quote)." if report["prices"]["fromCommandLine"] else ".")
    )
    total = "With storage and training" if report["training"]["included"] else "With storage"
    lines += [
        "",
        f"| Option | Price | Model units | Per day | Over {days} days | {total} | Cheaper than on demand above |",
        "|---|---|---|---|---|---|---|",
    ]
    for option in report["options"]:
        lines.append("| " + " | ".join(_cells(option, days)) + " |")
    lines.append("")
    units = report["modelUnits"]
    lines.append(f"- Model units needed: {units['note']}.")
    missing = [
        PRICE_FLAGS[o["option"]]
        for o in report["options"]
        if o["option"] in PRICE_FLAGS and o["available"] and o.get("usdOverDays") is None
    ]
    if missing:
        lines.append(
            f"- Provisioned throughput is quoted per account: with a quote, give its hourly rate per model unit as "
            f"{_listed([f'{flag} USD' for flag in missing])} to compare."
        )
    training = report["training"]
    if not training["included"]:
        lines.append(f"- Training: {training['basis']}.")
    else:
        lines.append(f"- Training: {_money(training['usd'])} ({training['basis']}).")
    storage = report["storage"]
    if storage["usdPerMonth"] is None:
        lines.append(f"- Storage: unknown (not in the catalog; see {report['prices']['sources'][0]}).")
    else:
        lines.append(
            f"- Storage: {usd(storage['usdPerMonth'])}/month while the custom model exists, "
            f"{usd(storage['usdOverDays'])} over {days} days (billed monthly; prorated here)."
        )
    quoted = " and your quote (the command line's figures)" if report["prices"]["fromCommandLine"] else ""
    lines.append(
        f"- Sources: {', '.join(report['prices']['sources'])}{quoted}. Check them before reserving throughput."
    )
    lines += ["", report["verdict"]]
    return "\n".join(lines)


def _now(report: dict[str, Any]) -> str:
    """How the run serves its model now: what to compare the cheapest option with."""
    now = report["servingNow"] or {}
    if now.get("mode") in (None, NONE):
        return "not served (serving mode none)"
    how = "on demand" if now["mode"] == ON_DEMAND else "by provisioned throughput"
    if now.get("modelUnits"):
        how += f" ({now['modelUnits']} model unit(s), commitment {now.get('commitment') or 'none'})"
    return f"served {how} now" if now.get("arn") else f"set to be served {how} (no serving of it exists now)"


def _cells(option: dict[str, Any], days: int) -> list[str]:
    label = option["label"]
    if not option["available"]:
        return [label, f"not available: {option['why']}", "-", "-", "-", "-", "-"]
    units = "-" if option["option"] == ON_DEMAND_OPTION else str(option["modelUnits"])
    if option.get("usdOverDays") is None:
        unknown_or_dash = "-" if option["option"] == ON_DEMAND_OPTION else "unknown"
        return [label, option["why"], units, "unknown", "unknown", "unknown", unknown_or_dash]
    over = usd(option["usdOverDays"])
    if option["billedHours"] != days * HOURS_PER_DAY:
        over += f" (whole terms: {option['billedHours']:,} hours)"
    if option["option"] == ON_DEMAND_OPTION:
        even = "-"
    elif "breakEvenTokensPerDay" not in option:
        even = "unknown (no on-demand price)"
    elif option["breakEvenTokensPerDay"] is None:
        even = "never (one unit costs more than the tokens it can serve)"
    else:
        even = f"{option['breakEvenTokensPerDay']:,.0f} tokens/day"
    return [label, option["price"], units, usd(option["usdPerDay"]), over, _money(option.get("totalUsd")), even]


def _money(amount: float | None) -> str:
    return "unknown" if amount is None else usd(amount)


def _small_usd(amount: float) -> str:
    """Token prices are fractions of a cent per 1,000: ~$0.063 rather than ~$0.06."""
    return f"~${amount:,.2f}" if amount >= 1 else f"~${amount:.4g}"
