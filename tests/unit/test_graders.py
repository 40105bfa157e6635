"""The reward functions (lambdas/graders): Bedrock's batch request in, one result per item out.

Every test goes through a grader's real Lambda `handler(event, context)` with requests shaped
as Bedrock sends them, except the few that pin a helper's edge (normalization, the pattern
check, the registry)."""

from __future__ import annotations

import json
import math
import signal
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graders
from graders import BUILT_IN, UnknownGrader, contract, handler_of, load_grader, regex
from graders.contract import BATCH_TIME_BUDGET_S, MAX_ANSWER_CHARS, BadEvent, Score, check_response
from graders.exact_match import normalize
from graders.regex import nested_quantifier, overlapping_repeats

EXACT = handler_of(load_grader("exact-match"))
SCHEMA = handler_of(load_grader("json-schema"))
REGEX = handler_of(load_grader("regex"))
TICKET_SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"enum": ["billing", "technical"]},
        "priority": {"type": "integer", "minimum": 1, "maximum": 3},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 3},
    },
    "required": ["category", "priority"],
    "additionalProperties": False,
}


def item(answer, item_id="1", **metadata):
    return {
        "id": item_id,
        "messages": [{"role": "user", "content": "Triage this ticket."}, {"role": "assistant", "content": answer}],
        "metadata": metadata,
    }


def grade_one(handler, answer, **metadata):
    problems = []
    [result] = handler([item(answer, **metadata)], None, problems.append)
    return result["aggregate_reward_score"], {m["name"]: m["value"] for m in result["metrics_list"]}, problems


# exact-match


@pytest.mark.parametrize(
    ("answer", "reference", "score"),
    [
        ("billing", "billing", 1.0),
        ("  Billing. ", "billing", 1.0),
        ("ＢＩＬＬＩＮＧ", "billing", 1.0),  # noqa: RUF001 - full-width letters, folded by NFKC
        ("billing", {"label": "Billing"}, 1.0),
        ("billing", {"answer": "billing"}, 1.0),
        ("refund", ["billing", "refund"], 1.0),
        ("42", 42, 1.0),
        ("The category is billing.", "billing", 0.5),
        ("It's a password reset request", "password reset", 0.5),
        ("rebilling", "billing", 0.0),  # a whole word only
        ("technical", "billing", 0.0),
        ("", "billing", 0.0),
    ],
)
def test_exact_match_scores_the_normalized_answer_against_the_label(answer, reference, score):
    got, metrics, problems = grade_one(EXACT, answer, reference_answer=reference)

    assert got == score
    assert metrics["exact"] == (1.0 if score == 1.0 else 0.0)
    assert problems == []


def test_exact_match_gives_no_partial_credit_to_an_answer_naming_another_class_too():
    classes = ["billing", "billing dispute", "technical"]

    hedged, metrics, _ = grade_one(EXACT, "billing or technical", reference_answer="billing", labels=classes)
    longer_class, _, _ = grade_one(EXACT, "a billing dispute", reference_answer="billing", labels=classes)
    right_long_label, _, _ = grade_one(
        EXACT, "it is a billing dispute", reference_answer="billing dispute", labels=classes
    )

    assert (hedged, metrics["hedged"]) == (0.0, 1.0)
    assert longer_class == 0.0
    assert right_long_label == 0.5


def test_normalization_folds_case_width_punctuation_and_spaces():
    assert normalize(" Ｈello,\tWORLD!! ﬁne ") == "hello world fine"  # noqa: RUF001


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({}, "no-reference"),
        ({"reference_answer": {"category": "billing"}}, "bad-reference"),
        ({"reference_answer": "?!"}, "bad-reference"),
        ({"reference_answer": [1, {"a": 2}]}, "bad-reference"),
        ({"reference_answer": "billing", "labels": "billing,technical"}, "bad-labels"),
    ],
)
def test_exact_match_cannot_score_a_record_without_a_usable_reference(metadata, problem):
    score, metrics, problems = grade_one(EXACT, "billing is it", **metadata)

    assert score == 0.0
    assert metrics == {f"unscored:{problem}": 1.0}
    assert [entry["problem"] for entry in problems] == [problem]
    assert problems[0]["id"] == "1" and problems[0]["detail"]


def test_the_reference_is_read_at_the_items_top_level_too_as_sagemakers_page_shows_it():
    request = [{"id": "7", "messages": [{"role": "assistant", "content": "billing"}], "reference_answer": "billing"}]

    assert EXACT(request, None)[0]["aggregate_reward_score"] == 1.0


def test_content_given_as_text_parts_is_read_as_its_text():
    request = item("ignored", reference_answer="billing")
    request["messages"][-1]["content"] = [{"type": "text", "text": "bill"}, {"text": "ing"}]

    assert EXACT([request], None)[0]["aggregate_reward_score"] == 1.0


# json-schema


@pytest.mark.parametrize(
    ("answer", "score", "failed"),
    [
        ('{"category": "billing", "priority": 2, "tags": ["refund"]}', 1.0, []),
        ('Here you go:\n```json\n{"category": "technical", "priority": 1}\n```\nAnything else?', 1.0, []),
        (
            '{"category": "sales", "priority": 9, "extra": true}',
            5 / 8,
            ["$.category enum", "$.priority maximum", "$.extra additionalProperties"],
        ),
        ('{"category": "billing"}', 3 / 4, ["$.priority required"]),
        ('{"category": "billing", "priority": 2.5}', 4 / 5, ["$.priority type"]),
        ('{"category": "billing", "priority": true}', 4 / 5, ["$.priority type"]),
        ('["billing", 2]', 0.0, ["$ type"]),
    ],
)
def test_json_schema_credits_the_share_of_checks_passed_and_names_the_failed_ones(answer, score, failed):
    got, metrics, problems = grade_one(SCHEMA, answer, schema=TICKET_SCHEMA)

    assert math.isclose(got, score)
    assert metrics["json"] == 1.0
    assert sorted(name.removeprefix("failed ") for name in metrics if name.startswith("failed ")) == sorted(failed)
    assert problems == []


@pytest.mark.parametrize("answer", ["", "category: billing", '{"category": "billing",}', "NaN", "```json\n{oops}\n```"])
def test_json_schema_gives_0_to_an_answer_that_is_not_json(answer):
    score, metrics, _ = grade_one(SCHEMA, answer, schema=TICKET_SCHEMA)

    assert (score, metrics) == (0.0, {"json": 0.0})


def test_json_schema_reads_a_schema_given_as_a_json_string():
    score, _, _ = grade_one(SCHEMA, '{"category": "billing", "priority": 1}', schema=json.dumps(TICKET_SCHEMA))

    assert score == 1.0


@pytest.mark.parametrize(
    ("schema", "problem", "detail"),
    [
        (None, "no-schema", "no schema"),
        ({"type": "object", "oneOf": []}, "bad-schema", "schema.oneOf: keyword not supported"),
        ({"type": "dict"}, "bad-schema", "schema.type must be one of"),
        ({"properties": {"a": {"minimum": "1"}}}, "bad-schema", "schema.properties.a.minimum must be a number"),
        ("{not json", "bad-schema", "not JSON"),
        ([1, 2], "bad-schema", "must be an object"),
    ],
)
def test_json_schema_refuses_a_schema_outside_its_subset_rather_than_ignoring_it(schema, problem, detail):
    metadata = {} if schema is None else {"schema": schema}

    score, metrics, problems = grade_one(SCHEMA, '{"a": 1}', **metadata)

    assert (score, metrics) == (0.0, {f"unscored:{problem}": 1.0})
    assert detail in problems[0]["detail"]


def test_json_schema_lists_at_most_ten_failed_checks_and_counts_the_rest():
    schema = {"type": "object", "required": [f"field{n}" for n in range(15)]}

    score, metrics, _ = grade_one(SCHEMA, "{}", schema=schema)

    assert score == 1 / 16
    assert len([name for name in metrics if name.startswith("failed ")]) == 10
    assert metrics["failed_checks"] == 15


@pytest.mark.parametrize(
    ("schema", "place"),
    [
        ({"properties": {"priority": {"enum": ["low", "high"]}}, "required": ["priority"]}, "schema uses properties"),
        ({}, "schema has no type, enum or const"),
        (True, "schema is true, which accepts any JSON"),
        ({"type": "object", "properties": {"n": {"minimum": 0}}}, "schema.properties.n uses minimum"),
        ({"type": "array", "items": {"maxLength": 3}}, "schema.items uses maxLength"),
    ],
)
def test_json_schema_refuses_a_schema_that_lets_a_trivial_answer_through(schema, place):
    for trivial in ("0", "[]", "null", '{"n": null}'):
        score, metrics, problems = grade_one(SCHEMA, trivial, schema=schema)

        assert (score, metrics) == (0.0, {"unscored:schema-unconstrained": 1.0})
        assert problems[0]["detail"].startswith(place)
    assert graders.record_problem(load_grader("json-schema"), {"messages": [], "schema": schema}).startswith(
        "the grader cannot score this record (schema-unconstrained)"
    )


def test_json_schema_with_a_root_type_gives_trivial_answers_less_than_a_nearly_right_one():
    schema = {"type": "object", "properties": {"priority": {"enum": ["low", "high"]}}, "required": ["priority"]}

    trivial = [grade_one(SCHEMA, answer, schema=schema)[0] for answer in ("0", "[]", "null", '"x"')]
    nearly, _, _ = grade_one(SCHEMA, '{"priority": "urgent"}', schema=schema)
    anything, _, _ = grade_one(SCHEMA, '{"notes": null}', schema={"type": "object", "properties": {"notes": {}}})

    assert trivial == [0.0] * 4
    assert nearly == 2 / 3
    assert anything == 1.0  # `{}` below the root: a property that may hold anything, said so


@pytest.mark.parametrize(
    ("answer", "schema", "failed"),
    [
        ("1e400", {"type": "number", "maximum": 10}, ["$ maximum"]),
        ("-1e400", {"type": "number", "minimum": 0, "exclusiveMaximum": 5}, ["$ minimum", "$ exclusiveMaximum"]),
        ('{"n": 1e400}', {"type": "object", "properties": {"n": {"type": "number", "maximum": 3}}}, ["$.n maximum"]),
    ],
)
def test_json_schema_fails_numeric_bounds_for_a_number_too_big_for_a_float(answer, schema, failed):
    score, metrics, _ = grade_one(SCHEMA, answer, schema=schema)

    assert score < 1.0
    assert sorted(name.removeprefix("failed ") for name in metrics if name.startswith("failed ")) == sorted(failed)


# regex


@pytest.mark.parametrize(
    ("answer", "metadata", "score"),
    [
        ("T-1234", {"pattern": r"T-\d{4}"}, 1.0),
        ("  T-1234\n", {"pattern": r"T-\d{4}"}, 1.0),
        ("Your ticket is T-1234.", {"pattern": r"T-\d{4}"}, 0.5),
        ("Your ticket is T-1234.", {"pattern": r"T-\d{4}", "match": "search"}, 1.0),
        ("no ticket", {"pattern": r"T-\d{4}", "match": "search"}, 0.0),
        ("YES", {"pattern": "(?i)yes"}, 1.0),
        ("refund of 20 EUR", {"pattern": [r"\d+", "EUR|USD", "approved"], "match": "search"}, 2 / 3),
    ],
)
def test_regex_scores_a_full_match_a_match_inside_and_no_match(answer, metadata, score):
    got, _, problems = grade_one(REGEX, answer, **metadata)

    assert math.isclose(got, score)
    assert problems == []


@pytest.mark.parametrize(
    ("metadata", "detail"),
    [
        ({}, "no pattern"),
        ({"pattern": "(unclosed"}, "not a valid regular expression"),
        ({"pattern": "x" * 501}, "over 500"),
        ({"pattern": r"(a+)+b"}, "exponential"),
        ({"pattern": r"(\w*\s?)*$"}, "exponential"),
        ({"pattern": r"((ab)*c)+"}, "exponential"),
        ({"pattern": r"T-\d+", "match": "prefix"}, "match must be one of full, search"),
        ({"pattern": []}, "non-empty list"),
    ],
)
def test_regex_refuses_missing_broken_long_and_catastrophic_patterns(metadata, detail):
    score, metrics, problems = grade_one(REGEX, "a" * 30, **metadata)

    assert score == 0.0
    assert len(metrics) == 1 and next(iter(metrics)).startswith("unscored:")
    assert detail in problems[0]["detail"]


@pytest.mark.parametrize("pattern", [r"(?>a+)+b", r"(a++)+b", r"(cat|dog)+", r"\w+@\w+\.com", r"(ab)?c*"])
def test_patterns_that_cannot_backtrack_exponentially_pass_the_check(pattern):
    assert not nested_quantifier(pattern)


@pytest.mark.parametrize(
    ("pattern", "pair"),
    [
        (".*.*=", "`.*` and `.*`"),
        (".*.*.*=", "`.*` and `.*`"),
        (r"(?s)answer: .*\s*.+$", "`.*` and `\\s*`"),
        (r"\S*\S+", "`\\S*` and `\\S+`"),
        ("[^x]*.*", "`[^x]*` and `.*`"),
        (r"\w+\s*\w+", "`\\w+` and `\\w+`"),
        ("(?:a*)?a*", "`a*` and `a*`"),
        ("(?:x|.*).*", "`.*` and `.*`"),
        ("(?i)a*A+", "`a*` and `A+`"),
        (".{0,99}.{0,99}=", "`.{0,99}` and `.{0,99}`"),
    ],
)
def test_regex_refuses_repeats_that_can_share_text_with_nothing_required_between(pattern, pair):
    score, metrics, problems = grade_one(REGEX, "x = 1", pattern=pattern)

    assert (score, metrics) == (0.0, {"unscored:bad-pattern": 1.0})
    assert problems[0]["detail"].startswith(f"pattern may backtrack: {pair} can match the same text")


@pytest.mark.parametrize(
    "pattern",
    [
        r"T-\d{4}",
        r".*Answer: \d+",
        r"[^=]*=.*",
        r"\w+\s+\w+",
        r"\d*[a-z]+\d*",
        r"a*A+",
        r".*+.*",
        r"(?>.*).*",
        r"\s*\{.*\}\s*",
        r"\d+\s*(?:EUR|USD)",
        r"(ab)?c*",
    ],
)
def test_repeats_separated_by_a_required_part_or_that_cannot_share_a_character_pass(pattern):
    assert overlapping_repeats(pattern) is None
    assert not nested_quantifier(pattern)


def _ticking(step):
    """A clock that advances `step` seconds each time it is read."""
    now = [0.0]

    def clock():
        now[0] += step
        return now[0]

    return clock


def test_a_batch_stops_grading_at_its_time_budget_and_scores_the_rest_unscored():
    problems = []
    batch = [item("T-1234", str(n), pattern=r"T-\d{4}") for n in range(6)]

    # Read at the start (0 + 1 s) and before each item (2 s, 3 s: in; 4 s: past the 3.5 s deadline).
    response = contract.grade_batch(batch, regex.grade, problems.append, budget_s=2.5, clock=_ticking(1.0))

    assert [r["id"] for r in response] == [str(n) for n in range(6)]
    assert [r["aggregate_reward_score"] for r in response] == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert all(r["metrics_list"] == [{"name": "unscored:time-budget", "value": 1.0, "type": "Metric"}]
               for r in response[2:])  # fmt: skip
    assert [p["id"] for p in problems] == ["2", "3", "4", "5"]
    assert all(p["problem"] == "time-budget" and "2.5 s time budget before this item" in p["detail"] for p in problems)
    assert list(check_response(batch, response)) == []


def test_a_match_that_outlasts_the_budget_is_interrupted_and_the_batch_still_answers():
    # Passes the static check (a required `=` between the repeats) but is cubic on `=`s: minutes.
    slow = item("=" * 20_000, "slow", pattern=".*=.*x")
    problems = []
    before = signal.getsignal(signal.SIGALRM)

    response = contract.grade_batch(
        [slow, item("T-1", "next", pattern="T-1")], regex.grade, problems.append, budget_s=0.2
    )

    assert [(r["id"], r["aggregate_reward_score"]) for r in response] == [("slow", 0.0), ("next", 0.0)]
    assert [p["id"] for p in problems] == ["slow", "next"]
    assert "while grading this item, which was stopped" in problems[0]["detail"]
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL)[0] == 0


class _Context:
    def __init__(self, remaining_ms):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


@pytest.mark.parametrize(
    ("context", "budget"),
    [
        (None, BATCH_TIME_BUDGET_S),
        (_Context(60_000), BATCH_TIME_BUDGET_S),
        (_Context(30_000), 20.0),
        (_Context(5), 0.0),
    ],
)
def test_the_budget_is_the_default_or_the_lambdas_remaining_time_less_a_margin(context, budget):
    assert contract.budget_for(context) == budget


def test_a_lambda_with_no_time_left_answers_every_item_unscored():
    problems = []

    response = REGEX([item("T-1", "a", pattern="T-1"), item("T-1", "b", pattern="T-1")], _Context(5), problems.append)

    assert [r["aggregate_reward_score"] for r in response] == [0.0, 0.0]
    assert [p["problem"] for p in problems] == ["time-budget", "time-budget"]


# the contract, for every grader


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_a_malformed_item_scores_0_and_the_rest_of_the_batch_is_graded(name):
    handler = handler_of(load_grader(name))
    good = item('"x"', "good", reference_answer="x", schema={"type": "string"}, pattern="...")
    request = [
        "not an item",
        {"id": "no-messages", "metadata": {}},
        {"id": "user-last", "messages": [{"role": "user", "content": "hi"}]},
        {"id": "bad-metadata", "messages": [{"role": "assistant", "content": "x"}], "metadata": ["x"]},
        good,
    ]
    problems = []

    response = handler(request, None, problems.append)

    assert [result["id"] for result in response] == [None, "no-messages", "user-last", "bad-metadata", "good"]
    assert [result["aggregate_reward_score"] for result in response[:4]] == [0.0] * 4
    assert all(
        result["metrics_list"] == [{"name": "unscored:bad-item", "value": 1.0, "type": "Metric"}]
        for result in response[:4]
    )
    assert response[4]["aggregate_reward_score"] == 1.0
    assert len(problems) == 4
    assert list(check_response(request, response)) == []


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_a_huge_answer_scores_0_without_being_read(name):
    handler = handler_of(load_grader(name))
    answer = "x" * (MAX_ANSWER_CHARS + 1)

    [result] = handler([item(answer, reference_answer="x", schema={"type": "string"}, pattern="x+")], None)

    assert result["aggregate_reward_score"] == 0.0
    assert result["metrics_list"] == [{"name": "answer_too_long", "value": MAX_ANSWER_CHARS + 1.0, "type": "Metric"}]


@pytest.mark.parametrize("event", [{"batch": []}, None, "[]", {"id": "1"}])
def test_an_event_that_is_not_a_batch_fails_the_invocation_with_the_reason(event):
    with pytest.raises(BadEvent, match="JSON array of items"):
        EXACT(event, None)


def test_an_empty_batch_gets_an_empty_response():
    assert EXACT([], None) == []


def test_problems_go_to_the_log_as_one_json_line_each_by_default(capsys):
    EXACT([item("x"), item("y", "2")], None)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(entry["id"], entry["problem"], entry["level"]) for entry in lines] == [
        ("1", "no-reference", "WARNING"),
        ("2", "no-reference", "WARNING"),
    ]


def test_a_grader_bug_fails_the_invocation_instead_of_scoring_zeros():
    def grade(_item):
        raise KeyError("reference")

    with pytest.raises(KeyError):
        graders.handler_for(grade)([item("x")], None)


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, True, "1"])
def test_a_score_outside_0_to_1_is_a_grader_bug(value):
    with pytest.raises(ValueError, match="from 0 to 1"):
        Score(value)


# the registry


def test_each_built_in_grader_is_a_module_with_grade_and_handler():
    for name, module_name in BUILT_IN.items():
        module = load_grader(name)
        assert module.__name__ == module_name
        assert callable(module.grade) and callable(module.handler)


def test_an_environment_adds_its_own_grader_module_by_name(tmp_path, monkeypatch):
    (tmp_path / "my_grader.py").write_text(
        "from graders import Score, Metric\n"
        "def grade(item):\n"
        "    return Score(1.0 if item.answer.endswith('?') else 0.0, (Metric('question', 1.0),))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    module = load_grader("asks-back", {"asks-back": "my_grader"})
    response = handler_of(module)([item("Which order?"), item("No.", "2")], None)

    assert [result["aggregate_reward_score"] for result in response] == [1.0, 0.0]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def grade(item)\n    return 1\n", "module 'mine_bad' failed to import (SyntaxError: "),
        ("import json\nSETTINGS = json.loads('{')\n", "module 'mine_bad' failed to import (JSONDecodeError: "),
        ("raise RuntimeError('no API key')\n", "module 'mine_bad' failed to import (RuntimeError: no API key)"),
    ],
)
def test_a_grader_module_that_fails_to_import_is_refused_naming_it_and_why(tmp_path, monkeypatch, source, message):
    (tmp_path / "mine_bad.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mine_bad", raising=False)

    with pytest.raises(UnknownGrader) as refused:
        load_grader("mine", {"mine": "mine_bad"})

    assert str(refused.value).startswith(f"grader 'mine': {message}")


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("fuzzy", None, "unknown grader 'fuzzy'; known: exact-match, json-schema, regex"),
        ("fuzzy", {"mine": "x"}, "known: exact-match, json-schema, mine, regex"),
        ("mine", {"mine": "no_such_module_here"}, "cannot import module 'no_such_module_here'"),
        ("mine", {"mine": "json"}, "module 'json' has no grade(item) function"),
        ("regex", {"regex": "my.regex"}, "'regex' is built in"),
    ],
)
def test_an_unknown_or_unusable_grader_is_refused_with_what_is_known(name, extra, message):
    with pytest.raises(UnknownGrader) as refused:
        load_grader(name, extra)

    assert message in str(refused.value)


# properties


_answers = st.one_of(
    st.text(max_size=200), st.sampled_from(["billing", '{"category": "billing", "priority": 1}', "T-0001"])
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
_metadata = st.fixed_dictionaries(
    {},
    optional={
        "reference_answer": _json,
        "schema": st.one_of(_json, st.just(TICKET_SCHEMA)),
        "pattern": st.one_of(st.text(max_size=20), st.sampled_from([r"T-\d{4}", "(a+)+", "["])),
        "labels": _json,
        "match": st.sampled_from(["full", "search", "other"]),
    },
)
_items = st.one_of(
    st.builds(lambda answer, metadata, n: item(answer, f"id-{n}", **metadata), _answers, _metadata, st.integers()),
    _json,
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(BUILT_IN)), batch=st.lists(_items, max_size=8))
def test_every_grader_answers_each_item_in_order_with_its_id_and_a_score_from_0_to_1(name, batch):
    response = handler_of(load_grader(name))(batch, None, lambda _entry: None)

    assert len(response) == len(batch)
    assert [result["id"] for result in response] == [raw.get("id") if isinstance(raw, dict) else None for raw in batch]
    assert all(0.0 <= result["aggregate_reward_score"] <= 1.0 for result in response)
    assert list(check_response(batch, response)) == []
    json.dumps(response, allow_nan=False)  # what Lambda returns must serialize as strict JSON
