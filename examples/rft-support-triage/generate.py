"""Writes train.jsonl: support tickets to triage, for reinforcement fine-tuning with `exact-match`.

Deterministic (no randomness): `python examples/rft-support-triage/generate.py` rewrites the
same file. Every ticket is fictional. 30 tickets per class, 120 in all: RFT needs at least
100 prompts and takes at most 20,000.
"""

from __future__ import annotations

import json
from itertools import cycle, islice, product
from pathlib import Path

LABELS = ["billing", "technical", "account", "shipping"]
SYSTEM = (
    "You triage customer support tickets for an online shop. Answer with exactly one word in "
    "lower case: billing, technical, account or shipping."
)

# Per class: openings and details; each ticket pairs one of each, in a fixed order.
TICKETS = {
    "billing": (
        [
            "I was charged twice for",
            "Please refund",
            "My invoice is wrong for",
            "Why did my card get billed for",
            "The discount code was not applied to",
        ],
        [
            "order 4471.",
            "my annual plan.",
            "last month's subscription.",
            "the gift card I bought.",
            "the premium upgrade.",
            "two items I returned.",
        ],
    ),
    "technical": (
        [
            "The app crashes when I open",
            "I get error 500 on",
            "The page never loads for",
            "Nothing happens when I tap",
            "The website shows a blank screen on",
        ],
        [
            "the checkout page.",
            "my order history.",
            "the search results.",
            "the product photos.",
            "the wishlist.",
            "the settings screen.",
        ],
    ),
    "account": (
        [
            "I cannot log in to",
            "Please delete",
            "How do I change the e-mail on",
            "I am locked out of",
            "Someone else may have accessed",
        ],
        [
            "my account.",
            "my profile.",
            "my shop login.",
            "the account I share with my partner.",
            "my business account.",
            "my old account from 2019.",
        ],
    ),
    "shipping": (
        [
            "Where is my parcel for",
            "The courier lost",
            "The box arrived damaged for",
            "Tracking has not moved for",
            "Can you ship faster for",
        ],
        [
            "order 5520.",
            "my birthday present.",
            "the blue jacket.",
            "the kitchen set.",
            "my second package.",
            "the order to Lisbon.",
        ],
    ),
}
PER_CLASS = 30


def records():
    per_class = {
        label: islice(cycle(product(openings, details)), PER_CLASS) for label, (openings, details) in TICKETS.items()
    }
    number = 0
    for round_ in zip(*per_class.values(), strict=True):  # interleaved: billing, technical, ...
        for label, (opening, detail) in zip(LABELS, round_, strict=True):
            number += 1
            yield {
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{opening} {detail}"}],
                "reference_answer": label,
                "ticket_id": f"T-{number:04d}",
                "labels": LABELS,
            }


if __name__ == "__main__":
    out = Path(__file__).with_name("train.jsonl")
    out.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records()))
    print(f"wrote {out}")
