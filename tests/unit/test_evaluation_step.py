"""The Evaluate step's parts: validation records as questions, Converse calls with retries,
scores, the promotion decision, the reports, and the step itself against S3 (moto) and a
runtime whose answers each test scripts."""

from __future__ import annotations

import json
import random
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from customization.bedrock_errors import BedrockThrottled
from customization.catalog import (
    BEDROCK_CONVERSATION,
    CLAUDE_MESSAGES,
    INPUT_TEXT,
    PROMPT_COMPLETION,
    load_catalog,
)
from customization.evaluation.cases import select_cases, to_case
from customization.evaluation.inference import (
    MAX_ATTEMPTS,
    Answer,
    InvocationRejected,
    OutOfTime,
    Request,
    backoff,
    converse,
    converse_all,
)
from customization.evaluation.metrics import sample, sample_indexes
from customization.evaluation.scorecard import HOURLY, Comparison, markdown, report, score, token_prices
from customization.evaluation.step import EvaluationSettings, evaluate
from customization.notifications import compose

SYSTEM = "Answer with one word: spam or legitimate."


def conversation(question: str, answer: str, system: str | None = SYSTEM, turns: list | None = None) -> dict:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            *(turns or []),
            {"role": "user", "content": [{"text": question}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
    }
    if system:
        record["system"] = [{"text": system}]
    return record


def lines_of(records: list[dict]) -> list[bytes]:
    return [json.dumps(record).encode() for record in records]


# -- records as questions --------------------------------------------------------------------------


def test_a_conversation_is_asked_up_to_its_last_answer():
    earlier = [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hello"}]},
    ]
    case = to_case(conversation("Win a prize!", "spam", turns=earlier), BEDROCK_CONVERSATION, line=7)

    assert case.line == 7
    assert case.reference == "spam"
    assert case.system == (SYSTEM,)
    assert [m["role"] for m in case.messages] == ["user", "assistant", "user"]
    assert case.prompt == "Win a prize!"
    assert case.converse_request(system_prompts=True) == {
        "system": [{"text": SYSTEM}],
        "messages": [*earlier, {"role": "user", "content": [{"text": "Win a prize!"}]}],
    }


def test_without_system_prompts_the_system_text_opens_the_first_user_turn():
    case = to_case(conversation("Win a prize!", "spam"), BEDROCK_CONVERSATION, line=1)

    request = case.converse_request(system_prompts=False)

    assert "system" not in request
    assert request["messages"] == [{"role": "user", "content": [{"text": f"{SYSTEM}\n\nWin a prize!"}]}]


def test_prompt_completion_and_claude_records():
    pc = to_case({"prompt": "Classify: hi", "completion": "legitimate"}, PROMPT_COMPLETION, line=1)
    claude = to_case(
        {
            "system": SYSTEM,
            "messages": [{"role": "user", "content": "Win!"}, {"role": "assistant", "content": "spam"}],
        },
        CLAUDE_MESSAGES,
        line=2,
    )

    assert (pc.prompt, pc.reference, pc.system) == ("Classify: hi", "legitimate", ())
    assert (claude.prompt, claude.reference, claude.system) == ("Win!", "spam", (SYSTEM,))


def test_records_that_cannot_be_compared_are_left_out_and_counted():
    image = conversation("What is this?", "a cat")
    image["messages"][0]["content"].append({"image": {"format": "png", "source": {"s3Location": {"uri": "s3://b/k"}}}})
    records = [conversation(f"mail {i}", "spam") for i in range(5)] + [image]

    selection = select_cases(lines_of(records), BEDROCK_CONVERSATION, size=50)
    continued = select_cases([b'{"input": "some handbook text"}'], INPUT_TEXT, size=50)

    assert len(selection.cases) == 5
    assert selection.skipped == {"image or video content (evaluated on text-only records)": 1}
    assert continued.cases == [] and continued.skipped == {"continued pre-training text has no expected answer": 1}


def test_the_sample_is_the_same_whatever_the_order_and_lines_are_numbered_as_in_the_file():
    records = [conversation(f"mail number {i}", "spam" if i % 3 else "legitimate") for i in range(200)]
    lines = lines_of(records)
    shuffled = lines[:]
    random.Random(4).shuffle(shuffled)

    first = select_cases(lines, BEDROCK_CONVERSATION, size=20)
    again = select_cases(shuffled, BEDROCK_CONVERSATION, size=20)
    with_blank_lines = select_cases([b"", *lines], BEDROCK_CONVERSATION, size=20)

    assert len(first.cases) == 20
    assert {c.prompt for c in first.cases} == {c.prompt for c in again.cases}
    assert [c.line for c in first.cases] == sorted(c.line for c in first.cases)
    for case in first.cases:
        assert json.loads(lines[case.line - 1])["messages"][0]["content"][0]["text"] == case.prompt
    assert [c.line for c in with_blank_lines.cases] == [c.line + 1 for c in first.cases]


def test_a_line_that_is_not_a_record_is_left_out_with_where_the_first_one_is():
    lines = [*lines_of([conversation("a", "spam")]), b'{"prompt": "wrong format"}', b"not json", b"[1]"]

    selection = select_cases(lines, BEDROCK_CONVERSATION, size=10)

    assert [case.prompt for case in selection.cases] == ["a"]
    assert selection.skipped == {"not a record of the run's data format (the first at line 2)": 3}
    assert select_cases(lines, BEDROCK_CONVERSATION, size=0).cases == []
    with_bom = select_cases([b"\xef\xbb\xbf" + lines[0]], BEDROCK_CONVERSATION, size=10)
    assert [case.prompt for case in with_bom.cases] == ["a"] and with_bom.skipped == {}


@given(st.lists(st.binary(max_size=8), max_size=60), st.integers(min_value=1, max_value=70))
def test_the_streaming_sample_equals_ranking_everything(keys, size):
    import zlib

    ranked = sorted(range(len(keys)), key=lambda i: (zlib.crc32(keys[i]), i))

    assert sample_indexes(keys, size) == sorted(ranked[:size])
    assert [index for index, _ in sample(iter(keys), size)] == sorted(ranked[:size])


# -- Converse with retries -------------------------------------------------------------------------


class ScriptedRuntime:
    """A runtime client whose answers (or errors) each test scripts, thread-safe."""

    def __init__(self, script=None, delay: float = 0.0) -> None:
        self.script = list(script or [])
        self.requests: list[dict] = []
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def converse(self, **request):
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            step = self.next_step(request)
        try:
            time.sleep(self.delay)
            if isinstance(step, str):
                raise ClientError({"Error": {"Code": step, "Message": f"{step} (scripted)"}}, "Converse")
            text = step if isinstance(step, dict) else {"text": request["messages"][-1]["content"][0]["text"]}
            return {
                "output": {"message": {"role": "assistant", "content": [text]}},
                "usage": {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12},
                "metrics": {"latencyMs": 123},
                "stopReason": "end_turn",
            }
        finally:
            with self._lock:
                self.in_flight -= 1

    def next_step(self, request: dict):
        """An error code to raise, a content block to answer with, or None to echo the question."""
        return self.script.pop(0) if self.script else None


REQUEST = Request(
    model_id="amazon.nova-micro-v1:0",
    system=[],
    messages=[{"role": "user", "content": [{"text": "hi"}]}],
    max_tokens=64,
)


def test_throttled_requests_are_retried_with_growing_backoff():
    runtime = ScriptedRuntime(["ThrottlingException", "ServiceUnavailableException", {"text": "spam"}])
    slept: list[float] = []

    answer = converse(runtime, REQUEST, sleep=slept.append)

    assert answer == Answer(text="spam", latency_ms=123.0, input_tokens=10, output_tokens=2, retries=2)
    assert len(runtime.requests) == 3 and len(slept) == 2
    assert 0.5 <= slept[0] <= 1.0 and 1.0 <= slept[1] <= 2.0


def test_a_request_still_throttled_after_every_attempt_becomes_bedrock_throttled_for_the_state_machine():
    runtime = ScriptedRuntime(["ThrottlingException"] * MAX_ATTEMPTS)
    slept: list[float] = []

    with pytest.raises(BedrockThrottled, match=r"amazon.nova-micro-v1:0: still failing after 6 attempts"):
        converse(runtime, REQUEST, sleep=slept.append)
    assert len(runtime.requests) == MAX_ATTEMPTS and len(slept) == MAX_ATTEMPTS - 1


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", "model access is enabled"),
        ("ResourceNotFoundException", "not found"),
    ],
)
def test_a_rejected_request_is_not_retried_and_says_what_to_check(code, expected):
    runtime = ScriptedRuntime([code])

    with pytest.raises(InvocationRejected, match=expected) as raised:
        converse(runtime, REQUEST, sleep=lambda s: pytest.fail("must not wait"))
    assert "amazon.nova-micro-v1:0" in str(raised.value) and len(runtime.requests) == 1


def test_a_request_the_runtime_refuses_is_an_answer_with_its_reason_not_a_failure():
    runtime = ScriptedRuntime(["ValidationException"])

    answer = converse(runtime, REQUEST, sleep=lambda s: pytest.fail("must not wait"))

    assert answer.text == "" and answer.error == "ValidationException: ValidationException (scripted)"
    assert len(runtime.requests) == 1


def test_no_retry_waits_past_the_deadline():
    runtime = ScriptedRuntime(["ThrottlingException"] * MAX_ATTEMPTS)
    now = [100.0]

    with pytest.raises(OutOfTime, match="no time left to retry"):
        converse(runtime, REQUEST, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0], deadline=101.4)
    assert len(runtime.requests) == 2  # the first wait (0.5-1 s) fits before the deadline, the second (1-2 s) not


def test_backoff_stays_between_half_and_all_of_its_ceiling():
    assert [backoff(n, rng=lambda: 0.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert [backoff(n, rng=lambda: 1.0) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_the_request_is_what_the_real_api_accepts_at_temperature_zero():
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    request = Request(
        model_id="arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl",
        system=[{"text": SYSTEM}],
        messages=[{"role": "user", "content": [{"text": "Win!"}]}],
        max_tokens=32,
    )
    with Stubber(client) as stubber:
        stubber.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "spam"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 5, "outputTokens": 1, "totalTokens": 6},
                "metrics": {"latencyMs": 88},
            },
            {
                "modelId": request.model_id,
                "system": [{"text": SYSTEM}],
                "messages": request.messages,
                "inferenceConfig": {"maxTokens": 32, "temperature": 0.0},
            },
        )
        answer = converse(client, request)

    assert (answer.text, answer.latency_ms, answer.retries) == ("spam", 88.0, 0)


def test_answers_keep_the_order_of_the_requests_and_concurrency_is_bounded():
    runtime = ScriptedRuntime(delay=0.01)
    requests = [
        Request(model_id="m", system=[], messages=[{"role": "user", "content": [{"text": f"q{i}"}]}], max_tokens=8)
        for i in range(24)
    ]

    answers = converse_all(runtime, requests, concurrency=3)

    assert [a.text for a in answers] == [f"q{i}" for i in range(24)]
    assert 1 < runtime.most_in_flight <= 3


def test_one_refused_model_stops_the_comparison_without_asking_the_rest():
    runtime = ScriptedRuntime(["AccessDeniedException"])

    with pytest.raises(InvocationRejected):
        converse_all(runtime, [REQUEST] * 50, concurrency=2)
    assert len(runtime.requests) < 50


def test_nothing_is_asked_after_the_deadline():
    runtime = ScriptedRuntime()

    with pytest.raises(OutOfTime, match="not asked, no time left"):
        converse_all(runtime, [REQUEST] * 3, concurrency=1, deadline=time.perf_counter() - 1)
    assert runtime.requests == []


# -- scores and the decision ------------------------------------------------------------------------


def _cases(answers: list[str]):
    return [to_case(conversation(f"mail {i}", a), BEDROCK_CONVERSATION, line=i + 1) for i, a in enumerate(answers)]


def _answers(texts: list[str], latency: float = 100.0) -> list[Answer]:
    return [
        Answer(text=t, latency_ms=latency + i, input_tokens=100, output_tokens=10, retries=0)
        for i, t in enumerate(texts)
    ]


def test_scores_count_exact_matches_token_overlap_latency_tokens_and_cost():
    cases = _cases(["spam", "legitimate", "spam", "legitimate"])
    answers = _answers(["Spam.", "legitimate", "ham", "it is legitimate mail"])

    result = score("custom", cases, answers, prices=(0.001, 0.002), note="on demand")

    assert result.exact_match == 0.5
    assert result.token_f1 == round((1 + 1 + 0 + 0.4) / 4, 4)
    assert (result.latency_p50_ms, result.latency_p95_ms) == (101.0, 103.0)
    assert (result.input_tokens, result.output_tokens) == (400, 40)
    assert result.cost_usd == round(400 / 1000 * 0.001 + 40 / 1000 * 0.002, 6)


def test_token_prices_follow_how_the_model_is_billed():
    nova = load_catalog().model("amazon.nova-micro-v1:0:128k")
    llama = load_catalog().model("meta.llama3-2-1b-instruct-v1:0:128k")

    assert token_prices(nova, "on-demand")[0] == (
        nova.prices.on_demand_per_1k_input_tokens,
        nova.prices.on_demand_per_1k_output_tokens,
    )
    assert token_prices(nova, "provisioned") == ((0.0, 0.0), HOURLY)
    if llama.prices.on_demand_per_1k_input_tokens is None:
        assert token_prices(llama, None)[0] == (None, None)


def _comparison(custom_right: int, base_right: int, total: int = 20, margin: float = 0.1) -> tuple:
    references = ["spam"] * total
    cases = _cases(references)
    custom = _answers(["spam"] * custom_right + ["ham"] * (total - custom_right))
    base = _answers(["spam"] * base_right + ["ham"] * (total - base_right), latency=300)
    comparison = Comparison(
        metric="exactMatch",
        min_improvement=margin,
        custom=score("arn:custom", cases, custom, (0.0, 0.0), HOURLY),
        base=score("amazon.nova-micro-v1:0", cases, base, (0.001, 0.002), "tokens"),
        records=total,
    )
    return comparison, cases, custom, base


@pytest.mark.parametrize(
    ("custom_right", "base_right", "promoted"),
    # 20 records: one more right answer is +0.05; the margin is +0.10.
    [(17, 16, False), (18, 16, True), (19, 16, True), (10, 15, False)],
    ids=["below-margin", "at-margin", "above-margin", "worse"],
)
def test_the_gate_promotes_at_the_margin_and_above(custom_right, base_right, promoted):
    comparison, *_ = _comparison(custom_right, base_right)

    assert comparison.promoted is promoted
    assert comparison.headline().startswith("PROMOTED" if promoted else "NOT PROMOTED")


def test_the_report_and_its_markdown_show_both_models_and_examples_each_way():
    comparison, cases, custom, base = _comparison(18, 10)
    context = {
        "dataset": "email-classifier",
        "validationUri": "s3://bucket/prepared/email-classifier/v1/validation.jsonl",
        "skipped": {"image or video content (evaluated on text-only records)": 2},
        "servingAction": "kept: the model is promoted",
    }

    evaluation = report(comparison, context, cases, custom, base)
    text = markdown(evaluation)

    assert evaluation["promoted"] is True and evaluation["improvement"] == 0.4
    assert len(evaluation["results"]) == 20
    # Best examples: where the custom model was right and the base model wrong.
    assert all(e["custom_score"] == 1 and e["base_score"] == 0 for e in evaluation["bestExamples"])
    # Worst examples: the custom model's misses first (it has two).
    assert [e["custom_score"] for e in evaluation["worstExamples"]] == [0, 0, 1]
    assert "**Promoted**: exact match 0.900 vs 0.500 (+0.400)" in text
    assert "| exact match | 0.900 | 0.500 |" in text
    # 2,000 input tokens at $0.001 and 200 output tokens at $0.002 per 1,000; throughput is hourly.
    assert "| estimated cost | in the hourly price | $0.002400 |" in text
    assert "## Where the custom model gained most" in text and "> ham" in text
    assert "- 2 record(s): image or video content" in text


# -- the step -----------------------------------------------------------------------------------------

BUCKET = "data-bucket"
SERVING_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123def456"


def _state(validation_uri: str | None, customization_type: str = "FINE_TUNING", model: str | None = None) -> dict:
    return {
        "upload": {"bucket": BUCKET, "key": "datasets/mail/train.jsonl", "versionId": "v1"},
        "validation": {
            "dataset": {"name": "mail", "bucket": BUCKET, "key": "datasets/mail/train.jsonl", "versionId": "v1"},
            "settings": {
                "baseModel": model or "amazon.nova-micro-v1:0:128k",
                "customizationType": customization_type,
            },
            "prepared": {
                "trainUri": f"s3://{BUCKET}/prepared/mail/0123456789abcdef/train.jsonl",
                "validationUri": validation_uri,
            },
            "reportUri": f"s3://{BUCKET}/reports/mail/0123456789abcdef/validation-report.json",
        },
        "serving": {"mode": "on-demand", "arn": SERVING_ARN, "deletable": True},
    }


class KnowsTheAnswers(ScriptedRuntime):
    """The custom model answers from the reference; the base model says 'ham' every time."""

    def __init__(self, references: dict[str, str], custom_knows: bool = True) -> None:
        super().__init__()
        self.references = references
        self.custom_knows = custom_knows

    def next_step(self, request: dict):
        question = request["messages"][-1]["content"][0]["text"]
        knows = self.custom_knows if request["modelId"] == SERVING_ARN else not self.custom_knows
        return {"text": self.references[question] if knows else "ham"}


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_the_step_compares_both_models_and_writes_its_reports_beside_the_validation_report(s3):
    records = [conversation(f"mail {i}", "spam" if i % 2 else "legitimate") for i in range(30)]
    s3.put_object(Bucket=BUCKET, Key="prepared/mail/v1/validation.jsonl", Body=b"\n".join(lines_of(records)))
    runtime = KnowsTheAnswers(
        {r["messages"][0]["content"][0]["text"]: r["messages"][1]["content"][0]["text"] for r in records}
    )
    settings = EvaluationSettings(sample_size=10, min_improvement=0.1, delete_serving_when_not_promoted=True)

    result = evaluate(s3, runtime, _state(f"s3://{BUCKET}/prepared/mail/v1/validation.jsonl"), settings)

    assert result["status"] == "evaluated" and result["promoted"] is True and result["records"] == 10
    assert result["custom"]["exactMatch"] == 1.0 and result["base"]["exactMatch"] == 0.0
    assert {r["modelId"] for r in runtime.requests} == {SERVING_ARN, "amazon.nova-micro-v1:0"}
    assert all(r["system"] == [{"text": SYSTEM}] for r in runtime.requests)
    assert result["reportUri"] == f"s3://{BUCKET}/reports/mail/0123456789abcdef/evaluation.json"
    written = json.loads(
        s3.get_object(Bucket=BUCKET, Key="reports/mail/0123456789abcdef/evaluation.json")["Body"].read()
    )
    assert written["promoted"] is True and len(written["results"]) == 10
    assert written["upload"] == {"bucket": BUCKET, "key": "datasets/mail/train.jsonl", "versionId": "v1"}
    page = s3.get_object(Bucket=BUCKET, Key="reports/mail/0123456789abcdef/evaluation.md")
    assert page["ContentType"].startswith("text/markdown")
    assert b"| exact match | 1.000 | 0.000 |" in page["Body"].read()


@pytest.mark.parametrize(
    ("custom_knows", "delete", "action"),
    [
        (True, True, "kept: the model is promoted"),
        (False, False, "kept (evaluation.deleteServingWhenNotPromoted is false): it bills until someone deletes it"),
        (False, True, "to be deleted by the next step (evaluation.deleteServingWhenNotPromoted)"),
    ],
)
def test_the_step_says_what_happens_to_the_serving(s3, custom_knows, delete, action):
    records = [conversation(f"mail {i}", "spam") for i in range(4)]
    s3.put_object(Bucket=BUCKET, Key="v.jsonl", Body=b"\n".join(lines_of(records)))
    runtime = KnowsTheAnswers({f"mail {i}": "spam" for i in range(4)}, custom_knows=custom_knows)
    settings = EvaluationSettings(delete_serving_when_not_promoted=delete)

    result = evaluate(s3, runtime, _state(f"s3://{BUCKET}/v.jsonl"), settings)

    assert result["promoted"] is custom_knows
    assert result["servingAction"].startswith(action)


class RefusesSome(KnowsTheAnswers):
    """Refuses the custom model's request for the first `refused` questions (mail 0, mail 1 ...)."""

    def __init__(self, references: dict[str, str], refused: int) -> None:
        super().__init__(references)
        self.refused = {f"mail {i}" for i in range(refused)}

    def next_step(self, request: dict):
        question = request["messages"][-1]["content"][0]["text"]
        if request["modelId"] == SERVING_ARN and question in self.refused:
            return "ValidationException"
        return super().next_step(request)


@pytest.mark.parametrize(("refused", "fails"), [(1, False), (3, True)])
def test_a_few_refused_requests_are_wrong_answers_but_mostly_refused_voids_the_comparison(s3, refused, fails):
    records = [conversation(f"mail {i}", "spam") for i in range(4)]
    s3.put_object(Bucket=BUCKET, Key="v.jsonl", Body=b"\n".join(lines_of(records)))
    runtime = RefusesSome({f"mail {i}": "spam" for i in range(4)}, refused)

    if fails:
        with pytest.raises(InvocationRejected, match=r"refused 3 of 4 requests, e.g. ValidationException"):
            evaluate(s3, runtime, _state(f"s3://{BUCKET}/v.jsonl"), EvaluationSettings())
        return
    result = evaluate(s3, runtime, _state(f"s3://{BUCKET}/v.jsonl"), EvaluationSettings())
    written = json.loads(
        s3.get_object(Bucket=BUCKET, Key="reports/mail/0123456789abcdef/evaluation.json")["Body"].read()
    )

    assert result["custom"]["exactMatch"] == 0.75
    assert written["custom"]["rejected"] == 1 and written["base"]["rejected"] == 0
    assert [r["customError"] for r in written["results"] if "customError" in r] == [
        "ValidationException: ValidationException (scripted)"
    ]


def test_the_step_skips_with_a_reason_when_there_is_nothing_to_compare(s3):
    s3.put_object(Bucket=BUCKET, Key="cpt.jsonl", Body=b'{"input": "handbook text"}\n')
    runtime = ScriptedRuntime()

    no_file = evaluate(s3, runtime, _state(None), EvaluationSettings())
    continued = evaluate(
        s3,
        runtime,
        _state(f"s3://{BUCKET}/cpt.jsonl", "CONTINUED_PRE_TRAINING", "amazon.titan-text-express-v1:0:8k"),
        EvaluationSettings(),
    )

    assert no_file == {
        "status": "skipped",
        "promoted": None,
        "reason": "the run has no validation records: upload validation.jsonl or set validationSplit (0.1 to 0.2)",
    }
    assert continued["promoted"] is None
    assert "continued pre-training text has no expected answer" in continued["reason"]
    assert runtime.requests == []


def test_the_handler_reads_the_environment_settings(s3, monkeypatch, caplog):
    from evaluate_model.handler import lambda_handler

    from customization import runtime as lambda_runtime

    caplog.set_level("INFO", logger="customization")
    monkeypatch.setenv(
        "EVALUATION",
        json.dumps(
            {
                "sampleSize": 3,
                "metric": "tokenF1",
                "minImprovement": 0.0,
                "deleteServingWhenNotPromoted": True,
                "concurrency": 2,
                "maxOutputTokens": 16,
            }
        ),
    )
    records = [conversation(f"mail {i}", "spam") for i in range(10)]
    s3.put_object(Bucket=BUCKET, Key="v.jsonl", Body=b"\n".join(lines_of(records)))
    fake = KnowsTheAnswers({f"mail {i}": "spam" for i in range(10)})
    monkeypatch.setattr(lambda_runtime, "client", lambda service: s3 if service == "s3" else fake)

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 15 * 60 * 1000

    result = lambda_handler({"executionArn": "arn:exec", "state": _state(f"s3://{BUCKET}/v.jsonl")}, Context())

    assert result["metric"] == "tokenF1" and result["records"] == 3
    assert {r["inferenceConfig"]["maxTokens"] for r in fake.requests} == {16}
    # The dashboard's promoted / not promoted filters match this line's JSON fields.
    [line] = [r for r in caplog.records if r.getMessage() == "model evaluated"]
    assert line.promoted is True and line.executionArn == "arn:exec"


# -- what people are told -------------------------------------------------------------------------------

EVALUATED = {
    "status": "evaluated",
    "promoted": False,
    "headline": "NOT PROMOTED: exact match 0.40 (custom) vs 0.60 (base)",
    "servingAction": "kept (evaluation.deleteServingWhenNotPromoted is false): it bills until someone deletes it",
    "markdownUri": "s3://b/reports/mail/v1/evaluation.md",
}
SERVING = {"mode": "provisioned", "arn": "arn:aws:bedrock:us-east-1:1:provisioned-model/x"}


def _message(outcome: str, **state) -> dict:
    base = {"upload": {"bucket": "b", "key": "datasets/mail/train.jsonl"}, "validation": {"dataset": {"name": "mail"}}}
    return compose(outcome, {**base, **state}, "arn:exec", "dev", "us-east-1")


def test_the_notification_carries_the_headline_and_what_happened_to_the_serving():
    kept = _message("succeeded", serving=SERVING, evaluation=EVALUATED)
    retired = _message("succeeded", serving=SERVING, evaluation=EVALUATED, retired={"deleted": True})
    promoted = _message("succeeded", serving=SERVING, evaluation={**EVALUATED, "promoted": True})

    assert kept["subject"] == "[dev] Bedrock customization done, model NOT promoted: mail"
    assert EVALUATED["headline"] in kept["message"] and EVALUATED["markdownUri"] in kept["message"]
    assert "it bills until someone deletes it" in kept["message"]
    assert "bills every hour" in kept["message"]
    assert "Serving deleted: the model was not promoted" in retired["message"]
    assert "bills every hour" not in retired["message"]
    assert promoted["subject"] == "[dev] Bedrock customization succeeded, model promoted: mail"


def test_the_notification_says_why_nothing_was_evaluated():
    unserved = _message("succeeded")
    skipped = _message("succeeded", serving=SERVING, evaluation={"status": "skipped", "promoted": None, "reason": "r"})

    assert "Evaluation: skipped, this run serves no model (serving mode none)" in unserved["message"]
    assert "Evaluation: skipped, r" in skipped["message"]
    assert skipped["subject"] == "[dev] Bedrock customization succeeded: mail"


def test_a_failed_run_that_kept_its_serving_says_it_still_bills():
    failed = _message("failed", serving=SERVING, failure={"Error": "InvocationRejected", "Cause": "access denied"})
    cleaned = _message(
        "failed",
        serving=SERVING,
        failure={"Error": "X", "Cause": "y"},
        cleanup={"stopped": False, "serving": {"deleted": True}},
    )

    assert "kept and bills until deleted: python -m tools cleanup --env dev" in failed["message"]
    assert "kept and bills" not in cleaned["message"]


@pytest.mark.parametrize(
    ("cleanup", "line"),
    [
        ({"deleted": True, "arn": "arn:x"}, "Cleanup: deleted arn:x, which no longer bills"),
        (
            {"jobName": "j", "stopped": True, "serving": {"deleted": True, "arn": "arn:x"}},
            "Cleanup: job j stopped; deleted arn:x, which no longer bills",
        ),
        (
            {"deleted": False, "reason": "under a OneMonth commitment: ..."},
            "Cleanup: no serving deleted: under a OneMonth commitment: ...",
        ),
        ({"jobName": "j", "stopped": True, "trigger": "time limit"}, "Cleanup: job j stopped"),
        (
            {"jobName": "j", "stopped": False, "reason": "job is Completed"},
            "Cleanup: job not stopped: job is Completed",
        ),
    ],
)
def test_the_cleanup_line_says_in_words_what_was_done(cleanup, line):
    message = _message("failed", failure={"Error": "X", "Cause": "y"}, cleanup=cleanup)["message"]

    assert line in message.splitlines()


def test_a_failed_run_says_its_custom_model_was_kept_and_what_its_storage_costs():
    validation = {"dataset": {"name": "mail"}, "cost": {"storageUsdPerMonth": 1.95}}
    model = "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.nova-micro-v1:0:128k/abc123def456"
    kept = _message("failed", validation=validation, result={"customModelArn": model}, failure={"Error": "X"})
    before = _message("failed", validation=validation, failure={"Error": "X"})

    assert (
        "The custom model above was kept: its storage bills (~$1.95/month) until it is deleted "
        "(python -m tools cleanup --env dev lists it)"
    ) in kept["message"].splitlines()
    # Nothing serves it: the command that serves it again, under the run's name.
    [serve] = [line for line in kept["message"].splitlines() if "python -m tools serve" in line]
    assert serve.startswith(
        "To serve it without training again, once the cause is fixed: python -m tools serve --env dev "
    )
    assert serve.endswith(" --yes") and "<run>" not in serve
    # Not where it cannot work: a model Bedrock failed, a run (or environment) that serves nothing.
    for failed_state in (
        {"failure": {"Error": "CustomModelFailed"}},
        {"failure": {"Error": "X"}, "validation": {**validation, "settings": {"servingMode": "none"}}},
    ):
        message = _message("failed", **{"validation": validation, "result": {"customModelArn": model}, **failed_state})
        assert "python -m tools serve" not in message["message"]
    assert "custom model above was kept" not in before["message"]


def test_a_slot_that_could_not_be_given_back_is_said_with_what_happens_next():
    message = _message("failed", failure={"Error": "X"}, slotError={"Error": "DynamoDB.AccessDeniedException"})[
        "message"
    ]

    assert "slot could not be given back (DynamoDB.AccessDeniedException): the abort guard frees it" in message
