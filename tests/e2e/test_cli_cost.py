"""`python -m tools cost`: the serving-cost arithmetic a user needs before reserving throughput.

The arithmetic against hand-computed numbers and properties (the break-even makes both costs
equal; the cheapest is the minimum); the command as users type it (`tools.__main__.main(argv)`
and `python -m tools cost` in a subprocess), offline with `--base-model` and against the
deployed account of test_readme_commands.py on 127.0.0.1 with `--run`.

The catalog has no provisioned-throughput price for any current model (AWS publishes none
that could be checked): where a test needs one, it gives the model a hypothetical price, so
the comparison code is exercised without pretending the catalog knows it, or gives a
hypothetical quote on the command line (--unit-price-per-hour, --unit-price-1-month,
--unit-price-6-months, --unit-tokens-per-minute) as a user with one would."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customization.catalog import load_catalog
from tests.aws_world import (
    ROOT,
    closed_endpoint,
    one_line_error,
    python_m_tools,
)
from tests.aws_world import (
    run_tools as run,
)
from tools import cost

ENV = ["--env", "dev"]
MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
PRICING = "https://aws.amazon.com/bedrock/pricing/"
UNKNOWN = f"unknown (not in the catalog; see {PRICING})"


def table(out: str) -> dict[str, list[str]]:
    """The Markdown table's rows by their first cell."""
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| Option")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows)}


def priced(model_id: str = MICRO, hourly=None, per_minute=None, on_demand: bool = True):
    """The catalog's model with hypothetical provisioned prices (and throughput per unit)."""
    model = load_catalog().model(model_id)
    prices = dataclasses.replace(
        model.prices,
        provisioned_per_hour_per_unit=hourly or {},
        provisioned_tokens_per_minute_per_unit=per_minute or {},
    )
    return dataclasses.replace(model, prices=prices, on_demand_serving=on_demand)


# -- the arithmetic, by hand ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("2000000", 2_000_000),
        ("2,000,000", 2_000_000),
        ("2_000_000", 2_000_000),
        ("2e6", 2_000_000),
        ("2M", 2_000_000),
        ("1.5m", 1_500_000),
        ("500k", 500_000),
        ("3b", 3_000_000_000),
    ],
)
def test_tokens_as_people_write_them(text, tokens):
    assert cost.tokens_argument("--tokens-per-day", text) == tokens


def test_the_arithmetic_against_hand_computed_numbers():
    # Nova Micro on demand: $0.035 and $0.14 per 1M tokens; 80% input, 20% output.
    rate = cost.blended_per_1k(0.2, 0.000035, 0.00014)
    assert rate == pytest.approx(0.000056)  # 0.8 x 0.035 + 0.2 x 0.14 = $0.056 per 1M
    assert cost.on_demand_per_day(2_000_000, rate) == pytest.approx(0.112)
    # A unit at $20.50 an hour costs $492 a day: on demand costs as much at 492 / 0.000056 x 1,000 tokens.
    assert cost.provisioned_per_day(20.5, 1) == pytest.approx(492)
    assert cost.break_even_tokens_per_day(20.5, rate) == pytest.approx(8_785_714_285.7, rel=1e-9)
    # Without a commitment by the hour; a commitment bills whole terms (a month is 730 hours).
    assert cost.billed_hours(10, None) == 240
    assert cost.billed_hours(10, 730) == 730
    assert cost.billed_hours(31, 730) == 1460
    assert cost.billed_hours(30, 6 * 730) == 4380
    # 10,000 input and 2,000 output tokens a minute at 20% output: output binds, 10,000 tokens a minute.
    capacity = cost.capacity_per_unit_per_day(0.2, 10_000, 2_000)
    assert capacity == 14_400_000
    assert cost.units_needed(20_000_000, capacity) == 2
    assert cost.units_needed(1, capacity) == 1
    # A unit full of traffic earns $0.81 a day on demand, far below its $492: provisioned never wins.
    assert cost.break_even_tokens_per_day(20.5, rate, capacity) is None
    assert cost.cheapest({"onDemand": 3.36, "OneMonth": None, "SixMonths": 2.0}) == "SixMonths"
    assert cost.cheapest({"onDemand": None}) is None


money = st.floats(min_value=1e-7, max_value=1e3, allow_nan=False, allow_infinity=False)


@given(hourly=money, input_price=money, output_price=money, share=st.floats(min_value=0, max_value=1))
def test_at_the_break_even_both_options_cost_the_same_and_either_side_each_wins(
    hourly, input_price, output_price, share
):
    rate = cost.blended_per_1k(share, input_price, output_price)
    even = cost.break_even_tokens_per_day(hourly, rate)

    assert cost.on_demand_per_day(even, rate) == pytest.approx(cost.provisioned_per_day(hourly, 1), rel=1e-9)
    assert cost.on_demand_per_day(even * 0.99, rate) < cost.provisioned_per_day(hourly, 1)
    assert cost.on_demand_per_day(even * 1.01, rate) > cost.provisioned_per_day(hourly, 1)


@given(
    hourly=money,
    rate=money,
    days=st.integers(min_value=1, max_value=400),
    term=st.sampled_from([None, 730, 4380]),
)
def test_over_a_period_the_break_even_pays_exactly_the_hours_billed(hourly, rate, days, term):
    """A commitment bills whole terms: at the break-even, the days' on-demand cost equals what
    the billed hours cost, so the verdict never names an option the table shows dearer."""
    hours = cost.billed_hours(days, term)
    even = cost.break_even_tokens_per_day(hourly, rate, billed_hours=hours, days=days)

    assert cost.on_demand_per_day(even, rate) * days == pytest.approx(hourly * hours, rel=1e-9)
    assert cost.on_demand_per_day(even * 1.01, rate) * days > hourly * hours


@given(
    hourly=money,
    rate=money,
    input_per_minute=st.integers(min_value=1, max_value=10**7),
    output_per_minute=st.integers(min_value=1, max_value=10**7),
    share=st.floats(min_value=0, max_value=1),
    tokens=st.floats(min_value=1, max_value=1e12),
)
def test_with_a_known_capacity_provisioned_is_cheaper_exactly_from_the_break_even(
    hourly, rate, input_per_minute, output_per_minute, share, tokens
):
    capacity = cost.capacity_per_unit_per_day(share, input_per_minute, output_per_minute)
    even = cost.break_even_tokens_per_day(hourly, rate, capacity)
    provisioned = cost.provisioned_per_day(hourly, cost.units_needed(tokens, capacity))
    on_demand = cost.on_demand_per_day(tokens, rate)

    if even is None or tokens < even * (1 - 1e-9):
        assert provisioned >= on_demand * (1 - 1e-9)
    elif tokens <= capacity:
        assert provisioned <= on_demand * (1 + 1e-9)


@given(st.dictionaries(st.sampled_from(["onDemand", "noCommitment", "OneMonth", "SixMonths"]), st.none() | money))
def test_the_cheapest_is_the_smallest_known_cost(costs):
    best = cost.cheapest(costs)

    known = [value for value in costs.values() if value is not None]
    if not known:
        assert best is None
    else:
        assert costs[best] == min(known)


def test_a_priced_comparison_with_break_even_units_and_totals():
    # Hypothetical prices: $20 an hour per unit without commitment, $15 for a month, $10 for six.
    model = priced(hourly={"noCommitment": 20.0, "OneMonth": 15.0, "SixMonths": 10.0})
    subject = cost.Subject(
        environment="dev",
        model=model,
        training_usd=0.05,
        training_included=True,
        training_basis="27,399 tokens x 2 epochs",
        storage_usd_per_month=1.95,
    )

    report = cost.compare(subject, cost.Traffic(tokens_per_day=10_000_000_000, output_share=0.2, days=10))

    options = {option["option"]: option for option in report["options"]}
    # On demand: 10 billion tokens x $0.056 per 1M = $560 a day.
    assert options["onDemand"]["usdPerDay"] == pytest.approx(560)
    assert options["onDemand"]["usdOverDays"] == pytest.approx(5600)
    # Without commitment: 240 hours x $20; a month's commitment bills all 730 hours, six months 4,380.
    assert options["noCommitment"]["usdOverDays"] == pytest.approx(4800)
    assert options["OneMonth"]["usdOverDays"] == pytest.approx(730 * 15)
    assert options["SixMonths"]["usdOverDays"] == pytest.approx(4380 * 10)
    assert options["noCommitment"]["breakEvenTokensPerDay"] == pytest.approx(480 / 0.000056 * 1000)
    # Six months bill 4,380 hours at $10 whatever the 10 days use: $4,380 a day of traffic to pay them.
    assert options["SixMonths"]["breakEvenTokensPerDay"] == pytest.approx(10 * 4380 / 10 / 0.000056 * 1000)
    assert report["cheapest"] == "noCommitment" and report["notCompared"] == []
    # Storage over 10 days is 240 of a month's 730 hours ($0.64); training ($0.05) is added once.
    assert report["storage"]["usdOverDays"] == pytest.approx(1.95 * 240 / 730)
    assert options["noCommitment"]["totalUsd"] == pytest.approx(4800 + 0.05 + 1.95 * 240 / 730)
    assert report["modelUnits"]["needed"] is None and "ask your AWS account manager" in report["modelUnits"]["note"]
    assert report["verdict"] == (
        "Verdict: provisioned without commitment is the cheapest, ~$4,800.00 for 10,000,000,000 tokens/day "
        "over 10 days (estimate); provisioned without commitment beats on demand above 8,571,428,571 tokens/day "
        "over these 10 days."
    )
    rows = table(cost.render(report))
    assert rows["Provisioned, 1-month commitment"][3] == "~$10,950.00 (whole terms: 730 hours)"
    assert rows["Provisioned, no commitment"][1:] == [
        "1",
        "~$480.00",
        "~$4,800.00",
        "~$4,800.69",
        "8,571,428,571 tokens/day",
    ]


def test_known_throughput_per_unit_sizes_the_units_and_rules_out_a_single_no_commitment_unit():
    model = priced(
        hourly={"noCommitment": 20.0, "OneMonth": 15.0, "SixMonths": 10.0},
        per_minute={"input": 10_000, "output": 2_000},
    )
    subject = cost.Subject(environment="dev", model=model, storage_usd_per_month=1.95)

    report = cost.compare(subject, cost.Traffic(tokens_per_day=20_000_000, output_share=0.2, days=30))

    options = {option["option"]: option for option in report["options"]}
    assert report["modelUnits"]["needed"] == 2  # 14.4 million tokens a day per unit
    assert options["noCommitment"]["available"] is False
    assert "needs 2 model units; no-commitment throughput has 1" in options["noCommitment"]["why"]
    assert options["SixMonths"]["usdPerDay"] == pytest.approx(2 * 24 * 10)
    # A full unit serves $0.81 of on-demand tokens a day for $240: provisioned never wins.
    assert options["SixMonths"]["breakEvenTokensPerDay"] is None
    assert report["cheapest"] == "onDemand"
    assert "never" in table(cost.render(report))["Provisioned, 6-month commitment"][5]


def test_a_model_without_on_demand_serving_compares_only_provisioned_options():
    model = priced(hourly={"noCommitment": 20.5}, on_demand=False)
    report = cost.compare(
        cost.Subject(environment="dev", model=model, storage_usd_per_month=1.95),
        cost.Traffic(tokens_per_day=1_000_000, output_share=0.2, days=30),
    )

    on_demand = report["options"][0]
    assert on_demand["available"] is False and "provisioned throughput only" in on_demand["why"]
    assert report["cheapest"] == "noCommitment"
    assert report["notCompared"] == ["OneMonth", "SixMonths"]
    assert "breakEvenTokensPerDay" not in report["options"][1]


# -- the command, offline: --base-model ----------------------------------------------------------------------


def test_base_model_prices_on_demand_and_says_which_prices_are_unknown(capsys):
    code, out, err = run(capsys, "cost", *ENV, "--base-model", MICRO, "--tokens-per-day", "2M", "--days", "30")

    assert (code, err) == (0, "")
    rows = table(out)
    assert rows["On demand"] == ["~$0.056/1M tokens at this split", "-", "~$0.11", "~$3.36", "~$5.28", "-"]
    for term in ("no commitment", "1-month commitment", "6-month commitment"):
        assert rows[f"Provisioned, {term}"] == [UNKNOWN, "1", "unknown", "unknown", "unknown", "unknown"]
    assert "$0.00" not in out, "an unknown price is never shown as 0"
    assert "Traffic: 2,000,000 tokens/day (80% input, 20% output), over 30 days." in out
    assert "- Model units needed: unknown: AWS publishes no throughput per model unit for Amazon Nova Micro" in out
    assert "- Training: not included: give --training-tokens" in out
    assert "- Storage: ~$1.95/month while the custom model exists, ~$1.92 over 30 days" in out
    assert out.splitlines()[-1] == (
        "Verdict: on demand is the only option with a price, ~$3.36 for 2,000,000 tokens/day over 30 days "
        "(estimate); provisioned without commitment, provisioned for 1 month and provisioned for 6 months "
        "cannot be compared (no price in the catalog)."
    )


def test_base_model_with_training_tokens_adds_the_training_estimate(capsys):
    code, out, _ = run(
        capsys, "cost", *ENV, "--base-model", MICRO, "--tokens-per-day", "2,000,000", "--training-tokens", "27399"
    )

    assert code == 0
    # 27,399 tokens x 2 epochs (dev's epochCount) x $0.001 per 1K = $0.05, as tools validate estimates it.
    assert "- Training: ~$0.05 (27,399 tokens x 2 epochs, as dev trains)." in out
    assert table(out)["On demand"][4] == "~$5.33"  # 3.36 + 1.92 storage + 0.05 training


def test_base_model_json_for_scripts(capsys):
    code, out, _ = run(
        capsys, "cost", *ENV, "--base-model", NOVA_2_LITE, "--tokens-per-day", "5e5", "--output-share", "0.5", "--json"
    )

    report = json.loads(out)
    assert code == 0
    assert report["model"] == {"id": NOVA_2_LITE, "name": "Amazon Nova 2 Lite", "onDemandServing": True}
    assert report["traffic"] == {
        "tokensPerDay": 500_000,
        "outputShare": 0.5,
        "inputTokensPerDay": 250_000,
        "outputTokensPerDay": 250_000,
        "days": 30,
    }
    # The catalog has no price at all for Nova 2 Lite: nothing is compared, nothing is 0.
    assert report["cheapest"] is None
    assert report["notCompared"] == ["onDemand", "noCommitment", "OneMonth", "SixMonths"]
    assert all(option.get("usdOverDays") is None and option["why"] == UNKNOWN for option in report["options"])
    assert report["storage"] == {"usdPerMonth": None, "usdOverDays": None}
    assert report["prices"]["estimate"] is True and PRICING in report["prices"]["sources"]
    assert report["verdict"].startswith("Verdict: nothing can be compared for 500,000 tokens/day over 30 days")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--base-model", MICRO, "--tokens-per-day", "0"],
            "error: --tokens-per-day is '0'; allowed: a positive number of tokens, e.g. 2000000, 2e6 or 2M",
        ),
        (["--base-model", MICRO, "--tokens-per-day", "lots"], "error: --tokens-per-day is 'lots'"),
        (["--base-model", MICRO, "--tokens-per-day", "-5"], "error: --tokens-per-day is '-5'"),
        (["--base-model", MICRO, "--tokens-per-day", "1M", "--output-share", "20%"], "error: --output-share is '20%'"),
        (["--base-model", MICRO, "--tokens-per-day", "1M", "--days", "0"], "error: --days is '0'"),
        (["--base-model", MICRO, "--tokens-per-day", "1,2,3"], "error: --tokens-per-day is '1,2,3'; allowed: "),
        (
            ["--base-model", MICRO, "--run", "email-classifier-0123456789abcdef", "--tokens-per-day", "1M"],
            "error: give --run RUN or --base-model ID, not both: a run's base model is the run's own",
        ),
        (["--tokens-per-day", "1M"], "error: give --run RUN or --base-model ID: the model whose serving to price"),
        (
            ["--base-model", "amazon.nova-micro-v1:0", "--tokens-per-day", "1M"],
            "did you mean 'amazon.nova-micro-v1:0:128k'?",
        ),
        (
            ["--base-model", "amazon.nova-pro-v1:0:300k", "--tokens-per-day", "1M"],
            "error: amazon.nova-pro-v1:0:300k is not allowed in dev: its runs may use amazon.nova-micro-v1:0:128k, "
            "amazon.nova-2-lite-v1:0:256k (customization.baseModel and otherBaseModels in cdk.json)",
        ),
        (
            ["--run", "email-classifier-0123456789abcdef", "--training-tokens", "5", "--tokens-per-day", "1M"],
            "error: --training-tokens is for --base-model",
        ),
    ],
    ids=[
        "zero-tokens",
        "not-a-number",
        "negative",
        "share-as-percent",
        "zero-days",
        "separators-not-in-thousands",
        "run-and-base-model",
        "neither",
        "no-context-suffix",
        "not-allowed-here",
        "training-tokens-with-run",
    ],
)
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "cost", *ENV, *argv)

    assert (code, out) == (2, "")
    assert message in one_line_error(err)


def test_python_m_tools_cost_offline_in_a_subprocess(tmp_path):
    """--base-model needs no account: no credentials, and every AWS endpoint closed."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=closed_endpoint(),
    )

    def python_m_tools(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tools", *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )

    text = python_m_tools("cost", *ENV, "--base-model", MICRO, "--tokens-per-day", "2M")
    as_json = python_m_tools("cost", *ENV, "--base-model", MICRO, "--tokens-per-day", "2M", "--json")
    refused = python_m_tools("cost", *ENV, "--base-model", MICRO, "--tokens-per-day", "0")

    assert (text.returncode, text.stderr) == (0, "")
    assert text.stdout.splitlines()[0] == f"Amazon Nova Micro ({MICRO}) in dev."
    assert text.stdout.splitlines()[-1].startswith("Verdict: on demand is the only option with a price, ~$3.36")
    assert (as_json.returncode, json.loads(as_json.stdout)["cheapest"]) == (0, "onDemand")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith("error: --tokens-per-day is '0'") and refused.stderr.count("\n") == 1


# -- the command with a quote: --unit-price-* and --unit-tokens-per-minute ------------------------------------

QUOTED = "from the command line"


def test_a_quote_where_provisioned_wins_sizes_the_units_and_finds_the_cheapest(capsys):
    # A hypothetical quote: one unit serves 1,000,000 tokens a minute (1.44 billion a day) at $2 an
    # hour without commitment, $1.50 with a month's, $1 with six months'.
    code, out, err = run(
        capsys,
        "cost",
        *ENV,
        "--base-model",
        MICRO,
        "--tokens-per-day",
        "2e9",
        "--unit-price-per-hour",
        "2",
        "--unit-price-1-month",
        "1.5",
        "--unit-price-6-months",
        "1",
        "--unit-tokens-per-minute",
        "1M",
        "--json",
    )

    assert (code, err) == (0, "")
    report = json.loads(out)
    options = {option["option"]: option for option in report["options"]}
    # 2 billion tokens a day over 1.44 billion a unit: 2 units, more than no-commitment throughput has.
    assert report["modelUnits"]["needed"] == 2 and report["modelUnits"]["source"] == QUOTED
    assert options["noCommitment"]["available"] is False
    assert "needs 2 model units; no-commitment throughput has 1" in options["noCommitment"]["why"]
    # On demand: 2 billion x $0.056 per 1M = $112 a day, $3,360 over 30 days (the catalog's estimate).
    assert options["onDemand"]["usdOverDays"] == pytest.approx(3360)
    assert options["onDemand"]["priceSource"] == "catalog estimate"
    # A month's commitment: 2 units x $1.50 x 730 hours (30 days bill one whole month) = $2,190.
    month = options["OneMonth"]
    assert (month["usdPerHourPerUnit"], month["priceSource"], month["modelUnits"]) == (1.5, QUOTED, 2)
    assert month["usdPerDay"] == pytest.approx(2 * 1.5 * 24)  # $72
    assert (month["usdOverDays"], month["billedHours"]) == (pytest.approx(2190), 730)
    # Six months: 2 units x $1 x 4,380 hours = $8,760, more than on demand over 30 days.
    assert options["SixMonths"]["usdOverDays"] == pytest.approx(8760)
    # The month's 730 hours at $1.50 spread over the 30 days ($36.50 a day), bought on demand at
    # $0.056 per 1M tokens: below a unit's capacity, so that is the break-even.
    assert month["breakEvenTokensPerDay"] == pytest.approx(1.5 * 730 / 30 / 0.000056 * 1000)  # 651,785,714
    # Six months' 4,380 hours at $1 over 30 days: $146 a day, more than a full unit (1.44 billion
    # tokens) earns on demand ($80.64): never cheaper over these 30 days, as the table's $8,760 shows.
    assert options["SixMonths"]["breakEvenTokensPerDay"] is None
    assert report["cheapest"] == "OneMonth" and report["notCompared"] == []
    assert report["prices"]["fromCommandLine"] == {
        "noCommitment": 2.0,
        "OneMonth": 1.5,
        "SixMonths": 1.0,
        "tokensPerMinutePerUnit": 1_000_000,
    }
    assert report["verdict"] == (
        "Verdict: provisioned for 1 month is the cheapest, ~$2,190.00 for 2,000,000,000 tokens/day over 30 days "
        "(from the command line); provisioned for 1 month beats on demand above 651,785,714 tokens/day over these "
        "30 days."
    )


def test_a_quote_for_one_term_is_marked_and_the_others_stay_unknown(capsys):
    code, out, err = run(
        capsys,
        "cost",
        *ENV,
        "--base-model",
        MICRO,
        "--tokens-per-day",
        "1e9",
        "--days",
        "10",
        "--unit-price-per-hour",
        "2",
        "--unit-tokens-per-minute",
        "1000000",
    )

    assert (code, err) == (0, "")
    rows = table(out)
    # On demand: 1 billion x $0.056 per 1M = $56 a day, $560 over 10 days; storage 1.95 x 240 / 730 = $0.64.
    assert rows["On demand"][2:5] == ["~$56.00", "~$560.00", "~$560.64"]
    # Without commitment: 1 unit (1.44 billion tokens a day) x $2 x 240 hours = $480; even at $48 / $0.056 per 1M.
    assert rows["Provisioned, no commitment"] == [
        f"~$2.00/hour per model unit ({QUOTED})",
        "1",
        "~$48.00",
        "~$480.00",
        "~$480.64",
        "857,142,857 tokens/day",
    ]
    for term in ("1-month commitment", "6-month commitment"):
        assert rows[f"Provisioned, {term}"] == [UNKNOWN, "1", "unknown", "unknown", "unknown", "unknown"]
    assert f"except those marked {QUOTED} (your quote)." in out
    assert f"- Model units needed: 1 at 1,000,000 tokens a minute per unit, input and output together ({QUOTED})" in out
    assert (
        "- Provisioned throughput is quoted per account: with a quote, give its hourly rate per model unit as "
        "--unit-price-1-month USD and --unit-price-6-months USD to compare." in out
    )
    assert out.splitlines()[-1] == (
        "Verdict: provisioned without commitment is the cheapest, ~$480.00 for 1,000,000,000 tokens/day over 10 days "
        "(from the command line); provisioned without commitment beats on demand above 857,142,857 tokens/day "
        "over these 10 days; "
        "provisioned for 1 month and provisioned for 6 months cannot be compared "
        "(no price in the catalog or on the command line)."
    )


def test_a_quote_where_on_demand_wins_never_breaks_even(capsys):
    # A hypothetical quote nearer AWS's scale: $20, $18 and $15 an hour; one unit serves 20,000 tokens a minute.
    code, out, err = run(
        capsys,
        "cost",
        *ENV,
        "--base-model",
        MICRO,
        "--tokens-per-day",
        "2M",
        "--unit-price-per-hour",
        "20",
        "--unit-price-1-month",
        "18",
        "--unit-price-6-months",
        "15",
        "--unit-tokens-per-minute",
        "20k",
    )

    assert (code, err) == (0, "")
    rows = table(out)
    # On demand $3.36 over 30 days; 1 unit (28.8 million tokens a day) costs $14,400 (720 hours x $20),
    # $13,140 (730 x $18) or $65,700 (4,380 x $15).
    assert rows["On demand"][3] == "~$3.36"
    assert rows["Provisioned, no commitment"][:4] == [
        f"~$20.00/hour per model unit ({QUOTED})",
        "1",
        "~$480.00",
        "~$14,400.00",
    ]
    assert rows["Provisioned, 1-month commitment"][3] == "~$13,140.00 (whole terms: 730 hours)"
    assert rows["Provisioned, 6-month commitment"][3] == "~$65,700.00 (whole terms: 4,380 hours)"
    # A full unit serves 28.8 million tokens a day, $1.61 on demand, for $360 to $480 a day: never cheaper.
    never = "never (one unit costs more than the tokens it can serve)"
    assert [
        rows[f"Provisioned, {term}"][5] for term in ("no commitment", "1-month commitment", "6-month commitment")
    ] == [never] * 3
    assert "quoted per account" not in out  # every term has a price
    assert out.splitlines()[-1] == (
        "Verdict: on demand is the cheapest, ~$3.36 for 2,000,000 tokens/day over 30 days (estimate)."
    )


def test_a_quote_without_an_on_demand_price_compares_the_quoted_terms(capsys):
    code, out, _ = run(
        capsys,
        "cost",
        *ENV,
        "--base-model",
        NOVA_2_LITE,
        "--tokens-per-day",
        "1M",
        "--unit-price-6-months",
        "10",
        "--json",
    )

    report = json.loads(out)
    options = {option["option"]: option for option in report["options"]}
    assert code == 0
    # 4,380 hours x $10; nothing on demand to break even with (the catalog has no Nova 2 Lite price).
    assert options["SixMonths"]["usdOverDays"] == pytest.approx(43_800)
    assert "breakEvenTokensPerDay" not in options["SixMonths"]
    assert report["cheapest"] == "SixMonths" and report["notCompared"] == ["onDemand", "noCommitment", "OneMonth"]
    assert (
        report["modelUnits"]
        == {
            "needed": None,
            "source": None,
            "note": report["modelUnits"]["note"],
        }
        and "--unit-tokens-per-minute N" in report["modelUnits"]["note"]
    )
    assert report["verdict"] == (
        "Verdict: provisioned for 6 months is the only option with a price, ~$43,800.00 for 1,000,000 tokens/day "
        "over 30 days (from the command line); on demand, provisioned without commitment and provisioned for 1 month "
        "cannot be compared (no price in the catalog or on the command line)."
    )
    rows = table(cost.render(report))
    assert rows["Provisioned, 6-month commitment"][5] == "unknown (no on-demand price)"


def test_a_quote_overrides_the_catalogs_price_and_throughput():
    model = priced(
        hourly={"noCommitment": 20.0, "OneMonth": 15.0, "SixMonths": 10.0},
        per_minute={"input": 10_000, "output": 2_000},
    )
    subject = cost.Subject(environment="dev", model=model, storage_usd_per_month=1.95)
    traffic = cost.Traffic(tokens_per_day=20_000_000, output_share=0.2, days=30)

    report = cost.compare(subject, traffic, cost.Quote(hourly={"SixMonths": 4.0}, tokens_per_minute=50_000))

    options = {option["option"]: option for option in report["options"]}
    # 50,000 tokens a minute is 72 million a day: 1 unit, where the catalog's figures needed 2.
    assert (report["modelUnits"]["needed"], report["modelUnits"]["source"]) == (1, QUOTED)
    assert options["noCommitment"]["available"] is True
    assert (options["noCommitment"]["usdPerHourPerUnit"], options["noCommitment"]["priceSource"]) == (
        20.0,
        "catalog estimate",
    )
    assert (options["SixMonths"]["usdPerHourPerUnit"], options["SixMonths"]["priceSource"]) == (4.0, QUOTED)
    assert options["SixMonths"]["price"] == f"~$4.00/hour per model unit ({QUOTED})"
    assert options["OneMonth"]["price"] == "~$15.00/hour per model unit (catalog estimate)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--unit-price-per-hour", "0"],
            "error: --unit-price-per-hour is '0'; allowed: a positive number of US dollars an hour for one model unit, "
            "e.g. 20.5",
        ),
        (["--unit-price-1-month", "-3"], "error: --unit-price-1-month is '-3'; allowed: a positive number"),
        (["--unit-price-6-months", "nan"], "error: --unit-price-6-months is 'nan'; allowed: a positive number"),
        (["--unit-price-per-hour", "inf"], "error: --unit-price-per-hour is 'inf'"),
        (["--unit-price-1-month", "1e999"], "error: --unit-price-1-month is '1e999'"),
        (["--unit-price-per-hour", "$20"], "error: --unit-price-per-hour is '$20'"),
        (
            ["--unit-tokens-per-minute", "0"],
            "error: --unit-tokens-per-minute is '0'; allowed: a positive number of tokens a minute "
            "(input and output together) that one model unit serves, e.g. 20000 or 20k",
        ),
        (["--unit-tokens-per-minute", "lots"], "error: --unit-tokens-per-minute is 'lots'"),
        (["--unit-tokens-per-minute", "1e999"], "error: --unit-tokens-per-minute is '1e999'"),
    ],
    ids=[
        "zero-price",
        "negative-price",
        "nan-price",
        "infinite-price",
        "overflowing-price",
        "dollar-sign",
        "zero-tokens-per-minute",
        "tokens-per-minute-not-a-number",
        "infinite-tokens-per-minute",
    ],
)
def test_a_quote_that_is_not_a_positive_finite_number_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "cost", *ENV, "--base-model", MICRO, "--tokens-per-day", "1M", *argv)

    assert (code, out) == (2, "")
    assert message in one_line_error(err)


# -- the command against the deployed account: --run ------------------------------------------------------


def test_run_prices_the_runs_base_model_with_its_training_estimate(deployed, capsys):
    name = deployed.succeeded.execution_name

    code, out, err = run(capsys, "cost", *ENV, "--run", name, "--tokens-per-day", "2M")

    assert (code, err) == (0, "")
    # The run's state does not name its base model: its Bedrock job does.
    assert out.splitlines()[0] == f"Run {name} in dev: Amazon Nova Micro ({MICRO}), served on demand now."
    assert "- Training: ~$0.05 (the run's estimate)." in out
    assert table(out)["On demand"][4] == "~$5.33"  # serving 3.36 + storage 1.92 + training 0.05
    assert out.splitlines()[-1].startswith("Verdict: on demand is the only option with a price, ~$3.36")
    assert not [op for op in deployed.aws.bedrock_requests if not op.startswith(("Get", "List"))], "it only reads"


def test_run_json_says_how_the_run_serves_now(deployed, capsys):
    code, out, _ = run(
        capsys, "cost", *ENV, "--run", deployed.succeeded.execution_name, "--tokens-per-day", "1M", "--json"
    )

    report = json.loads(out)
    assert code == 0
    assert report["run"] == deployed.succeeded.execution_name and report["model"]["id"] == MICRO
    assert report["servingNow"] == {
        "mode": "on-demand",
        "arn": deployed.deployment_arn,
        "modelUnits": None,
        "commitment": None,
    }
    assert report["training"] == {"usd": 0.05, "included": True, "basis": "the run's estimate"}
    assert report["storage"]["usdPerMonth"] == 1.95


def test_runs_that_cannot_be_priced_say_why_in_one_line(deployed, capsys):
    failed = deployed.failed.execution_name

    missing = run(capsys, "cost", *ENV, "--run", "email-classifier-0000000000000000", "--tokens-per-day", "1M")
    refused = run(capsys, "cost", *ENV, "--run", failed, "--tokens-per-day", "1M")

    assert missing[:2] == (2, "")
    assert one_line_error(missing[2]) == (
        "error: no run 'email-classifier-0000000000000000' in dev: see python -m tools status --env dev"
    )
    assert refused[:2] == (2, "")
    assert one_line_error(refused[2]) == (
        f"error: run {failed} has no base model on record (it ended FAILED before its job started): "
        "price its model with --base-model ID"
    )


def test_an_aws_error_is_one_line(deployed, capsys, monkeypatch):
    closed = closed_endpoint()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", closed)  # Step Functions, where the run is read
    name = deployed.succeeded.execution_name

    code, out, err = run(capsys, "cost", *ENV, "--run", name, "--tokens-per-day", "1M")

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        f'error: cannot reach AWS while reading run {name}: Could not connect to the endpoint URL: "{closed}/"; '
        "check the network, the region and any AWS_ENDPOINT_URL setting"
    )


def _settings_not_recorded(state):
    """A run whose state does not name its settings (one from before the validation summary kept them)."""
    return {}


def test_a_run_without_recorded_settings_is_priced_from_its_bedrock_job(deployed, capsys, monkeypatch):
    monkeypatch.setattr("tools.cost.run_settings", _settings_not_recorded)
    deployed.aws.bedrock_requests.clear()

    code, out, err = run(capsys, "cost", *ENV, "--run", deployed.succeeded.execution_name, "--tokens-per-day", "1M")

    assert (code, err) == (0, "")
    assert out.startswith(
        f"Run {deployed.succeeded.execution_name} in dev: Amazon Nova Micro (amazon.nova-micro-v1:0:128k)"
    )
    assert deployed.aws.bedrock_requests == ["GetModelCustomizationJob"]


def test_a_bedrock_error_while_reading_the_job_is_one_line(deployed, capsys, monkeypatch):
    monkeypatch.setattr("tools.cost.run_settings", _settings_not_recorded)
    deployed.aws.faults["GetModelCustomizationJob"] = (500, "InternalServerException", "Internal error")
    try:
        code, out, err = run(capsys, "cost", *ENV, "--run", deployed.succeeded.execution_name, "--tokens-per-day", "1M")
    finally:
        deployed.aws.faults.clear()

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        f"error: AWS failed while reading run {deployed.succeeded.execution_name}: InternalServerException: "
        "Internal error (an error on AWS's side: try again in a few minutes)"
    )


def test_python_m_tools_cost_run_in_a_subprocess(deployed):
    name = deployed.succeeded.execution_name

    completed = python_m_tools(deployed.aws, "cost", *ENV, "--run", name, "--tokens-per-day", "2M")

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines()[0] == f"Run {name} in dev: Amazon Nova Micro ({MICRO}), served on demand now."


def test_run_takes_a_quote_too(deployed, capsys):
    code, out, _ = run(
        capsys,
        "cost",
        *ENV,
        "--run",
        deployed.succeeded.execution_name,
        "--tokens-per-day",
        "2M",
        "--unit-price-1-month",
        "0.001",
        "--json",
    )

    report = json.loads(out)
    month = next(option for option in report["options"] if option["option"] == "OneMonth")
    assert code == 0 and report["run"] == deployed.succeeded.execution_name
    # 730 hours x $0.001 = $0.73, below on demand's $3.36: the quote makes a month's commitment the cheapest.
    assert (month["usdOverDays"], month["priceSource"]) == (pytest.approx(0.73), QUOTED)
    assert report["cheapest"] == "OneMonth"
