"""Acknowledging cdk-nag findings one at a time, on the construct that causes them.

CDK records each acknowledgment in the cloud assembly (`aws:cdk:acknowledged-rules`
metadata), which is where the README's table is generated from, so it cannot drift.
"""

from __future__ import annotations

import json
from typing import Any

import jsii
from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct, IValidation


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge exactly one finding (rule ID, with its `[...]` detail where it has one)."""
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_wildcard_resource(construct: IConstruct, resource: Any, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard resource ARN of a policy.

    The finding embeds the ARN as CloudFormation will see it, and an ARN of another stack's
    bucket only takes that form (`Fn::GetStackOutput`) once the app has resolved its
    cross-stack references, after all constructs are built. So the ID is computed in a
    construct validation, which CDK runs after that step and before the nag packs.
    """
    construct.node.add_validation(_WildcardAcknowledgment(construct, resource, reason))


@jsii.implements(IValidation)
class _WildcardAcknowledgment:
    def __init__(self, construct: IConstruct, resource: Any, reason: str) -> None:
        self._construct, self._resource, self._reason = construct, resource, reason

    def validate(self) -> list[str]:
        flattened = _flatten_cfn_reference(Stack.of(self._construct).resolve(self._resource))
        acknowledge(self._construct, f"AwsSolutions-IAM5[Resource::{flattened}]", self._reason)
        return []


def _flatten_cfn_reference(node: Any) -> str:
    # A port of cdk-nag's utils/flatten-cfn-reference.ts, which the Python package does not
    # export: finding IDs embed the flattened ARN, so ours must be flattened the same way.
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(_flatten_cfn_reference(item) for item in items)
        if "Fn::Sub" in node:
            return _flatten_cfn_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{_flatten_cfn_reference(resource)}.{_flatten_cfn_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return _flatten_cfn_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{_flatten_cfn_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
