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
import re
from collections.abc import Mapping
from typing import Any

MANAGED_POLICY_MAX_CHARACTERS = 6_144
# The longest value each pseudo parameter can take (aws-iso-b, a Region name, 12 digits).
PSEUDO_PARAMETERS = {"AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12, "AWS::URLSuffix": 20}
# Any other reference (a bucket or function ARN, a key ARN): more than any of ours resolves to.
UNRESOLVED = 128
_SUB_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")
# Where a policy that grows comes from, for the message.
GROWING_LISTS = "cdk.json customization.invocationLogPrefixes, customization.teacherModels, otherBaseModels and graders"


def policy_characters(document: Any) -> int:
    """The characters IAM counts in a CloudFormation policy document (compact JSON), with each
    reference counted as the longest value it can resolve to, and a condition's branches as the
    longer one."""
    if isinstance(document, dict) and len(document) == 1:
        (key, value), *_ = document.items()
        if key == "Fn::Join":
            separator, parts = value
            joined = sum(_string_characters(part) for part in parts) + len(separator) * max(len(parts) - 1, 0)
            return 2 + joined
        if key == "Fn::Sub":
            template = value if isinstance(value, str) else value[0]
            return 2 + _sub_characters(template)
        if key == "Fn::If":
            return max(policy_characters(value[1]), policy_characters(value[2]))
        if key == "Ref" or key.startswith("Fn::"):
            # Ref, GetAtt, ImportValue and any other intrinsic: a string at most this long.
            return 2 + (PSEUDO_PARAMETERS.get(value, UNRESOLVED) if key == "Ref" else UNRESOLVED)
    if isinstance(document, dict):
        pairs = sum(len(json.dumps(key)) + 1 + policy_characters(value) + 1 for key, value in document.items())
        return 1 + pairs + (0 if document else 1)
    if isinstance(document, list):
        return 1 + sum(policy_characters(value) + 1 for value in document) + (0 if document else 1)
    return len(json.dumps(document))


def _string_characters(part: Any) -> int:
    """A part of a joined string, without the quotes it would have on its own (escapes kept)."""
    return policy_characters(part) - 2


def _sub_characters(template: str) -> int:
    """Fn::Sub's text, each ${Name} at its longest value (escapes kept)."""
    literal = _SUB_REFERENCE.sub("", template)
    references = _SUB_REFERENCE.findall(template)
    return len(json.dumps(literal)) - 2 + sum(PSEUDO_PARAMETERS.get(name, UNRESOLVED) for name in references)


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
