"""Capabilities: the logical units the pipeline stack is wired from.

A capability (the trigger, the training steps, notifications, ...) owns its functions,
grants, alarms and nag acknowledgments, so a reader finds each thing in one place. It only
groups: it is left out of the CloudFormation logical IDs of what it holds. A resource is
named as if it sat directly in the stack, so moving a deployed resource into a capability,
or from one capability to another, never makes CloudFormation replace it: no retained log
group orphaned, no topic whose e-mail subscribers must confirm again, no state machine
replaced under running executions.

`logical_id` is CDK's own naming rule (aws-cdk-lib core/lib/private/uniqueid.ts,
`makeUniqueId`), which aws-cdk-lib does not export; tests/infrastructure check that it
gives the IDs CDK gave every resource of the deployed templates.
"""

from __future__ import annotations

import hashlib
import re

from aws_cdk import CfnElement, Stack
from constructs import Construct

_HIDDEN = "Default"  # left out of IDs altogether
_HIDDEN_FROM_HUMAN = "Resource"  # left out of the readable part only
_HASH_LENGTH = 8
_MAX_HUMAN_LENGTH = 240
_MAX_ID_LENGTH = 255
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


class Capability(Construct):
    """A group of resources that serves one capability of the pipeline (see the module)."""


class CapabilityStack(Stack):
    """A stack whose capabilities do not appear in the logical IDs of their resources."""

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        scopes = cfn_element.node.scopes
        below = scopes[next(i for i, scope in enumerate(scopes) if scope is self) + 1 :]
        return logical_id([scope.node.id for scope in below if not isinstance(scope, Capability)])


def logical_id(components: list[str]) -> str:
    """The logical ID CDK gives the construct path `components` (below the stack)."""
    components = [component for component in components if component != _HIDDEN]
    if len(components) == 1:
        candidate = _NOT_ALPHANUMERIC.sub("", components[0])
        if len(candidate) <= _MAX_ID_LENGTH:
            return candidate
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    readable: list[str] = []
    for component in components:
        if not readable or not readable[-1].endswith(component):
            readable.append(component)
    human = "".join(_NOT_ALPHANUMERIC.sub("", c) for c in readable if c != _HIDDEN_FROM_HUMAN)
    return human[:_MAX_HUMAN_LENGTH] + digest[:_HASH_LENGTH].upper()
