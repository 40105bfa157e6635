"""The synth-time measure of a managed policy (stacks/constructs/policy_size.py): characters as
IAM counts them (compact JSON), each reference as the longest value it can stand for."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from stacks.constructs.policy_size import PSEUDO_PARAMETERS, UNRESOLVED, policy_characters

STATEMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::logs/a/*"}],
}

# JSON without references: the measure is the compact JSON's length, whatever its shape.
documents = st.recursive(
    st.text(max_size=20) | st.integers() | st.booleans(),
    lambda children: (
        st.lists(children, max_size=4)
        # Keys that are not CloudFormation's: a one-key {"Ref": ...} or {"Fn::...": ...} is a reference.
        | st.dictionaries(st.text(max_size=8).filter(lambda k: not k.startswith(("Ref", "Fn::"))), children, max_size=4)
    ),
    max_leaves=20,
)


@given(documents)
def test_a_literal_document_measures_as_its_compact_json(document):
    assert policy_characters(document) == len(json.dumps(document, separators=(",", ":")))


def test_a_literal_statement_measures_as_iam_counts_it():
    assert policy_characters(STATEMENT) == len(json.dumps(STATEMENT, separators=(",", ":")))


def test_references_count_as_the_longest_value_they_can_take():
    joined = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}, "/*"]]}
    # "arn:" + 10 + ":s3:::" + 128 + "/*", in quotes
    assert policy_characters(joined) == 2 + 4 + PSEUDO_PARAMETERS["AWS::Partition"] + 6 + UNRESOLVED + 2
    assert policy_characters({"Fn::GetAtt": ["Function", "Arn"]}) == 2 + UNRESOLVED
    assert policy_characters({"Fn::Join": [":", ["a", "b", "c"]]}) == len('"a:b:c"')


def test_sub_if_and_escapes_count_what_they_can_become():
    sub = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/logs/*"}
    assert policy_characters(sub) == 2 + len("arn:") + 10 + len(":s3:::") + UNRESOLVED + len("/logs/*")
    statement = {"Effect": "Allow", "Resource": "x" * 300}
    chosen = {"Fn::If": ["IsProd", statement, {"Ref": "AWS::NoValue"}]}
    assert policy_characters(chosen) == policy_characters(statement)
    # A quote inside a joined part is escaped in the JSON IAM counts.
    assert policy_characters({"Fn::Join": ["", ['say "a"', "b"]]}) == len(json.dumps('say "a"b'))
    assert policy_characters({"Fn::ImportValue": "SharedBucketArn"}) == 2 + UNRESOLVED
