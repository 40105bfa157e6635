"""Each rule, per data format: a record that breaks it is reported on its line, one that
follows it is not. Line numbers are 1-based, as an editor shows them."""

from __future__ import annotations

import copy

import pytest

from tests.dataset_helpers import (
    CLAUDE_HAIKU,
    LLAMA_31_8B,
    LLAMA_32_11B,
    NOVA_LITE,
    NOVA_MICRO,
    TITAN_EXPRESS,
    check,
    claude,
    conversation,
    numbered,
    prompt_completion,
    still_customizable,
    write_jsonl,
)

# Enough records for every model's minimum, so only the rule under test can fire.
FILLER = {NOVA_MICRO: 10, NOVA_LITE: 10, CLAUDE_HAIKU: 40, LLAMA_31_8B: 110, TITAN_EXPRESS: 10, LLAMA_32_11B: 110}
BUILDERS = {
    NOVA_MICRO: conversation,
    NOVA_LITE: conversation,
    LLAMA_32_11B: conversation,
    CLAUDE_HAIKU: claude,
    LLAMA_31_8B: prompt_completion,
    TITAN_EXPRESS: prompt_completion,
}


def _dataset(tmp_path, model, bad_record=None, *, raw=None):
    """Filler records for `model` with `bad_record` (or raw text) on line 3."""
    records = numbered("filler", FILLER[model], BUILDERS[model])
    records.insert(2, bad_record if bad_record is not None else records[0])
    return write_jsonl(tmp_path / "train.jsonl", records, raw_lines={3: raw} if raw is not None else None)


def _mutated(builder, mutate):
    record = copy.deepcopy(builder())
    mutate(record)
    return record


CASES = [
    # (id, model, mutation of a good record, rule expected on line 3)
    ("conv-unexpected-top", NOVA_MICRO, lambda r: r.update(extra=1), "unexpected-field"),
    ("conv-schema-version", NOVA_MICRO, lambda r: r.update(schemaVersion="v1"), "schema-version"),
    ("conv-missing-messages", NOVA_MICRO, lambda r: r.pop("messages"), "required-field"),
    ("conv-messages-not-list", NOVA_MICRO, lambda r: r.update(messages="hi"), "field-type"),
    ("conv-system-not-list", NOVA_MICRO, lambda r: r.update(system="hi"), "field-type"),
    ("conv-empty-text", NOVA_MICRO, lambda r: r["messages"][0]["content"][0].update(text="  "), "empty-text"),
    ("conv-text-type", NOVA_MICRO, lambda r: r["messages"][1]["content"][0].update(text=5), "field-type"),
    ("conv-first-role", NOVA_MICRO, lambda r: r["messages"].reverse(), "role-order"),
    ("conv-last-role", NOVA_MICRO, lambda r: r["messages"].pop(), "role-order"),
    ("conv-unknown-role", NOVA_MICRO, lambda r: r["messages"][1].update(role="bot"), "role-order"),
    ("conv-reserved", NOVA_MICRO, lambda r: r["messages"][0]["content"][0].update(text="User: hi"), "reserved-string"),
    ("conv-block-kind", NOVA_MICRO, lambda r: r["messages"][0]["content"].append({"audio": {}}), "unexpected-field"),
    (
        "conv-image-text-only-model",
        NOVA_MICRO,
        lambda r: r["messages"][0]["content"].append(
            {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://data/img.png"}}}}
        ),
        "media",
    ),
    ("claude-unexpected", CLAUDE_HAIKU, lambda r: r.update(schemaVersion="x"), "unexpected-field"),
    ("claude-content-type", CLAUDE_HAIKU, lambda r: r["messages"][0].update(content=[{"text": "hi"}]), "field-type"),
    (
        "claude-role-order",
        CLAUDE_HAIKU,
        lambda r: r["messages"].insert(0, {"role": "assistant", "content": "x"}),
        "role-order",
    ),
    ("claude-empty-system", CLAUDE_HAIKU, lambda r: r.update(system=""), "empty-text"),
    ("pc-missing-completion", LLAMA_31_8B, lambda r: r.pop("completion"), "required-field"),
    ("pc-unexpected", LLAMA_31_8B, lambda r: r.update(messages=[]), "unexpected-field"),
    ("pc-empty", TITAN_EXPRESS, lambda r: r.update(prompt=""), "empty-text"),
    ("pc-type", TITAN_EXPRESS, lambda r: r.update(completion=["a"]), "field-type"),
]


@pytest.mark.parametrize(("model", "mutate", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_record_is_reported_on_its_line(tmp_path, model, mutate, rule):
    checked = check(_dataset(tmp_path, model, _mutated(BUILDERS[model], mutate)), model)

    assert rule in checked.rules
    assert checked.lines(rule) == [3]
    assert not checked.result.valid


@pytest.mark.parametrize("model", sorted(FILLER))
def test_well_formed_records_pass_for_every_format(tmp_path, model):
    checked = check(_dataset(tmp_path, model), model, catalog=still_customizable(model))

    assert checked.rules == set()
    assert checked.result.valid
    assert checked.result.train_records == FILLER[model] + 1


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("", "blank-line"),
        ("   ", "blank-line"),
        ('{"schemaVersion": ', "json"),
        ("[1, 2]", "record-type"),
        ('"just a string"', "record-type"),
    ],
)
def test_lines_that_are_not_json_objects(tmp_path, raw, rule):
    checked = check(_dataset(tmp_path, NOVA_MICRO, raw=raw))

    assert checked.lines(rule) == [3]
    assert "expected one object per line like" in checked.messages(rule)[0] or rule == "blank-line"


def test_invalid_utf8_is_reported_with_its_line(tmp_path):
    path = _dataset(tmp_path, NOVA_MICRO)
    data = path.read_bytes().split(b"\n")
    data[4] = data[4].replace(b"filler", b"fill\xffer", 1)
    path.write_bytes(b"\n".join(data))

    checked = check(path)

    assert checked.lines("encoding") == [5]
    assert "save the file as UTF-8" in checked.messages("encoding")[0]


def test_byte_order_mark_is_reported(tmp_path):
    path = _dataset(tmp_path, NOVA_MICRO)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    assert check(path).lines("byte-order-mark") == [1]


def test_windows_line_endings_are_fine(tmp_path):
    path = _dataset(tmp_path, NOVA_MICRO)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    assert check(path).result.valid


def test_images_follow_the_media_rules(tmp_path):
    def image(uri="s3://data-bucket/datasets/x/images/a.png", fmt="png"):
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": uri}}}}

    good = conversation()
    good["messages"][0]["content"].append(image())
    in_assistant = conversation()
    in_assistant["messages"][1]["content"].append(image())
    wrong_bucket = conversation()
    wrong_bucket["messages"][0]["content"].append(image("s3://other-bucket/a.png"))
    wrong_format = conversation()
    wrong_format["messages"][0]["content"].append(image(fmt="bmp"))
    outside_readable = conversation()
    outside_readable["messages"][0]["content"].append(image("s3://data-bucket/images/a.png"))
    too_many = conversation()
    too_many["messages"][0]["content"].extend(image() for _ in range(11))
    both = conversation()
    both["messages"][0]["content"] += [
        image(),
        {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://data-bucket/datasets/x/v.mp4"}}}},
    ]
    records = [good, in_assistant, wrong_bucket, wrong_format, too_many, both, outside_readable, *numbered("x", 8)]

    checked = check(write_jsonl(tmp_path / "train.jsonl", records), NOVA_LITE, dataset_bucket="data-bucket")

    assert checked.lines("media") == [2, 4, 5, 6]
    assert checked.lines("media-uri") == [3, 7]
    assert "which Bedrock cannot read" in checked.messages("media-uri")[1]
    assert "dataset's own bucket 'data-bucket'" in checked.messages("media-uri")[0]


def test_a_record_over_the_token_limit_is_refused_with_the_estimate(tmp_path):
    long_text = "word " * 30_000  # about 50,000 tokens by the conservative estimate
    checked = check(_dataset(tmp_path, NOVA_MICRO, conversation(long_text)))

    assert checked.lines("token-limit") == [3]
    assert "over the 32,000 a record may have for Amazon Nova Micro" in checked.messages("token-limit")[0]


def test_titan_token_limit_shrinks_with_the_batch_size(tmp_path):
    record = prompt_completion("x" * 9_000)  # about 3,000 tokens: under 4,096, over 2,048
    path = _dataset(tmp_path, TITAN_EXPRESS, record)

    titan = still_customizable(TITAN_EXPRESS)
    assert check(path, TITAN_EXPRESS, hyperparameters={"batchSize": "1"}, catalog=titan).result.valid
    assert check(path, TITAN_EXPRESS, hyperparameters={"batchSize": "2"}, catalog=titan).lines("token-limit") == [3]


def test_record_counts_are_checked_against_the_model(tmp_path):
    too_few = write_jsonl(tmp_path / "few.jsonl", numbered("q", 5))

    checked = check(too_few, NOVA_MICRO)

    assert checked.lines("record-count") == [None]
    assert "5 training records; Amazon Nova Micro needs at least 8" in checked.messages("record-count")[0]


def test_empty_file(tmp_path):
    empty = tmp_path / "train.jsonl"
    empty.write_text("")

    assert "no records: the file is empty" in check(empty).messages("record-count")[0]


def test_claude_validation_set_is_capped(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", numbered("t", 40, claude))
    validation = write_jsonl(tmp_path / "validation.jsonl", numbered("v", 1001, claude))

    checked = check(train, CLAUDE_HAIKU, validation=validation)

    assert "1,001 validation records; Anthropic Claude 3 Haiku takes at most 1,000" in " ".join(
        checked.messages("record-count")
    )


def test_duplicates_and_train_validation_overlap_are_warnings(tmp_path):
    records = numbered("t", 10)
    records.append(records[1])
    train = write_jsonl(tmp_path / "train.jsonl", records)
    validation = write_jsonl(tmp_path / "validation.jsonl", [records[4], conversation("new one")])

    checked = check(train, validation=validation)

    assert checked.result.valid
    assert checked.lines("duplicate") == [11]
    assert "same text as line 2" in checked.messages("duplicate")[0]
    assert checked.lines("train-validation-overlap") == [1]
    assert "same text as training line 5" in checked.messages("train-validation-overlap")[0]


def test_plain_text_is_refused_for_fine_tuning(tmp_path):
    text = tmp_path / "train.txt"
    text.write_text("Some prose.\n")

    checked = check(text, NOVA_MICRO)

    assert "plain text is for continued pre-training" in checked.messages("plain-text")[0]


def test_problems_are_capped_but_counted(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [{"wrong": i} for i in range(500)])

    log = check(path).result.log

    assert len(log.problems) == 200
    assert log.errors_by_rule["unexpected-field"] == 500
    assert log.truncated > 0


def test_a_dataset_over_the_environments_cost_ceiling_is_refused_with_the_estimate(tmp_path):
    from customization.validation.dataset import LocalFile, check_dataset
    from customization.validation.jobspec import JobSettings

    path = write_jsonl(tmp_path / "train.jsonl", [conversation(f"question {n} " * 200, "answer") for n in range(300)])
    settings = JobSettings(NOVA_MICRO, hyperparameters={"epochCount": "5"})

    over = check_dataset(LocalFile(path), settings, cost_ceiling_usd=0.01)
    under = check_dataset(LocalFile(path), settings, cost_ceiling_usd=1000)

    [problem] = [p for p in over.log.problems if p.rule == "cost-ceiling"]
    assert problem.message.startswith(f"estimated training cost ${over.cost.training_usd:,.2f} is above")
    assert "ceiling $0.01: reduce records or epochs, or raise limits.costCeilingUsd in cdk.json" in problem.message
    assert not over.valid and under.valid
