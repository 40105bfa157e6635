"""`python -m tools grade --grader NAME FILE`: run a reward function locally, before a job pays for it.

FILE is the reinforcement fine-tuning training JSONL (`{"messages": [...], "reference_answer":
..., <other fields>}` a line). The answers come from `--answers` (JSONL, `{"line": N,
"answer": "..."}` or `{"id": <the record's --id-field>, "answer": "..."}` a line; several
answers for one record are several samples, as Bedrock sends them) or, without it, from each
record's own reference_answer: a self-check that the grader gives the reference full marks.

Each answer becomes the item Bedrock would send (`id`, the record's messages plus the answer
as the assistant turn, `metadata` with reference_answer and the other fields), in batches,
through the grader's real Lambda handler; the response is checked against the contract.
Prints a row per answer and a summary: mean, distribution, and every record the grader could
not score with its reason as FILE:LINE.

Exit status: 0 every answer scored, 1 some could not be (or the grader failed, or its
answer_from_reference raised for a record: that record's FILE:LINE says so), 2 usage or
unreadable input (a missing file, an unknown grader, a grader module that fails to import,
a line that is not a JSON object).
Reads FILE as a stream; the answers file is indexed by byte offset, not held. Imports neither
the CDK nor boto3.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from graders import UnknownGrader, handler_of, load_grader
from graders.contract import UNSCORED_PREFIX, check_response

EXIT_SCORED, EXIT_UNSCORED, EXIT_USAGE = 0, 1, 2
# Items per invocation. Bedrock's batch size is its own (not documented); the results do not
# depend on it, since every item is graded on its own.
DEFAULT_BATCH = 32
BINS = ("0", "(0, 0.25)", "[0.25, 0.5)", "[0.5, 0.75)", "[0.75, 1)", "1")


class _Usage(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="RFT training JSONL: messages, reference_answer and other fields")
    parser.add_argument("--grader", required=True, help="exact-match, json-schema, regex, or a --module name")
    parser.add_argument(
        "--answers",
        type=Path,
        help='JSONL of {"line": N | "id": ..., "answer": "..."}; without it each record\'s reference_answer '
        "is the answer (a self-check: it should score 1)",
    )
    parser.add_argument(
        "--id-field",
        default="id",
        help='the record field an answer\'s "id" refers to (default id), e.g. ticket_id',
    )
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="NAME=MODULE",
        help="your own grader module (a grade(item) function), importable from here, e.g. "
        "ticket-router=my_graders.ticket_router (repeatable)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH, help=f"items per invocation (default {DEFAULT_BATCH})"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of text")


@dataclass
class Graded:
    """One answer's outcome: a score, or None and the reason it could not be scored."""

    where: str  # FILE:LINE of the record (or of the answer, for one without a record)
    line: int
    answers_line: int | None
    score: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    problem: str | None = None


@dataclass
class Summary:
    graded: int = 0
    without_answer: int = 0
    total: float = 0.0
    bins: Counter = field(default_factory=Counter)
    problems: list[Graded] = field(default_factory=list)

    def add(self, outcome: Graded) -> None:
        self.graded += 1
        if outcome.score is None:
            self.problems.append(outcome)
        else:
            self.total += outcome.score
            self.bins[_bin(outcome.score)] += 1

    @property
    def scored(self) -> int:
        return self.graded - len(self.problems)

    @property
    def mean(self) -> float | None:
        return self.total / self.scored if self.scored else None


def _bin(score: float) -> str:
    if score <= 0:
        return BINS[0]
    if score >= 1:
        return BINS[-1]
    return BINS[1 + min(int(score * 4), 3)]


def run(args: argparse.Namespace) -> int:
    try:
        if args.batch_size < 1:
            raise _Usage("--batch-size must be at least 1")
        module = load_grader(args.grader, _modules(args.module))
        summary, results = _grade(args, module)
    except UnknownGrader as error:
        return _usage(str(error))
    except _Usage as error:
        return _usage(str(error))
    except OSError as error:
        return _usage(f"cannot read input: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
    if args.json:
        print(json.dumps(_report(args, summary, results), indent=2))
    else:
        print(render_summary(args, summary))
    return EXIT_UNSCORED if summary.problems else EXIT_SCORED


def _modules(entries: list[str]) -> dict[str, str]:
    modules = {}
    for entry in entries:
        name, _, module = entry.partition("=")
        if not name or not module:
            raise _Usage(f"--module takes NAME=MODULE (e.g. ticket-router=my_graders.ticket_router), not {entry!r}")
        modules[name] = module
    # Your grader module is found as `python -m` finds modules: from the current directory.
    if modules and "" not in sys.path:
        sys.path.insert(0, "")
    return modules


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _grade(args: argparse.Namespace, module: Any) -> tuple[Summary, list[Graded]]:
    if not args.file.is_file():
        raise _Usage(f"no such file: {args.file}")
    handler = handler_of(module)
    summary, results = Summary(), []
    emit = results.append if args.json else _print_row(bool(args.answers))
    answers = AnswerIndex(args.answers) if args.answers else None
    with args.file.open("rb") as records, answers or _Nothing():
        batch: list[tuple[dict[str, Any], Graded]] = []
        for line, record in read_jsonl(records, str(args.file)):
            if answers:
                samples = answers.take(line, record.get(args.id_field))
            else:
                answer, problem = _self_check_answer(module, record)
                if problem:  # this record's could-not-score line, not a crash of the whole run
                    if batch:  # the rows stay in the records' order
                        _invoke(handler, batch, summary, emit)
                        batch = []
                    failed = Graded(f"{args.file}:{line}", line, None, None, problem=problem)
                    summary.add(failed)
                    emit(failed)
                    continue
                samples = [(None, answer)]
            if not samples:
                summary.without_answer += 1
            for sample, (answers_line, answer) in enumerate(samples, start=1):
                item_id = str(line) if sample == 1 else f"{line}.{sample}"
                pending = Graded(f"{args.file}:{line}", line, answers_line, None)
                batch.append((bedrock_item(item_id, record, answer), pending))
                if len(batch) >= args.batch_size:
                    _invoke(handler, batch, summary, emit)
                    batch = []
        if batch:
            _invoke(handler, batch, summary, emit)
        for answers_line, key in answers.unclaimed() if answers else ():
            orphan = Graded(f"{args.answers}:{answers_line}", 0, answers_line, None, problem=f"no record with {key}")
            summary.add(orphan)
            emit(orphan)
    return summary, results


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def read_jsonl(stream: BinaryIO, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `_Usage` with FILE:LINE at the first bad one."""
    for number, raw in enumerate(stream, start=1):
        value = parse_line(raw, name, number)
        if value is not None:
            yield number, value


def parse_line(raw: bytes, name: str, number: int) -> dict[str, Any] | None:
    """The JSON object on one line, None for a blank one; `_Usage` naming FILE:LINE otherwise."""
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise _Usage(f"{name}:{number}: not UTF-8 text (byte {error.start + 1})") from None
    if not text.strip():
        return None
    try:
        value = json.loads(text.rstrip("\r\n"))  # so an error at the end reports its column, not line 2
    except (ValueError, RecursionError) as error:
        reason = (
            f"{error.msg} at column {error.colno}" if isinstance(error, json.JSONDecodeError) else "nested too deeply"
        )
        raise _Usage(f"{name}:{number}: not JSON ({reason})") from None
    if not isinstance(value, dict):
        raise _Usage(f"{name}:{number}: a line must be a JSON object, not {type(value).__name__}")
    return value


def bedrock_item(item_id: str, record: dict[str, Any], answer: str) -> dict[str, Any]:
    """The item Bedrock sends the grader for `record` and the model's `answer`."""
    messages = record.get("messages")
    prompt = list(messages) if isinstance(messages, list) else []
    metadata = {key: value for key, value in record.items() if key != "messages"}
    return {"id": item_id, "messages": [*prompt, {"role": "assistant", "content": answer}], "metadata": metadata}


def _self_check_answer(module: Any, record: dict[str, Any]) -> tuple[str, str | None]:
    """The record's reference as the grader would want it answered ("" without one), or the
    reason the module's `answer_from_reference` could not give it."""
    reference = record.get("reference_answer")
    if reference is None:
        return "", None
    make = getattr(module, "answer_from_reference", None)
    if make is None:
        return (reference if isinstance(reference, str) else json.dumps(reference)), None
    try:
        answer = make(reference)
    except Exception as error:  # the module's code, on this record's reference
        return "", f"answer_from_reference raised {type(error).__name__}: {error}"
    if not isinstance(answer, str):
        return "", f"answer_from_reference returned {type(answer).__name__}, not the answer as a string"
    return answer, None


class AnswerIndex:
    """The answers file, indexed by what each line answers: byte offsets, not the answers."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise _Usage(f"no such file: {path}")
        self.path = path
        self._offsets: dict[tuple[str, str], list[tuple[int, int]]] = {}
        with path.open("rb") as stream:
            offset = 0
            for number, raw in enumerate(stream, start=1):
                start, offset = offset, offset + len(raw)
                value = parse_line(raw, str(path), number)
                if value is None:
                    continue
                key = self._key(value, number)
                self._offsets.setdefault(key, []).append((number, start))
        self._stream: BinaryIO | None = None

    def _key(self, value: dict[str, Any], number: int) -> tuple[str, str]:
        where = f"{self.path}:{number}"
        if not isinstance(value.get("answer"), str):
            raise _Usage(f'{where}: "answer" must be a string (the model\'s answer as text)')
        if isinstance(value.get("line"), int) and not isinstance(value["line"], bool):
            return "line", str(value["line"])
        if isinstance(value.get("id"), str | int) and not isinstance(value["id"], bool):
            return "id", str(value["id"])
        raise _Usage(f'{where}: an answer needs "line" (the record\'s line number) or "id" (its id field)')

    def __enter__(self) -> AnswerIndex:
        self._stream = self.path.open("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream:
            self._stream.close()

    def take(self, line: int, record_id: Any) -> list[tuple[int, str]]:
        """(answers line, answer) for the record at `line`, claimed so they are not orphans."""
        found = self._offsets.pop(("line", str(line)), [])
        if isinstance(record_id, str | int) and not isinstance(record_id, bool):
            found += self._offsets.pop(("id", str(record_id)), [])
        return [(number, self._answer(start)) for number, start in sorted(found)]

    def _answer(self, start: int) -> str:
        self._stream.seek(start)
        return json.loads(self._stream.readline().decode("utf-8-sig"))["answer"]

    def unclaimed(self) -> Iterator[tuple[int, str]]:
        for (kind, value), places in self._offsets.items():
            for number, _ in places:
                yield number, f"{kind} {value}"


def _invoke(
    handler: Callable[..., Any],
    batch: list[tuple[dict[str, Any], Graded]],
    summary: Summary,
    emit: Callable[[Graded], None],
) -> None:
    event = [item for item, _ in batch]
    details: dict[str, str] = {}

    def log(entry: dict[str, Any]) -> None:
        if entry.get("id") is not None and entry.get("detail"):
            details[str(entry["id"])] = f"{entry.get('problem')}: {entry['detail']}"

    # The caller's own exceptions are the grader's verdict on this batch: a bug, a crash.
    try:
        response = handler(event, None, log) if _takes_log(handler) else handler(event, None)
        violations = dict(check_response(event, response))
    except Exception as error:  # any failure of the grader's code is reported on its records, not raised
        response, violations = None, {-1: f"the grader raised {type(error).__name__}: {error}"}
    for index, (item, outcome) in enumerate(batch):
        problem = violations.get(-1) or violations.get(index)
        if problem is None:
            result = response[index]
            metrics = {metric["name"]: metric["value"] for metric in result.get("metrics_list", [])}
            unscored = next((name for name in metrics if name.startswith(UNSCORED_PREFIX)), None)
            if unscored:
                problem = details.get(item["id"], unscored.removeprefix(UNSCORED_PREFIX))
            else:
                outcome.score, outcome.metrics = float(result["aggregate_reward_score"]), metrics
        outcome.problem = problem
        summary.add(outcome)
        emit(outcome)


def _takes_log(handler: Callable[..., Any]) -> bool:
    try:
        return "log" in inspect.signature(handler).parameters
    except (TypeError, ValueError):
        return False


def _print_row(with_answers: bool) -> Callable[[Graded], None]:
    header = ["LINE", "ANSWER", "SCORE", "METRICS"] if with_answers else ["LINE", "SCORE", "METRICS"]
    print(" ".join(f"{name:<7}" for name in header[:-1]), header[-1])

    def row(outcome: Graded) -> None:
        cells = [str(outcome.line or "-")]
        if with_answers:
            cells.append(str(outcome.answers_line or "-"))
        cells.append("-" if outcome.score is None else f"{outcome.score:.2f}")
        shown = (
            f"not scored: {outcome.problem}"
            if outcome.problem
            else " ".join(f"{name}={value:g}" for name, value in outcome.metrics.items())
        )
        print(" ".join(f"{cell:<7}" for cell in cells), shown)

    return row


def render_summary(args: argparse.Namespace, summary: Summary) -> str:
    source = f"answers from {args.answers}" if args.answers else "each record's reference_answer as its answer"
    lines = ["", f"{args.grader} on {args.file}, {source}: {summary.graded} answer(s), {summary.scored} scored"]
    if summary.without_answer:
        lines.append(f"records without an answer (not graded): {summary.without_answer}")
    if summary.scored:
        lines.append(f"mean score: {summary.mean:.3f}")
        width = max(summary.bins.values())
        for name in reversed(BINS):
            count = summary.bins[name]
            lines.append(f"  {name:<12} {count:>6}  {'#' * round(40 * count / width)}".rstrip())
    if summary.problems:
        lines.append(f"could not score {len(summary.problems)}:")
        lines += [f"  {outcome.where}: {outcome.problem}" for outcome in summary.problems]
    else:
        lines.append("every answer scored")
    return "\n".join(lines)


def _report(args: argparse.Namespace, summary: Summary, results: list[Graded]) -> dict[str, Any]:
    return {
        "grader": args.grader,
        "file": str(args.file),
        "answers": str(args.answers) if args.answers else None,
        "graded": summary.graded,
        "scored": summary.scored,
        "withoutAnswer": summary.without_answer,
        "mean": summary.mean,
        "distribution": {name: summary.bins[name] for name in BINS},
        "notScored": [{"where": outcome.where, "reason": outcome.problem} for outcome in summary.problems],
        "results": [
            {
                "line": outcome.line or None,
                "answersLine": outcome.answers_line,
                "score": outcome.score,
                "metrics": outcome.metrics,
                **({"reason": outcome.problem} if outcome.problem else {}),
            }
            for outcome in results
        ],
    }
