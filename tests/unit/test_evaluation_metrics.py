"""The evaluation metrics on hand-made cases (issue 7 groundwork: the step is not built yet)."""

from __future__ import annotations

import pytest

from customization.evaluation.metrics import Gate, exact_match, normalize, percentile, sample_indexes, token_f1


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("spam", "spam", 1.0),
        ("Spam.", "spam", 1.0),
        ("  SPAM  ", "spam", 1.0),
        ("legitimate", "spam", 0.0),
        ("", "", 1.0),
        ("", "spam", 0.0),
        ("\uff33\uff50\uff41\uff4d", "spam", 1.0),  # full-width letters (NFKC)
        ("Straße", "STRASSE", 1.0),  # casefold
        ("«Oui»", "oui", 1.0),
    ],
)
def test_exact_match_after_normalization(prediction, reference, expected):
    assert exact_match(prediction, reference) == expected


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("the cat sat", "the cat sat", 1.0),
        ("the cat", "the cat sat", 2 * (1.0 * 2 / 3) / (1.0 + 2 / 3)),
        ("dog", "the cat sat", 0.0),
        ("", "", 1.0),
        ("", "cat", 0.0),
        ("cat cat", "cat", 2 * 0.5 * 1.0 / 1.5),
        ("日本 語", "日本 語", 1.0),
    ],
)
def test_token_f1(prediction, reference, expected):
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_normalize_collapses_whitespace_and_punctuation():
    assert normalize("Hello,\n  World!") == "hello world"


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [
        ([], 0.5, None),
        ([3.0], 0.95, 3.0),
        ([1, 2, 3, 4], 0.5, 2),
        ([1, 2, 3, 4], 0.95, 4),
        (list(range(1, 101)), 0.95, 95),
        (list(range(1, 101)), 0.5, 50),
    ],
)
def test_nearest_rank_percentiles(values, share, expected):
    assert percentile(values, share) == expected


def test_the_sample_is_deterministic_and_order_independent():
    keys = [f"record {i}".encode() for i in range(100)]

    first = sample_indexes(keys, 10)
    again = sample_indexes(keys, 10)
    reversed_keys = list(reversed(keys))
    chosen_reversed = {reversed_keys[i] for i in sample_indexes(reversed_keys, 10)}

    assert first == again and len(first) == 10 and first == sorted(first)
    assert {keys[i] for i in first} == chosen_reversed
    assert sample_indexes(keys[:5], 10) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("custom", "base", "margin", "promoted"),
    [
        (0.8, 0.7, 0.1, True),  # exactly at the margin
        (0.81, 0.7, 0.1, True),  # just above
        (0.79, 0.7, 0.1, False),  # just below
        (0.7, 0.7, 0.0, True),
        (0.6, 0.7, 0.0, False),
    ],
)
def test_the_promotion_gate_at_just_above_and_below_the_margin(custom, base, margin, promoted):
    assert Gate(margin).promoted(custom, base) is promoted
