"""The grader contract: Bedrock's batch request in, one result per item out, in order.

Request (a JSON array; see the package docstring for the pages it comes from):
    [{"id": "123",
      "messages": [..., {"role": "assistant", "content": "<the model's answer>"}],
      "metadata": {"reference_answer": ..., <the record's other fields>}}]
Response, one object per item with the same `id`, in the request's order:
    [{"id": "123", "aggregate_reward_score": 0.5,
      "metrics_list": [{"name": "exact", "value": 0.0, "type": "Reward"}, ...]}]

Two kinds of bad input, treated apart:
- an answer that is wrong, empty, not JSON, too long: the model's doing. It scores 0 like any
  other wrong answer, with a metric saying why, so training learns from it.
- an item the grader cannot judge at all (no reference, a broken schema or pattern, an item
  that is not an object): the record's doing. It scores 0 with one metric
  `unscored:<problem>` and the detail goes to the log. It does not fail the batch: the other
  items in it are fine, and a grader that raised on them would fail the whole job (and its
  bill so far). A record-level problem gives every sample of that prompt the same 0, and GRPO
  learns only from differences between a prompt's samples, so it pushes the model nowhere.
  `python -m tools grade` finds these records before any job.

Only an event that is not a list raises: then nothing about the request can be trusted, and a
job failing with that message is better than one training on invented rewards. A grader's own
bug (any exception other than `Ungradable`) also propagates, for the same reason: Bedrock then
fails the job with the grader's message rather than training on zeros.

Time. The function's timeout (60 s, stacks/constructs/graders.py) fails the whole invocation,
and with it the job. So a batch has a time budget (BATCH_TIME_BUDGET_S, or less when the Lambda
context says the timeout is nearer): the clock is read before each item, and once the budget is
spent the remaining items score 0 with `unscored:time-budget` and the detail in the log, so the
batch always answers. One slow item cannot outrun it either: on the main thread (where Lambda
runs the handler) a SIGALRM timer at the deadline interrupts it (Python's `re` checks for
signals while matching), and it scores `unscored:time-budget` too. `python -m tools grade` runs
the same budget, so a record whose grading runs out of time shows up before a job.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REWARD, METRIC = "Reward", "Metric"
UNSCORED_PREFIX = "unscored:"
# The answer is the model's output, bounded by the job's inferenceMaxTokens (the docs' example
# is 8,192 tokens, about 33,000 characters). Far above that is not an answer worth reading,
# and the cap bounds the grader's time on every item, whatever the model produced.
MAX_ANSWER_CHARS = 200_000

# Seconds a batch may spend grading: well inside the function's 60 s timeout, leaving time to
# answer. With a Lambda context, also at most its remaining time less SAFETY_MARGIN_S.
BATCH_TIME_BUDGET_S = 40.0
SAFETY_MARGIN_S = 10.0
TIME_BUDGET = "time-budget"

# The item's own keys; everything else at the top level is a record field (SageMaker's shape).
_ITEM_KEYS = ("id", "messages", "metadata")


class Ungradable(Exception):
    """The item cannot be judged: `problem` is a short slug for the metric name, `detail` says why."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


class TimeBudgetExceeded(Exception):
    """Raised by the timer into an item's grading when the batch's budget runs out."""


class BadEvent(TypeError):
    """The event is not a batch: the whole invocation fails with this message."""


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    type: str = METRIC

    def to_response(self) -> dict[str, Any]:
        return {"name": self.name, "value": float(self.value), "type": self.type}


@dataclass(frozen=True)
class Score:
    """What `grade(item)` returns: a score in [0, 1] and the metrics that explain it."""

    value: float
    metrics: tuple[Metric, ...] = ()

    def __post_init__(self) -> None:
        # A grader bug, not bad input: Bedrock documents scores from 0 to 1.
        if isinstance(self.value, bool) or not isinstance(self.value, int | float) or not 0 <= self.value <= 1:
            raise ValueError(f"a score must be a number from 0 to 1, not {self.value!r}")


@dataclass(frozen=True)
class Item:
    """One item of the request, read defensively. `answer` is the last assistant turn's text."""

    id: Any
    answer: str
    messages: list[Any]
    metadata: Mapping[str, Any]

    def get(self, name: str) -> Any:
        """A record field (`reference_answer`, `schema`, ...), or None when the record has none."""
        return self.metadata.get(name)

    @property
    def reference(self) -> Any:
        return self.get("reference_answer")

    def require(self, name: str, problem: str) -> Any:
        value = self.get(name)
        if value is None:
            raise Ungradable(problem, f"the record has no {name} (metadata.{name})")
        return value


def read_item(raw: Any) -> Item:
    """An `Item` from one element of the request; `Ungradable` when it is not one."""
    if not isinstance(raw, dict):
        raise Ungradable("bad-item", f"an item must be a JSON object, not {type(raw).__name__}")
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise Ungradable("bad-item", f"metadata must be an object, not {type(metadata).__name__}")
    # Bedrock's pages and AWS's sample put the record's fields under `metadata`; SageMaker's Nova
    # page shows `reference_answer` at the item's top level. Both are read; metadata wins.
    fields = {key: value for key, value in raw.items() if key not in _ITEM_KEYS}
    fields.update(metadata or {})
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Ungradable("bad-item", "messages must be a non-empty list ending with the assistant's answer")
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        raise Ungradable("bad-item", "the last message must be the assistant's answer (role assistant)")
    return Item(id=raw.get("id"), answer=message_text(last.get("content")), messages=messages, metadata=fields)


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of text parts (OpenAI or Converse style)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        return "".join(part for part in parts if isinstance(part, str))
    return ""


def answer_problem(answer: str) -> Score | None:
    """A 0 for an answer too long to read, else None: a wrong answer, the model's doing."""
    if len(answer) > MAX_ANSWER_CHARS:
        return Score(0.0, (Metric("answer_too_long", float(len(answer))),))
    return None


def unscored(problem: str) -> Score:
    return Score(0.0, (Metric(f"{UNSCORED_PREFIX}{problem}", 1.0),))


def result(item_id: Any, score: Score) -> dict[str, Any]:
    return {
        "id": item_id,
        "aggregate_reward_score": float(score.value),
        "metrics_list": [metric.to_response() for metric in score.metrics],
    }


Grade = Callable[[Item], Score]
Log = Callable[[dict[str, Any]], None]


def log_json(entry: dict[str, Any]) -> None:
    """One JSON line on stdout: Lambda sends it to the function's log group."""
    print(json.dumps(entry, default=str), file=sys.stdout, flush=True)


def grade_batch(
    event: Any,
    grade: Grade,
    log: Log = log_json,
    budget_s: float = BATCH_TIME_BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Bedrock's response to `event`: one result per item, same ids, same order, within `budget_s`
    seconds of `clock` (items left when it runs out score `unscored:time-budget`)."""
    if not isinstance(event, list):
        raise BadEvent(f"the grader expects Bedrock's batch, a JSON array of items, not {type(event).__name__}")
    deadline = clock() + budget_s
    state = {"grading": False, "expired": False}

    def on_alarm(_signum: int, _frame: Any) -> None:
        state["expired"] = True
        if state["grading"]:
            raise TimeBudgetExceeded

    results = []
    with _AlarmAt(budget_s, on_alarm):
        for raw in event:
            item_id = raw.get("id") if isinstance(raw, dict) else None
            if state["expired"] or clock() >= deadline:
                state["expired"] = True
                score = _out_of_time(log, item_id, budget_s, "before this item; it was not graded")
                results.append(result(item_id, score))
                continue
            try:
                state["grading"] = True
                try:
                    item = read_item(raw)
                    score = answer_problem(item.answer) or grade(item)
                finally:
                    state["grading"] = False
            except TimeBudgetExceeded:
                score = _out_of_time(log, item_id, budget_s, "while grading this item, which was stopped")
            except Ungradable as problem:
                score = unscored(problem.problem)
                # Every one, uncapped: a log line costs far less than a job on records nobody saw fail.
                log(
                    {
                        "level": "WARNING",
                        "message": "item not scored",
                        "id": item_id,
                        "problem": problem.problem,
                        "detail": problem.detail,
                    }
                )
            if not isinstance(score, Score):
                raise TypeError(f"grade() must return a Score, not {type(score).__name__}")
            results.append(result(item_id, score))
    return results


def _out_of_time(log: Log, item_id: Any, budget_s: float, when: str) -> Score:
    log(
        {
            "level": "WARNING",
            "message": "item not scored",
            "id": item_id,
            "problem": TIME_BUDGET,
            "detail": f"the batch ran out of its {budget_s:g} s time budget {when} "
            "(a slow grader or pattern: try the records with python -m tools grade)",
        }
    )
    return unscored(TIME_BUDGET)


class _AlarmAt:
    """SIGALRM after `seconds`, calling `on_alarm`; nothing off the main thread or when a timer
    is already running (someone else's), where the between-items check is the only bound."""

    def __init__(self, seconds: float, on_alarm: Callable[[int, Any], None]) -> None:
        self.seconds, self.on_alarm, self.previous = seconds, on_alarm, None
        self.armed = (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0
        )

    def __enter__(self) -> None:
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self.on_alarm)
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 1e-3))

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def budget_for(context: Any) -> float:
    """The batch's budget: BATCH_TIME_BUDGET_S, or less when the Lambda context's remaining time
    (less SAFETY_MARGIN_S) is shorter."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return BATCH_TIME_BUDGET_S
    try:
        left = float(remaining()) / 1000 - SAFETY_MARGIN_S
    except (TypeError, ValueError):
        return BATCH_TIME_BUDGET_S
    return max(min(BATCH_TIME_BUDGET_S, left), 0.0)


def handler_for(grade: Grade) -> Callable[..., list[dict[str, Any]]]:
    """The Lambda handler of a grader module: `handler = handler_for(grade)`.

    The third argument is a seam for `python -m tools grade`, which collects the problems'
    details instead of printing them; Lambda passes only (event, context).
    """

    def handler(event: Any, context: Any = None, log: Log = log_json) -> list[dict[str, Any]]:
        return grade_batch(event, grade, log, budget_for(context))

    return handler


def share(passed: float, total: int) -> float:
    return passed / total if total else 0.0


def finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_response(event: list[Any], response: Any) -> Iterable[tuple[int, str]]:
    """(index, problem) for each way `response` breaks the contract for `event`: for the tool,
    which runs any environment's grader, not only these."""
    if not isinstance(response, list):
        yield -1, f"the handler returned {type(response).__name__}, not a list"
        return
    if len(response) != len(event):
        yield -1, f"the handler returned {len(response)} result(s) for {len(event)} item(s)"
    for index, (raw, out) in enumerate(zip(event, response, strict=False)):
        if not isinstance(out, dict):
            yield index, f"result {index} is {type(out).__name__}, not an object"
            continue
        expected = raw.get("id") if isinstance(raw, dict) else None
        if out.get("id") != expected:
            yield index, f"result {index} has id {out.get('id')!r}, the item {expected!r} (same order, same ids)"
        score = out.get("aggregate_reward_score")
        if not finite(score) or not 0 <= score <= 1:
            yield index, f"aggregate_reward_score {score!r} is not a number from 0 to 1"
        metrics = out.get("metrics_list", [])
        if not isinstance(metrics, list) or not all(
            isinstance(m, dict)
            and isinstance(m.get("name"), str)
            and finite(m.get("value"))
            and m.get("type") in (REWARD, METRIC)
            for m in metrics
        ):
            yield index, 'metrics_list must be a list of {"name": str, "value": number, "type": "Reward" or "Metric"}'
