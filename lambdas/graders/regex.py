"""`regex`: the answer matches the record's pattern (Python `re` syntax).

Record fields: `pattern` (`metadata.pattern`), a string or a list of strings; `match`
(optional): "full" (the default) or "search".
- "full": the whole answer, stripped of surrounding whitespace, must match (`re.fullmatch`):
  1.0; the pattern found only inside a longer answer (`re.search`) earns PARTIAL_CREDIT (0.5),
  like exact-match's label inside a sentence; otherwise 0.
- "search": the pattern anywhere in the answer: 1.0, otherwise 0.
With a list, the score is the mean over its patterns (an answer must show every one).
Flags go inline: `(?i)` ignores case, `(?s)` lets `.` match newlines.

Catastrophic patterns. Python's `re` has no timeout, and a thread cannot interrupt a match
(it holds the interpreter). The third-party `regex` module has one, but it is a compiled
extension and the functions' layer ships pure-Python wheels only; a process per match would
cost a fork per answer in a function Bedrock calls for every sample of every step. So:
- patterns are capped (MAX_PATTERN_CHARS) and answers too (MAX_ANSWER_CHARS; a longer answer
  scores 0, `answer_too_long`): every match is bounded by their lengths;
- a pattern with a quantifier inside a repeated group (`(a+)+`, `(\\w*\\s?)*`), the shape
  behind exponential backtracking, is refused (`unscored:bad-pattern`), with the fix: an
  atomic group `(?>...)` or a possessive quantifier (`a++`), which never backtrack, pass;
- what remains (overlapping alternatives such as `(a|ab)*`, polynomial `.*x.*y`) is bounded
  by the caps, and the function's timeout is the last stop: the invocation fails and so does
  the job, with the message, rather than training on guesses.
The patterns come from your own records, and `python -m tools grade` tries each one before a job.
"""

from __future__ import annotations

import re
from typing import Any

from graders.contract import REWARD, Item, Metric, Score, Ungradable, handler_for, share

PARTIAL_CREDIT = 0.5
MAX_PATTERN_CHARS = 500
MAX_ANSWER_CHARS = 20_000
MODES = ("full", "search")

try:  # the parser `re.compile` uses; private, so a Python without it only loses the check
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.11 to 3.14 have both
    _sre = _sre_parse = None


def nested_quantifier(pattern: str) -> bool:
    """Whether a repeated part of `pattern` holds another repeat that can backtrack."""
    if _sre_parse is None:
        return False
    repeats = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)

    def walk(parsed: Any, inside_repeat: bool) -> bool:
        for op, av in parsed:
            if op in repeats:
                repeated = av[1] > 1  # (min, max, body)
                if (repeated and inside_repeat) or walk(av[2], inside_repeat or repeated):
                    return True
            elif op in (_sre.ATOMIC_GROUP, _sre.POSSESSIVE_REPEAT):
                continue  # never backtracks into itself
            elif any(walk(part, inside_repeat) for part in _parts(op, av)):
                return True
        return False

    return walk(_sre_parse.parse(pattern), False)


def _parts(op: Any, av: Any) -> list[Any]:
    """The sub-patterns of a group, an alternation or a lookaround."""
    if op == _sre.SUBPATTERN:
        return [av[-1]]
    if op == _sre.BRANCH:
        return list(av[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [av[1]]
    if op == _sre.GROUPREF_EXISTS:
        return [part for part in av[1:] if part is not None]
    return []


def compile_pattern(pattern: Any, field: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise Ungradable("bad-pattern", f"{field} must be a non-empty string")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise Ungradable("bad-pattern", f"{field} has {len(pattern):,} characters, over {MAX_PATTERN_CHARS}")
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        raise Ungradable("bad-pattern", f"{field} is not a valid regular expression ({error})") from None
    if nested_quantifier(pattern):
        raise Ungradable(
            "bad-pattern",
            f"{field} repeats a group that holds a quantifier (like (a+)+), which can take exponential time; "
            "make the inner part atomic, (?>...), or possessive, a++",
        )
    return compiled


def read_patterns(item: Item) -> tuple[list[re.Pattern[str]], str]:
    """The record's compiled patterns and match mode; `Ungradable` when it has no usable ones."""
    patterns = item.require("pattern", "no-pattern")
    mode = item.get("match") or "full"
    if mode not in MODES:
        raise Ungradable("bad-pattern", f"match must be one of {', '.join(MODES)}, not {mode!r}")
    if isinstance(patterns, str):
        return [compile_pattern(patterns, "pattern")], mode
    if isinstance(patterns, list) and patterns:
        return [compile_pattern(pattern, f"pattern[{index}]") for index, pattern in enumerate(patterns)], mode
    raise Ungradable("bad-pattern", "pattern must be a string or a non-empty list of strings")


def check_record(item: Item) -> None:
    """What every record needs, whatever the answer: patterns that compile safely."""
    read_patterns(item)


def grade(item: Item) -> Score:
    compiled, mode = read_patterns(item)
    if len(item.answer) > MAX_ANSWER_CHARS:
        return Score(0.0, (Metric("answer_too_long", float(len(item.answer))),))
    answer = item.answer.strip()
    scores = [_score(pattern, answer, mode) for pattern in compiled]
    metrics = [
        Metric("match" if len(scores) == 1 else f"match[{index}]", value, REWARD) for index, value in enumerate(scores)
    ]
    return Score(share(sum(scores), len(scores)) if len(scores) > 1 else scores[0], tuple(metrics))


def _score(pattern: re.Pattern[str], answer: str, mode: str) -> float:
    if mode == "full" and pattern.fullmatch(answer):
        return 1.0
    if pattern.search(answer):
        return 1.0 if mode == "search" else PARTIAL_CREDIT
    return 0.0


handler = handler_for(grade)
