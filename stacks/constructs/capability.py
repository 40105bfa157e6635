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

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Where it sits below its stack, kept on the Python side: the stack names each of its
        # resources from one path string instead of asking jsii about every scope (synth time).
        if isinstance(scope, Capability) and scope.below_stack is not None:
            self.below_stack: tuple[str, ...] | None = (*scope.below_stack, construct_id)
            self._stack: CapabilityStack | None = scope._stack
        elif isinstance(scope, CapabilityStack):
            self.below_stack, self._stack = (construct_id,), scope
        else:
            self.below_stack, self._stack = None, None
        if self._stack is not None and self.below_stack is not None:
            self._stack.capabilities.add(self.below_stack)


class CapabilityStack(Stack):
    """A stack whose capabilities do not appear in the logical IDs of their resources."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        # Paths (below the stack) of the capabilities; set before any construct is added.
        self.capabilities: set[tuple[str, ...]] = set()
        super().__init__(scope, construct_id, **kwargs)
        self._depth = len(self.node.path.split("/"))
        # CDK asks for an element's ID each time a reference to it is resolved: each element is
        # named once, keyed by its jsii object reference (read without a call to Node.js).
        self._named: dict[str, str] = {}

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        reference = cfn_element.__jsii_ref__.ref
        known = self._named.get(reference)
        if known is not None:
            return known
        below = cfn_element.node.path.split("/")[self._depth :]
        allocated = logical_id(
            [component for i, component in enumerate(below) if tuple(below[: i + 1]) not in self.capabilities]
        )
        self._named[reference] = allocated
        return allocated


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
