"""IAM's size limit on a customer managed policy, checked at synth instead of at deploy.

IAM refuses a managed policy over 6,144 characters, whitespace aside (IAM and AWS STS quotas,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html, checked
2026-11-29), and CloudFormation then rolls the whole deployment back. Several of our policies
grow with cdk.json lists (the customization role's with `customization.invocationLogPrefixes`,
`teacherModels` and the graders; a function's with the models it may use), so synth measures
every managed policy and refuses one that would not fit, naming it.

Written by hand: neither the CDK nor cdk-nag checks policy sizes, and cfn-lint only checks
literal documents, not the references most of our ARNs are built from.
"""

from __future__ import annotations

import json
from typing import Any

import jsii
from aws_cdk import IAspect, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation

MANAGED_POLICY_MAX_CHARACTERS = 6_144
# The longest value each pseudo parameter can take (aws-iso-b, a Region name, 12 digits).
PSEUDO_PARAMETERS = {"AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12, "AWS::URLSuffix": 20}
# Any other reference (a bucket or function ARN, a key ARN): more than any of ours resolves to.
UNRESOLVED = 128
# Where a policy that grows comes from, for the message.
GROWING_LISTS = "cdk.json customization.invocationLogPrefixes, customization.teacherModels, otherBaseModels and graders"


def policy_characters(document: Any) -> int:
    """The characters IAM counts in a CloudFormation policy document (compact JSON), with each
    reference counted as the longest value it can resolve to."""
    if isinstance(document, dict) and "Fn::Join" in document:
        separator, parts = document["Fn::Join"]
        literal = sum(len(part) if isinstance(part, str) else policy_characters(part) - 2 for part in parts)
        return 2 + literal + len(separator) * max(len(parts) - 1, 0)
    if isinstance(document, dict) and len(document) == 1 and next(iter(document)).startswith(("Fn::", "Ref")):
        return 2 + PSEUDO_PARAMETERS.get(document.get("Ref"), UNRESOLVED)
    if isinstance(document, dict):
        pairs = sum(len(json.dumps(key)) + 1 + policy_characters(value) + 1 for key, value in document.items())
        return 1 + pairs + (0 if document else 1)
    if isinstance(document, list):
        return 1 + sum(policy_characters(value) + 1 for value in document) + (0 if document else 1)
    return len(json.dumps(document))


@jsii.implements(IValidation)
class _FitsInIam:
    def __init__(self, policy: iam.ManagedPolicy) -> None:
        self._policy = policy

    def validate(self) -> list[str]:
        document = Stack.of(self._policy).resolve(self._policy.document.to_json())
        size = policy_characters(document)
        if size <= MANAGED_POLICY_MAX_CHARACTERS:
            return []
        return [
            f"managed policy {self._policy.node.path} takes about {size:,} characters, over IAM's "
            f"{MANAGED_POLICY_MAX_CHARACTERS:,} for a managed policy (CloudFormation would roll the deployment "
            f"back): it grows with {GROWING_LISTS}; name fewer or shorter entries (for log prefixes, a common "
            "parent folder)"
        ]


@jsii.implements(IAspect)
class ManagedPoliciesFitInIam:
    """Adds the size check to every customer managed policy of the scope it is applied to."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.ManagedPolicy):
            node.node.add_validation(_FitsInIam(node))
