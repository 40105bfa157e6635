"""`exact-match`: the answer is the reference label, after normalization.

Reference (`metadata.reference_answer`): a string; a number or boolean (compared as its JSON
text); a list of strings, any of which is right; or an object whose `label` (else `answer`)
is one of those.

Both sides are normalized the same way: Unicode NFKC (full-width letters, ligatures), case
folded, punctuation turned into spaces, whitespace collapsed. So `"Billing."`, `" billing "`
and `billing` in full-width letters all equal `billing`.

Scores:
- 1.0 the normalized answer equals a normalized label;
- PARTIAL_CREDIT (0.5) a label appears as a whole word or phrase inside a longer answer
  (`"The category is billing."`): the model knows the class but not the format;
- 0.0 otherwise. Optional `metadata.labels` (every class of the task) guards the partial
  credit: an answer that also names another class (`"billing or technical"`) gets 0, so
  listing every class is never worth more than committing to one.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from graders.contract import REWARD, Item, Metric, Score, Ungradable, handler_for

PARTIAL_CREDIT = 0.5
# The keys an object reference may hold its label under, in the order they are read.
LABEL_KEYS = ("label", "answer")

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, case folded, punctuation as spaces, one space between words, none around them."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(char).startswith("P") else char for char in text)
    return _SPACES.sub(" ", text).strip()


def labels_of(reference: Any, field: str = "reference_answer") -> list[str]:
    """The accepted labels of a reference, normalized; `Ungradable` when there are none."""
    if isinstance(reference, dict):
        key = next((key for key in LABEL_KEYS if key in reference), None)
        if key is None:
            raise Ungradable("bad-reference", f"{field} is an object without any of the keys {', '.join(LABEL_KEYS)}")
        return labels_of(reference[key], f"{field}.{key}")
    if isinstance(reference, list):
        candidates = reference
    elif isinstance(reference, str):
        candidates = [reference]
    elif isinstance(reference, bool | int | float):
        candidates = [json.dumps(reference)]
    else:
        raise Ungradable("bad-reference", f"{field} must be a string, a number, a list of strings or an object")
    if not all(isinstance(candidate, str | int | float) for candidate in candidates):
        raise Ungradable("bad-reference", f"{field} must hold strings only")
    labels = [normalize(c if isinstance(c, str) else json.dumps(c)) for c in candidates]
    if not any(labels):
        raise Ungradable("bad-reference", f"{field} is empty once punctuation and spaces are removed")
    return [label for label in labels if label]


def check_record(item: Item) -> None:
    """What every record needs, whatever the answer: a usable reference and, if any, labels."""
    labels_of(item.require("reference_answer", "no-reference"))
    _classes(item)


def grade(item: Item) -> Score:
    labels = labels_of(item.require("reference_answer", "no-reference"))
    answer = normalize(item.answer)
    if answer in labels:
        return Score(1.0, (Metric("exact", 1.0, REWARD),))
    names_label, names_another = _mentions(answer, labels, _classes(item))
    if not names_label:
        return Score(0.0, (Metric("exact", 0.0, REWARD), Metric("contains_label", 0.0, REWARD)))
    if names_another:
        return Score(0.0, (Metric("exact", 0.0, REWARD), Metric("contains_label", 1.0, REWARD), Metric("hedged", 1.0)))
    return Score(PARTIAL_CREDIT, (Metric("exact", 0.0, REWARD), Metric("contains_label", 1.0, REWARD)))


def _classes(item: Item) -> set[str]:
    classes = item.get("labels")
    if classes is None:
        return set()
    if not isinstance(classes, list) or not all(isinstance(label, str) for label in classes):
        raise Ungradable("bad-labels", "labels must be a list of strings (every class of the task)")
    return {normalize(label) for label in classes} - {""}


def _mentions(answer: str, labels: list[str], classes: set[str]) -> tuple[bool, bool]:
    """(names a right label, names another class), longest names first: with classes "billing"
    and "billing dispute", "a billing dispute" names the second only, not both."""
    rest, names_label, names_another = f" {answer} ", False, False
    for name in sorted(set(labels) | classes, key=len, reverse=True):
        if f" {name} " in rest:
            rest = rest.replace(f" {name} ", " | ")
            names_label, names_another = names_label or name in labels, names_another or name not in labels
    return names_label, names_another


def answer_from_reference(reference: Any) -> str:
    """The answer `tools grade` tries when given none: the reference's first label, as written."""
    if isinstance(reference, dict):
        reference = next((reference[key] for key in LABEL_KEYS if key in reference), reference)
    if isinstance(reference, list) and reference:
        reference = reference[0]
    return reference if isinstance(reference, str) else json.dumps(reference)


handler = handler_for(grade)
