"""The emulations' IAM decisions follow the rules of the IAM user guide ("IAM JSON policy
elements: Condition operators", read 2026-11-29): a key missing from the request makes a
condition false, except for negated operators, ...IfExists and Null."""

from __future__ import annotations

import pytest

from tools.local_run.iam import decide

RESOURCE = "arn:aws:s3:::bucket/key"


def _allow(condition: dict) -> list[dict]:
    return [{"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": condition}]}]


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringEquals": {"k": "a"}}, {"k": ["a"]}, True),
        ({"StringEquals": {"k": "a"}}, {}, False),  # missing key: false
        ({"StringNotEquals": {"k": "a"}}, {}, True),  # negated and missing: true
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": ["b"]}, False),  # negated values: NOR
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": ["c"]}, True),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringEqualsIfExists": {"k": "a"}}, {"k": ["b"]}, False),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "true"}}, {"k": ["a"]}, False),
        ({"Null": {"k": "false"}}, {"k": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "c"]}, False),
        ({"ForAllValues:StringEquals": {"k": ["a"]}}, {}, True),  # "all of no values"
        ({"ForAnyValue:StringEquals": {"k": ["a"]}}, {"k": ["c", "a"]}, True),
        ({"StringEquals": {"k": "a"}, "Null": {"j": "false"}}, {"k": ["a"]}, False),  # operators: AND
        ({"Bool": {"k": "true"}}, {"k": ["true"]}, True),
        ({"StringLike": {"K": "a*"}}, {"k": ["abc"]}, True),  # key names are case-insensitive
    ],
)
def test_conditions_decide_as_iam_documents(condition, context, allowed):
    assert (decide(_allow(condition), "s3:PutObject", RESOURCE, context) == "allowed") is allowed


def test_an_explicit_deny_wins_and_nothing_allowed_is_an_implicit_deny():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/*"}

    assert decide([{"Statement": [allow, deny]}], "s3:PutObject", RESOURCE, {}) == "explicitDeny"
    assert decide([{"Statement": [allow, deny]}], "s3:GetObject", RESOURCE, {}) == "allowed"
    assert decide([{"Statement": [deny]}], "s3:GetObject", RESOURCE, {}) == "implicitDeny"
