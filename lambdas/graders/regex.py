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
- two repeats of variable length that can match a common character with nothing required
  between them (`.*.*=`, `\\S*\\S+`, `\\w+\\s*\\w+`), the shape behind polynomial backtracking
  (`.*.*=` took 24 s on a 5,000-character answer), are refused too: "pattern may backtrack"
  (`overlapping_repeats`), with the fix: a required character between them, or a possessive
  or atomic first repeat;
- what remains (overlapping alternatives such as `(a|ab)*`, `.*=.*x` on an answer of `=`s) is
  not bounded by the caps: the batch's time budget is (graders.contract): a match still running
  at the deadline is interrupted, and it and the items after it score `unscored:time-budget`,
  so the invocation answers before the function's timeout.
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


_CATEGORIES = {
    "CATEGORY_DIGIT": (r"\d", False),
    "CATEGORY_NOT_DIGIT": (r"\d", True),
    "CATEGORY_SPACE": (r"\s", False),
    "CATEGORY_NOT_SPACE": (r"\s", True),
    "CATEGORY_WORD": (r"\w", False),
    "CATEGORY_NOT_WORD": (r"\w", True),
    "CATEGORY_LINEBREAK": ("\n", False),
    "CATEGORY_NOT_LINEBREAK": ("\n", True),
}
# Characters tried when asking whether two repeats can match a common character: Latin-1 and
# beyond, plus every character the pattern names (its literals and range ends).
_SAMPLE = [chr(code) for code in range(0x250)] + list("жд中٣\u3000\u2028\U0001f600")


def overlapping_repeats(pattern: str) -> str | None:
    """How `pattern` can backtrack polynomially, or None: two repeats of variable length (`.*`,
    `\\S+`, `[^x]{0,99}`) that can match a common character, with nothing required between them.

    Such a pair can split the same text between them in as many ways as it has characters, and
    every split is tried when the rest fails: `.*.*=` is cubic in the answer's length, `.*.*.*=`
    quartic. A required part between them (`.*=.*`), a possessive repeat (`.*+`) or an atomic
    group (`(?>...)`) ends the pair. This is a sufficient check, not a complete one (`.*=.*x` on
    an answer of `=`s is still cubic): the batch's time budget (graders.contract) is the backstop.
    """
    if _sre_parse is None:
        return None
    parsed = _sre_parse.parse(pattern)
    fold = bool(parsed.state.flags & re.IGNORECASE) or "(?i" in pattern or "(?-" in pattern
    named = {chr(code) for code in _literals(parsed)}
    sample = _SAMPLE + sorted(named - set(_SAMPLE))
    found: list[str] = []
    repeats = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)

    def walk(seq: Any, open_: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
        for op, av in seq:
            if found:
                return []
            if op in repeats:
                low, high, body = av
                if high <= 1:  # `(...)?` is the body or nothing; `(...){1}` is the body
                    open_ = walk(body, list(open_)) + (open_ if low == 0 else [])
                    continue
                walk(body, [])
                if low == high:  # `x{4}`: no choice of length
                    open_ = []
                    continue
                chars = _char_set(body, fold, sample)
                text = _render(op, av)
                for other_chars, other_text in open_:
                    if chars & other_chars:
                        found.append(f"{other_text} and {text}")
                        return []
                open_ = [*open_, (chars, text)] if low == 0 else [(chars, text)]
            elif op == _sre.SUBPATTERN:
                open_ = walk(av[-1], open_)
            elif op in (_sre.BRANCH, _sre.GROUPREF_EXISTS):
                parts = list(av[1]) if op == _sre.BRANCH else [part for part in av[1:] if part is not None]
                outs = [walk(part, list(open_)) for part in parts]
                open_ = [entry for out in outs for entry in out]
            elif op in (_sre.ATOMIC_GROUP, _sre.POSSESSIVE_REPEAT):
                walk(av if op == _sre.ATOMIC_GROUP else av[2], [])  # never backtracks into itself
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                walk(av[1], [])
            elif op in (_sre.AT, _sre.GROUPREF):
                continue  # consumes nothing, or may consume nothing
            else:  # one required character: no repeat before it can reach past it
                open_ = []
        return open_

    walk(parsed, [])
    return found[0] if found else None


def _literals(seq: Any) -> list[int]:
    codes = []
    for op, av in seq:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL):
            codes.append(av)
        elif op == _sre.RANGE:
            codes += [av[0], av[1], max(av[0] - 1, 0), av[1] + 1]
        elif isinstance(av, list):
            codes += _literals(av) if av and isinstance(av[0], tuple) else []
        elif isinstance(av, tuple):
            for part in av:
                if isinstance(part, list) and part and isinstance(part[0], tuple):
                    codes += _literals(part)
                elif isinstance(part, list):
                    for sub in part:
                        if isinstance(sub, list):
                            codes += _literals(sub)
    return [code for code in codes if isinstance(code, int) and 0 <= code <= 0x10FFFF]


def _char_set(seq: Any, fold: bool, sample: list[str]) -> frozenset[str]:
    """The sampled characters some part of `seq` can consume (all of them when unsure)."""
    chars: set[str] = set()
    for op, av in seq:
        if op == _sre.LITERAL:
            chars |= {c for c in sample if _same(c, chr(av), fold)}
        elif op == _sre.NOT_LITERAL:
            chars |= {c for c in sample if not _same(c, chr(av), fold)}
        elif op == _sre.IN:
            chars |= {c for c in sample if _in_class(c, av, fold)}
        elif op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            continue
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            chars |= _char_set(av[2], fold, sample)
        elif op in (_sre.SUBPATTERN, _sre.ATOMIC_GROUP):
            chars |= _char_set(av[-1] if op == _sre.SUBPATTERN else av, fold, sample)
        elif op == _sre.BRANCH:
            for part in av[1]:
                chars |= _char_set(part, fold, sample)
        else:  # ANY, a backreference, anything else: every character
            return frozenset(sample)
    return frozenset(chars)


def _same(char: str, other: str, fold: bool) -> bool:
    return char == other or (fold and char.casefold() == other.casefold())


def _in_class(char: str, items: Any, fold: bool) -> bool:
    negate, hit = False, False
    for op, av in items:
        if op == _sre.NEGATE:
            negate = True
        elif op == _sre.LITERAL:
            hit = hit or _same(char, chr(av), fold)
        elif op == _sre.RANGE:
            hit = (
                hit
                or av[0] <= ord(char) <= av[1]
                or (fold and any(av[0] <= ord(c) <= av[1] for c in (char.lower(), char.upper()) if len(c) == 1))
            )
        elif op == _sre.CATEGORY:
            regex, negated = _CATEGORIES.get(str(av), (".", False))
            hit = hit or (re.fullmatch(regex, char, re.DOTALL) is not None) != negated
        else:
            hit = True  # unknown member: assume it matches
    return hit != negate


def _render(op: Any, av: Any) -> str:
    """A short text for a repeat, for the message: `.*`, `\\S+`, `[...]{0,9}`."""
    low, high, body = av
    if len(body) == 1 and body[0][0] == _sre.ANY:
        text = "."
    elif len(body) == 1 and body[0][0] == _sre.LITERAL:
        text = re.escape(chr(body[0][1]))
    elif len(body) == 1 and body[0][0] == _sre.NOT_LITERAL:
        text = f"[^{re.escape(chr(body[0][1]))}]"
    elif len(body) == 1 and body[0][0] == _sre.IN and len(body[0][1]) == 1 and body[0][1][0][0] == _sre.CATEGORY:
        text = {
            "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
            "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
        }.get(str(body[0][1][0][1]), "[...]")  # fmt: skip
    elif len(body) == 1 and body[0][0] == _sre.IN:
        text = "[...]"
    else:
        text = "(...)"
    unbounded = high == _sre.MAXREPEAT
    count = {(0, True): "*", (1, True): "+"}.get((low, unbounded)) or (
        f"{{{low},}}" if unbounded else f"{{{low},{high}}}"
    )
    return f"`{text}{count}{'?' if op == _sre.MIN_REPEAT else ''}`"


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
    pair = overlapping_repeats(pattern)
    if pair:
        raise Ungradable(
            "bad-pattern",
            f"{field} may backtrack: {pair} can match the same text with nothing required between them, "
            "which takes polynomial time on a long answer; put a required character neither matches between "
            "them (`[^=]*=`), or make the first possessive (`.*+`) or atomic (`(?>...)`)",
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
