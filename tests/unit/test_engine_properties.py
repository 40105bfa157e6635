"""Whatever is thrown at the engine, it reports; it never crashes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customization.catalog import load_catalog
from customization.validation.dataset import check_dataset
from customization.validation.jobspec import JobSettings
from customization.validation.problems import ProblemLog
from customization.validation.scanner import iter_lines

MODELS = sorted(load_catalog().models)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Records that look like the real formats, so the checks deep inside them are exercised too.
message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "bot", 3]),
        "content": st.one_of(
            st.text(),
            st.lists(st.dictionaries(st.sampled_from(["text", "image", "video"]), json_values, max_size=2), max_size=3),
        ),
    },
)
near_miss_records = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": st.sampled_from(["bedrock-conversation-2024", "x"]),
        "system": json_values,
        "messages": st.lists(message, max_size=4) | json_values,
        "prompt": json_values,
        "completion": json_values,
        "input": json_values,
    },
)


class InMemory:
    def __init__(self, name: str, data: bytes, chunk: int) -> None:
        self.name, self.data, self.chunk = name, data, chunk

    def chunks(self):
        for start in range(0, len(self.data), self.chunk):
            yield self.data[start : start + self.chunk]


def _run(data: bytes, model: str, chunk: int, name: str = "train.jsonl"):
    customization_type = load_catalog().model(model).customization_types[-1]
    result = check_dataset(
        InMemory(name, data, chunk), JobSettings(model, customization_type, {}, 0.2), log=ProblemLog(keep=20)
    )
    assert result.log.error_count + result.log.warning_count >= len(result.log.problems)
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), model=st.sampled_from(MODELS), chunk=st.integers(1, 64))
def test_arbitrary_bytes_are_reported_never_raised(data, model, chunk):
    _run(data, model, chunk)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(json_values | near_miss_records, max_size=12), model=st.sampled_from(MODELS))
def test_arbitrary_json_is_reported_never_raised(records, model):
    data = "\n".join(json.dumps(record) for record in records).encode()

    result = _run(data, model, 4096)

    for problem in result.log.problems:
        assert problem.line is None or 1 <= problem.line <= max(len(records), 1)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=3000), model=st.sampled_from(["amazon.titan-text-express-v1:0:8k"]))
def test_arbitrary_text_converts_or_reports(text, model):
    result = check_dataset(InMemory("train.txt", text.encode(), 97), JobSettings(model, "CONTINUED_PRE_TRAINING"))

    assert result.train is not None


@given(data=st.binary(max_size=500), chunk=st.integers(1, 50))
def test_line_splitting_does_not_depend_on_chunk_size(data, chunk):
    whole = list(iter_lines([data]))
    pieces = list(iter_lines(data[i : i + chunk] for i in range(0, len(data), chunk)))

    assert whole == pieces


plain_text = st.text(min_size=1).filter(lambda text: not text.isspace())
valid_conversations = st.builds(
    lambda system, turns: {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": text} for text in system],
        "messages": [
            {"role": role, "content": [{"text": text}]}
            for question, answer in turns
            for role, text in (("user", question), ("assistant", answer))
        ],
    },
    st.lists(plain_text, max_size=2),
    st.lists(st.tuples(plain_text, plain_text), min_size=1, max_size=3),
)


@settings(max_examples=100, deadline=None)
@given(record=valid_conversations)
def test_the_fast_path_accepts_well_formed_conversations(record):
    from customization.validation.records import _well_formed_conversation_texts

    assert _well_formed_conversation_texts(record) is not None


@settings(max_examples=300, deadline=None)
@given(record=valid_conversations | near_miss_records | json_values)
def test_the_conversation_fast_path_only_accepts_what_the_full_check_accepts(record):
    from customization.validation.records import RecordContext, _check_conversation, check_conversation

    if not isinstance(record, dict):
        return
    model = load_catalog().model("amazon.nova-lite-v1:0:300k")
    with_fast_path, full_only = ProblemLog(), ProblemLog()

    texts = check_conversation(record, 1, RecordContext(file="t", log=with_fast_path, model=model))
    expected = _check_conversation(record, 1, RecordContext(file="t", log=full_only, model=model))

    assert texts == expected
    assert (with_fast_path.error_count == 0) == (full_only.error_count == 0)


def test_the_fast_path_accepts_the_bundled_example():
    from customization.validation.records import _well_formed_conversation_texts
    from tests.conftest import ROOT

    lines = (ROOT / "examples/email-classifier/train.jsonl").read_text().splitlines()

    assert all(_well_formed_conversation_texts(json.loads(line)) for line in lines)
