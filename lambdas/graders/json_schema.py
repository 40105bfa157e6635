"""`json-schema`: the answer is JSON that matches the record's schema.

The answer is parsed as JSON: the whole answer, or the first fenced block in it
(```json ... ``` or ``` ... ```), since models wrap JSON in Markdown fences. The schema is
the record's `schema` field (`metadata.schema`): a JSON Schema object, or a string holding one.

The schema is checked by hand against a documented subset of JSON Schema (draft 2020-12
meanings), not by the `jsonschema` library: the venv has it (cfn-lint's), but it needs
`rpds-py`, a compiled extension, while the functions' layer holds pure-Python wheels only
(lambdas/requirements.txt). A reward function needs little of the standard, and a schema
keyword outside the subset is refused (`unscored:bad-schema`), never silently ignored, so a
score never means more than it checked.

Supported keywords: type (one or a list of: object, array, string, number, integer, boolean,
null), properties, required, additionalProperties (true, false or a schema), items (a
schema), enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
maxLength, minItems, maxItems; and the annotations title, description, $schema, $id,
$comment, default, examples, which check nothing. No $ref, pattern, oneOf/anyOf/allOf, format.

Every part of the schema must say what it accepts, or a trivial answer games the score:
in JSON Schema, `{"properties": ..., "required": [...]}` accepts `0`, `[]` and `null` (its
keywords apply to objects only) while a wrong object fails some, so training would learn to
answer `0`. So the root must have `type`, `enum` or `const`, and so must every schema that uses
a keyword applying to one type only (properties, required, additionalProperties, items,
minimum..., minLength..., minItems...); otherwise the record is refused
(`unscored:schema-unconstrained`, and by validation before a job), naming the place. A schema
of `{}` or `true` below the root (a property that may hold anything) is allowed.

Numbers: a number JSON text can hold but a float cannot (`1e400`, read as infinity) fails
every numeric bound it meets (minimum, maximum, exclusive ones), rather than passing them.

Score: 0 when the answer is not JSON; otherwise the share of checks passed. Every keyword at
every place it applies is one check (each required property is one; each property, item and
additional property checks its own schema). Where a value has the wrong type, its schema's
other keywords are not checked: the type check is the one that failed. The first failed
checks are named in metrics_list, e.g. `failed $.priority enum`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from graders.contract import REWARD, Item, Metric, Score, Ungradable, handler_for, share

# Failed checks named in metrics_list, at most: enough to see what goes wrong.
MAX_FAILURES_LISTED = 10
MAX_SCHEMA_DEPTH = 32

TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
_ANNOTATIONS = {"title", "description", "$schema", "$id", "$comment", "default", "examples"}
_CHECKED = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems",
}  # fmt: skip
# Keywords that apply to one type only: a value of another type passes them unchecked.
_TYPE_SPECIFIC = _CHECKED - {"type", "enum", "const"}
_SAYS_WHAT = ("type", "enum", "const")
_NUMERIC_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_answer(answer: str) -> Any:
    """The answer's JSON value (from a fence if it has one); ValueError when it is not JSON."""
    fenced = _FENCE.search(answer)
    text = fenced.group(1) if fenced else answer
    return json.loads(text.strip(), parse_constant=_refuse_constant)


def read_schema(item: Item) -> dict[str, Any]:
    schema = item.require("schema", "no-schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as error:
            raise Ungradable("bad-schema", f"schema is a string that is not JSON ({error})") from None
    check_schema(schema)
    check_constrained(schema)
    return schema


def check_constrained(schema: Any, path: str = "schema", root: bool = True) -> None:
    """`Ungradable` (schema-unconstrained) where a schema lets values of any type through: at the
    root without type, enum or const, or anywhere with type-specific keywords but no type."""
    if isinstance(schema, bool) or not isinstance(schema, dict):
        if root:
            raise Ungradable(
                "schema-unconstrained",
                f"{path} is {json.dumps(schema)}, which accepts any JSON (so `0` would score 1); "
                'give the answer\'s type, e.g. {"type": "object", ...}',
            )
        return
    says = any(key in schema for key in _SAYS_WHAT)
    specific = sorted(schema.keys() & _TYPE_SPECIFIC)
    if not says and (root or specific):
        what = (
            f"uses {', '.join(specific)}, which apply to some types only: an answer of another type"
            if specific
            else "has no type, enum or const: any answer"
        )
        raise Ungradable(
            "schema-unconstrained",
            f'{path} {what} (`0`, `[]`, `null`) would pass unchecked; add "type" (e.g. "object")',
        )
    for name, sub in schema.get("properties", {}).items():
        check_constrained(sub, f"{path}.properties.{name}", root=False)
    for key in ("additionalProperties", "items"):
        if key in schema:
            check_constrained(schema[key], f"{path}.{key}", root=False)


def check_schema(schema: Any, path: str = "schema", depth: int = 0) -> None:
    """`Ungradable` naming the first keyword outside the subset or with a wrong value."""
    if depth > MAX_SCHEMA_DEPTH:
        raise Ungradable("bad-schema", f"{path}: nested deeper than {MAX_SCHEMA_DEPTH}")
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise Ungradable("bad-schema", f"{path} must be an object (or true/false)")
    for key, value in schema.items():
        here = f"{path}.{key}"
        if key in _ANNOTATIONS:
            continue
        if key not in _CHECKED:
            raise Ungradable("bad-schema", f"{here}: keyword not supported (supported: {', '.join(sorted(_CHECKED))})")
        if key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or not all(name in TYPES for name in names):
                raise Ungradable("bad-schema", f"{here} must be one of {', '.join(TYPES)} or a list of them")
        elif key == "properties":
            if not isinstance(value, dict):
                raise Ungradable("bad-schema", f"{here} must be an object of schemas")
            for name, sub in value.items():
                check_schema(sub, f"{here}.{name}", depth + 1)
        elif key == "required":
            if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
                raise Ungradable("bad-schema", f"{here} must be a list of property names")
        elif key in ("additionalProperties", "items"):
            check_schema(value, here, depth + 1)
        elif key == "enum":
            if not isinstance(value, list) or not value:
                raise Ungradable("bad-schema", f"{here} must be a non-empty list")
        elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if not _number(value):
                raise Ungradable("bad-schema", f"{here} must be a number")
        elif key in ("minLength", "maxLength", "minItems", "maxItems") and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise Ungradable("bad-schema", f"{here} must be a whole number of at least 0")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"  # JSON Schema: 1.0 is an integer too
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but true != 1 (Python says True == 1).
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)
    return a == b


def checks(value: Any, schema: Any, path: str = "$", via: str = "schema") -> Iterator[tuple[str, str, bool]]:
    """(place, keyword, passed) for each check of `value` against a checked `schema`; `via`
    names a `true`/`false` schema's check by the keyword that holds it."""
    if isinstance(schema, bool):
        yield path, via, schema
        return
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        actual = type_of(value)
        ok = actual in allowed or (actual == "integer" and "number" in allowed)
        yield path, "type", ok
        if not ok:
            return
    if "enum" in schema:
        yield path, "enum", any(_equal(value, option) for option in schema["enum"])
    if "const" in schema:
        yield path, "const", _equal(value, schema["const"])
    if isinstance(value, float) and not math.isfinite(value):
        for keyword in _NUMERIC_BOUNDS:  # `1e400`: no bound can be checked, so none is met
            if keyword in schema:
                yield path, keyword, False
    if _number(value):
        for keyword, holds in (
            ("minimum", lambda bound: value >= bound),
            ("maximum", lambda bound: value <= bound),
            ("exclusiveMinimum", lambda bound: value > bound),
            ("exclusiveMaximum", lambda bound: value < bound),
        ):
            if keyword in schema:
                yield path, keyword, holds(schema[keyword])
    if isinstance(value, str):
        if "minLength" in schema:
            yield path, "minLength", len(value) >= schema["minLength"]
        if "maxLength" in schema:
            yield path, "maxLength", len(value) <= schema["maxLength"]
    if isinstance(value, list):
        if "minItems" in schema:
            yield path, "minItems", len(value) >= schema["minItems"]
        if "maxItems" in schema:
            yield path, "maxItems", len(value) <= schema["maxItems"]
        if "items" in schema:
            for index, element in enumerate(value):
                yield from checks(element, schema["items"], f"{path}[{index}]", "items")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            yield f"{path}.{name}", "required", name in value
        for name, sub in properties.items():
            if name in value:
                yield from checks(value[name], sub, f"{path}.{name}")
        if "additionalProperties" in schema:
            for name in value.keys() - properties.keys():
                yield from checks(value[name], schema["additionalProperties"], f"{path}.{name}", "additionalProperties")


def check_record(item: Item) -> None:
    """What every record needs, whatever the answer: a schema this grader can check."""
    read_schema(item)


def grade(item: Item) -> Score:
    schema = read_schema(item)
    try:
        value = parse_answer(item.answer)
    except (ValueError, RecursionError):
        return Score(0.0, (Metric("json", 0.0, REWARD),))
    results = list(checks(value, schema))
    failed = [f"failed {place} {keyword}" for place, keyword, passed in results if not passed]
    passed = len(results) - len(failed)
    score = share(passed, len(results)) if results else 1.0  # an enum-free `{"type": [...all]}`: any JSON
    metrics = [Metric("json", 1.0, REWARD), Metric("schema_checks", score, REWARD)]
    metrics += [Metric(name, 0.0) for name in failed[:MAX_FAILURES_LISTED]]
    if len(failed) > MAX_FAILURES_LISTED:
        metrics.append(Metric("failed_checks", float(len(failed))))
    return Score(score, tuple(metrics))


def answer_from_reference(reference: Any) -> str:
    """The answer `tools grade` tries when given none: the reference as JSON text."""
    return reference if isinstance(reference, str) else json.dumps(reference)


handler = handler_for(grade)
