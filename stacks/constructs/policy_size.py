"""IAM's size limit on a customer managed policy, checked at synth instead of at deploy.

IAM refuses a managed policy over 6,144 characters, whitespace aside (IAM and AWS STS quotas,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html, checked
2026-11-29), and CloudFormation then rolls the whole deployment back. Several of our policies
grow with cdk.json lists (the customization role's with `customization.invocationLogPrefixes`,
`teacherModels` and the graders; a function's with the models it may use), so synth measures
every managed policy of the templates it wrote and refuses one that would not fit, naming it.
Read from the templates, not the construct tree: a visit of every construct through jsii made
each synth a second slower.

Written by hand: neither the CDK nor cdk-nag checks policy sizes, and cfn-lint only checks
literal documents, not the references most of our ARNs are built from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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


def oversized_managed_policies(templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per managed policy of the templates (stack name -> template) that IAM would
    refuse, naming it by its construct path."""
    problems = []
    for stack, template in templates.items():
        for logical_id, resource in (template.get("Resources") or {}).items():
            if resource.get("Type") != "AWS::IAM::ManagedPolicy":
                continue
            size = policy_characters(resource.get("Properties", {}).get("PolicyDocument", {}))
            if size > MANAGED_POLICY_MAX_CHARACTERS:
                path = (
                    (resource.get("Metadata") or {})
                    .get("aws:cdk:path", f"{stack}/{logical_id}")
                    .removesuffix("/Resource")
                )
                problems.append(
                    f"managed policy {path} takes about {size:,} characters, over IAM's "
                    f"{MANAGED_POLICY_MAX_CHARACTERS:,} for a managed policy (CloudFormation would roll the "
                    f"deployment back): it grows with {GROWING_LISTS}; name fewer or shorter entries (for log "
                    "prefixes, a common parent folder)"
                )
    return problems
