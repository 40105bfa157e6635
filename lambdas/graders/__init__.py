"""Reward functions ("graders") for Amazon Bedrock reinforcement fine-tuning, one Lambda each.

The contract, as AWS documents it (checked 2026-11-29):
- "Setting up reward functions", https://docs.aws.amazon.com/bedrock/latest/userguide/reward-functions.html,
  and its open-weight twin, .../reward-functions-open-weight.html: Bedrock invokes the Lambda
  with a JSON array (a batch) of `{"id", "messages": [..., {"role": "assistant", "content":
  <the model's answer>}], "metadata": {"reference_answer": ..., <the record's other fields>}}`
  and expects an array of `{"id", "aggregate_reward_score": <0 to 1>, "metrics_list":
  [{"name", "value", "type": "Reward" | "Metric"}]}` (metrics_list optional). The timeout
  advice there: raise the function's timeout from 3 seconds, up to 15 minutes.
- Discrepancies. SageMaker's "Implementing reward functions" (Nova,
  https://docs.aws.amazon.com/sagemaker/latest/dg/nova-implementing-reward-functions.html)
  shows `reference_answer` at the item's top level, not under `metadata`: both are read
  (contract.read_item). AWS's own sample grader (aws-samples/amazon-bedrock-samples,
  custom-models/bedrock-reinforcement-fine-tuning/reward-functions/gsm8k_rew_func.py) reads
  `item["metadata"]["reference_answer"]` and returns `reward_components` instead of
  `metrics_list`; these graders return the documented `metrics_list`. SageMaker's evaluation
  scorers wrap the batch as `{"batch": [...]}` and answer `{"statusCode", "body"}`: a
  different service's contract, refused here (contract.BadEvent), not guessed at.

Training records (the uploaded JSONL) are OpenAI chat-completions prompts:
`{"messages": [{"role": "system", ...}, {"role": "user", ...}], "reference_answer": <any JSON>,
...other fields}`; the other fields reach the grader in `metadata` (`schema`, `pattern`, ...).

Built in: `exact-match`, `json-schema`, `regex` (each module's docstring says what it reads
and how it scores). An environment adds its own grader as a module with
`grade(item: graders.contract.Item) -> graders.contract.Score`, raising
`graders.contract.Ungradable` for a record it cannot judge; its Lambda handler is one line,
`handler = graders.handler_for(grade)`. `load_grader(name, extra_modules)` finds either kind.
A module may also define `answer_from_reference(reference) -> str`, the answer
`python -m tools grade` tries when given none (default: the reference as text), and
`check_record(item) -> None`, raising `Ungradable` for a record it could never score whatever
the answer (no reference, a broken schema or pattern): validation runs it on every training
record before any job (`record_problem`), so such records are refused at FILE:LINE instead of
scoring 0 for every sample during a paid job.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

from graders.contract import Item, Metric, Score, Ungradable, handler_for, read_item

__all__ = [
    "BUILT_IN",
    "Item",
    "Metric",
    "Score",
    "Ungradable",
    "UnknownGrader",
    "handler_for",
    "handler_of",
    "known",
    "load_grader",
    "record_problem",
]

# name (what job.json says) -> module; the Lambda handler is "<module>.handler".
BUILT_IN = {
    "exact-match": "graders.exact_match",
    "json-schema": "graders.json_schema",
    "regex": "graders.regex",
}


class UnknownGrader(LookupError):
    """No grader by that name, or its module is not one: the message says which and why."""


def known(extra_modules: Mapping[str, str] | None = None) -> list[str]:
    return sorted({*BUILT_IN, *(extra_modules or {})})


def load_grader(name: str, extra_modules: Mapping[str, str] | None = None) -> ModuleType:
    """The module of grader `name`: a built-in, or one of `extra_modules` (name -> module path).

    An environment's own name cannot shadow a built-in one: `exact-match` means the same
    scoring in every environment, so results stay comparable.
    """
    extra = dict(extra_modules or {})
    clash = sorted(extra.keys() & BUILT_IN.keys())
    if clash:
        raise UnknownGrader(f"grader name {clash[0]!r} is built in; give the environment's module another name")
    module_name = BUILT_IN.get(name) or extra.get(name)
    if module_name is None:
        raise UnknownGrader(f"unknown grader {name!r}; known: {', '.join(known(extra))}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownGrader(f"grader {name!r}: cannot import module {module_name!r} ({error})") from None
    except Exception as error:  # a syntax error, or the module's own code raising as it loads
        raise UnknownGrader(
            f"grader {name!r}: module {module_name!r} failed to import ({type(error).__name__}: {error})"
        ) from None
    if not callable(getattr(module, "grade", None)):
        raise UnknownGrader(f"grader {name!r}: module {module_name!r} has no grade(item) function")
    return module


def handler_of(module: ModuleType):
    """The module's Lambda handler: its own `handler`, else one built around its `grade`."""
    return getattr(module, "handler", None) or handler_for(module.grade)


def record_problem(module: ModuleType, record: Mapping[str, object]) -> str | None:
    """What grader `module` says of a training record it could never score, or None.

    The record becomes the item Bedrock would send (its fields in `metadata`, an empty answer)
    and goes through the module's own `check_record`; a module without one is not asked.
    """
    check = getattr(module, "check_record", None)
    if check is None:
        return None
    messages = record.get("messages")
    prompt = list(messages) if isinstance(messages, list) else []
    metadata = {key: value for key, value in record.items() if key != "messages"}
    try:
        check(
            read_item(
                {"id": "check", "messages": [*prompt, {"role": "assistant", "content": ""}], "metadata": metadata}
            )
        )
    except Ungradable as problem:
        return f"the grader cannot score this record ({problem.problem}): {problem.detail}"
    return None
