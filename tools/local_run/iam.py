"""IAM's decision on one request, for the emulations: the simulator `tools preflight` asks
(account.py) and the emulated Bedrock, which holds each function of a local run to the policy
its template gives it, tag conditions included.

It evaluates what this project's policies are made of: Allow and Deny statements, `*` and `?`
in actions and resources, and the condition operators the stacks write (StringEquals,
StringNotEquals, StringLike, ArnEquals, ArnLike, Bool, Null, with the ForAnyValue/ForAllValues
and IfExists forms), against the request context given, as IAM does: an explicit Deny wins,
otherwise any Allow, otherwise an implicit deny. Written by hand because moto does not evaluate
identity policies with conditions and no Python library does; @cloud-copilot/iam-simulate
(Node) does, and would be the choice if the emulation ever needed IAM's full grammar. It is an
emulation for tests, not a replacement for IAM.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any


def decide(policies: Iterable[dict], action: str, resource: str, context: dict[str, list[str]]) -> str:
    """IAM's decision for one action on one resource: explicitDeny, allowed or implicitDeny."""
    matching = [
        statement
        for policy in policies
        for statement in _listed(policy.get("Statement"))
        if _matches(statement, action, resource, context)
    ]
    if any(statement.get("Effect") == "Deny" for statement in matching):
        return "explicitDeny"
    if any(statement.get("Effect") == "Allow" for statement in matching):
        return "allowed"
    return "implicitDeny"


def _matches(statement: dict, action: str, resource: str, context: dict[str, list[str]]) -> bool:
    actions = _listed(statement.get("Action"))
    resources = _listed(statement.get("Resource", "*"))
    return (
        any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions)
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources)
        and all(_condition(operator, keys, context) for operator, keys in (statement.get("Condition") or {}).items())
    )


def _condition(operator: str, keys: dict[str, Any], context: dict[str, list[str]]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    for key, expected in keys.items():
        present = context.get(key.lower())
        if base == "Null":
            # "true": the key must be absent from the request; "false": present.
            if (present is None) != (str(expected).lower() == "true"):
                return False
            continue
        if present is None:
            # A missing key satisfies IfExists and ForAllValues (IAM: "all of no values"), and
            # a negated operator (nothing in the request equals the value).
            if if_exists or qualifier == "ForAllValues" or base.startswith("StringNot"):
                continue
            return False
        compare = _COMPARISONS.get(base)
        if compare is None:
            raise ValueError(f"the emulated simulator does not know condition operator {operator}")
        negated = base.startswith("StringNot")
        hits = [any(compare(value, pattern) for pattern in _listed(expected)) for value in present]
        if negated:
            # StringNotEquals: true when the value matches none of the listed ones.
            if any(hits):
                return False
        elif not (all(hits) if qualifier == "ForAllValues" else any(hits)):
            return False
    return True


_COMPARISONS = {
    "StringEquals": lambda value, pattern: value == pattern,
    "StringNotEquals": lambda value, pattern: value == pattern,  # negated by the caller
    "StringLike": lambda value, pattern: fnmatch.fnmatchcase(value, pattern),
    "ArnEquals": lambda value, pattern: fnmatch.fnmatchcase(value, pattern),
    "ArnLike": lambda value, pattern: fnmatch.fnmatchcase(value, pattern),
    "Bool": lambda value, pattern: str(value).lower() == str(pattern).lower(),
}


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
