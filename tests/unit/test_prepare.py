"""Preparation is deterministic: the same upload always trains on the same records."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from customization.validation.dataset import LocalFile, write_prepared
from customization.validation.prepare import plan_split, text_to_input_records
from customization.validation.problems import ProblemLog
from customization.validation.scanner import iter_lines, split_key
from customization.validation.tokens import estimate_tokens
from tests.dataset_helpers import TITAN_EXPRESS, check, numbered, still_customizable, write_jsonl


def _prepare(tmp_path, source, result, tag):
    train_out, validation_out = tmp_path / f"train-{tag}.jsonl", tmp_path / f"validation-{tag}.jsonl"
    with open(train_out, "wb") as train, open(validation_out, "wb") as validation:
        write_prepared(result, LocalFile(source), train, validation if result.split else None)
    return train_out.read_bytes(), validation_out.read_bytes()


def test_split_is_deterministic_and_holds_out_the_asked_share(tmp_path):
    source = write_jsonl(tmp_path / "train.jsonl", numbered("q", 200))
    first = check(source, validation_split=0.15).result
    second = check(source, validation_split=0.15).result

    assert first.split == second.split
    assert first.split.validation_records == 30
    assert first.train_records == 170
    assert _prepare(tmp_path, source, first, "a") == _prepare(tmp_path, source, second, "b")


def test_split_does_not_depend_on_record_order(tmp_path):
    records = numbered("q", 100)
    forward = write_jsonl(tmp_path / "forward.jsonl", records)
    backward = write_jsonl(tmp_path / "backward.jsonl", list(reversed(records)))

    held_out_forward = set(
        _prepare(tmp_path, forward, check(forward, validation_split=0.2).result, "f")[1].splitlines()
    )
    held_out_backward = set(
        _prepare(tmp_path, backward, check(backward, validation_split=0.2).result, "b")[1].splitlines()
    )

    assert held_out_forward == held_out_backward


def test_split_files_together_hold_every_record_once(tmp_path):
    source = write_jsonl(tmp_path / "train.jsonl", numbered("q", 57))
    result = check(source, validation_split=0.1).result

    train, validation = _prepare(tmp_path, source, result, "x")

    assert sorted(train.splitlines() + validation.splitlines()) == sorted(source.read_bytes().splitlines())
    assert len(validation.splitlines()) == result.split.validation_records == 6


def test_identical_records_land_on_the_same_side(tmp_path):
    records = numbered("q", 40)
    records += [records[3]] * 5
    source = write_jsonl(tmp_path / "train.jsonl", records)
    train, validation = _prepare(tmp_path, source, check(source, validation_split=0.5).result, "d")
    duplicate = json.dumps(records[3]).encode()

    assert (duplicate in train.splitlines()) != (duplicate in validation.splitlines())


def test_the_split_counts_feed_the_record_bounds(tmp_path):
    source = write_jsonl(tmp_path / "train.jsonl", numbered("q", 9))

    checked = check(source, validation_split=0.5)

    assert "training records after holding out" in checked.messages("record-count")[0]


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=2, max_size=300, unique=True),
    ratio=st.floats(min_value=0.01, max_value=0.5),
)
def test_split_plan_always_leaves_both_sides_non_empty(keys, ratio):
    from array import array

    plan = plan_split(array("Q", keys), ratio)

    assert plan.train_records >= 1 and plan.validation_records >= 1
    assert plan.train_records + plan.validation_records == len(keys)


def _records(text: str, limit: int) -> list[tuple[int, dict]]:
    log = ProblemLog()
    lines = iter_lines([text.encode("utf-8")])
    return [(line, json.loads(raw)) for line, raw in text_to_input_records(lines, limit, log=log, file="t.txt")]


def test_text_becomes_input_records_under_the_limit_with_a_margin():
    paragraphs = [f"Paragraph {n}. " + "Some words here. " * 40 for n in range(50)]
    text = "\n\n".join(paragraphs)

    records = _records(text, limit=1000)

    assert len(records) > 1
    for _, record in records:
        assert set(record) == {"input"}
        assert estimate_tokens(record["input"]) <= 800
    rebuilt = "\n\n".join(record["input"] for _, record in records)
    assert rebuilt.split() == text.split(), "no text is lost or reordered"


def test_a_paragraph_too_long_for_one_record_is_cut_at_sentences_then_words():
    sentence_paragraph = " ".join(f"Sentence number {n} is here." for n in range(2000))
    wordy_paragraph = "word " * 5000
    unbroken = "x" * 10_000

    for text in (sentence_paragraph, wordy_paragraph, unbroken):
        records = _records(text, limit=500)
        assert all(estimate_tokens(record["input"]) <= 400 for _, record in records)
        rebuilt = "".join(record["input"] for _, record in records)
        assert "".join(rebuilt.split()) == "".join(text.split()), "no text is lost or reordered"


def test_records_point_at_the_text_line_they_start_on():
    text = "first paragraph\nstill first\n\nsecond paragraph\n"

    assert _records(text, limit=10)[0][0] == 1
    assert [line for line, _ in _records(text, limit=20)] == [1, 4]


def test_continued_pre_training_from_text_end_to_end(tmp_path):
    source = tmp_path / "train.txt"
    source.write_text("\n\n".join("A paragraph of handbook text. " * 30 for _ in range(40)), encoding="utf-8")

    checked = check(
        source,
        TITAN_EXPRESS,
        customization_type="CONTINUED_PRE_TRAINING",
        validation_split=0.1,
        catalog=still_customizable(TITAN_EXPRESS),
    )
    train, validation = _prepare(tmp_path, source, checked.result, "cpt")

    assert checked.result.valid and checked.result.needs_prepared_files
    records = [json.loads(line) for line in (train + validation).splitlines()]
    assert len(records) == checked.result.train.records
    assert all(estimate_tokens(r["input"]) <= 0.8 * checked.result.token_limit for r in records)


def test_split_key_is_stable_across_runs():
    # Pinned: if the fingerprint changed, every re-run of an old upload would split differently.
    assert split_key(b'{"input": "x"}') == 10461103924795409539
