"""What `python -m tools serve` says a serving will bill, before --yes creates it."""

from __future__ import annotations

from customization.serving import ServingPlan
from tools.serve import _what_it_bills


def test_throughput_says_it_bills_by_the_hour():
    assert _what_it_bills(ServingPlan("provisioned", 1, "none")) == (
        "(1 model unit(s), no commitment: billed every hour until deleted; see python -m tools cost)"
    )
    assert _what_it_bills(ServingPlan("provisioned", 2, "SixMonths")).startswith(
        "(2 model unit(s), a SixMonths commitment: billed for the whole term, which cannot be ended early"
    )
