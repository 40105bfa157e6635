"""Scoring a custom model against its base model on validation records.

Hand-written on purpose: the Lambda asset ships no third-party packages, and these metrics
are a few lines each in their standard (SQuAD-style) definitions: exact match after
normalization for label-like answers, token-level F1 for free text, nearest-rank
percentiles for latency.
"""

from __future__ import annotations

import heapq
import math
import re
import string
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
Item = TypeVar("Item")

# Typographic quotes and marks that answers often carry, written as escapes (the same characters).
_PUNCTUATION = str.maketrans("", "", string.punctuation + "\u00bf\u00a1\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026")
_WHITESPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-cased, NFKC, no ASCII/common punctuation, single spaces: 'Spam.' == 'spam'."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_PUNCTUATION)
    return _WHITESPACE.sub(" ", text).strip()


def exact_match(prediction: str, reference: str) -> float:
    return 1.0 if normalize(prediction) == normalize(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall; two empty answers agree (1.0)."""
    predicted, expected = normalize(prediction).split(), normalize(reference).split()
    if not predicted or not expected:
        return 1.0 if predicted == expected else 0.0
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (share in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def sample_indexes(keys: Sequence[bytes], size: int) -> list[int]:
    """Which records to evaluate: the `size` with the smallest content checksum, in file order.

    Deterministic (same validation file, same sample) and independent of record order.
    """
    return [index for index, _ in sample(keys, size)]


def sample(
    items: Iterable[Item],
    size: int,
    keep: Callable[[Item], T | None] = lambda item: item,
    content: Callable[[Item], bytes] = lambda item: item,
) -> list[tuple[int, T]]:
    """`sample_indexes` over a stream, in constant memory: (index, keep(item)) in stream order.

    Items for which `keep` returns None (a record that cannot be evaluated) never take a place,
    so the sample is full whenever the stream has enough usable items. `keep` only runs on
    items whose checksum would enter the sample; `content` gives the bytes checksummed.
    """
    if size < 1:
        return []
    chosen: list[tuple[int, int, T]] = []  # a max-heap of (-checksum, -index, kept) of the best so far
    for index, item in enumerate(items):
        rank = (zlib.crc32(content(item)), index)
        if len(chosen) == size and (-chosen[0][0], -chosen[0][1]) < rank:
            continue
        kept = keep(item)
        if kept is None:
            continue
        if len(chosen) < size:
            heapq.heappush(chosen, (-rank[0], -rank[1], kept))
        else:
            heapq.heapreplace(chosen, (-rank[0], -rank[1], kept))
    return sorted(((-negated_index, kept) for _, negated_index, kept in chosen), key=lambda item: item[0])


@dataclass(frozen=True)
class Gate:
    """The custom model is promoted when its exact match is at least the base's plus a margin."""

    min_improvement: float

    def promoted(self, custom_exact_match: float, base_exact_match: float) -> bool:
        # Rounded to 9 places so that 0.7 + 0.1 counts as reaching 0.8.
        return round(custom_exact_match - base_exact_match - self.min_improvement, 9) >= 0
