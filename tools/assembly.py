"""Reading a synthesized cloud assembly (`cdk.out`) the way a reviewer would.

CloudFormation values are full of intrinsics (`Fn::GetAtt`, `Fn::Join`, weak cross-stack
`Fn::GetStackOutput`); `readable` turns them into short names taken from the construct
paths (`Storage/DataBucket.Arn`), so generated docs and summaries read like the code.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"


@dataclass(frozen=True)
class Acknowledgment:
    stack: str
    path: str  # construct path inside the stack; "" for the stack itself
    finding: str
    reason: str


@dataclass
class StackTemplate:
    name: str
    template: dict[str, Any]
    properties: dict[str, Any]
    metadata: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    environment: str = "aws://unknown-account/unknown-region"  # as the manifest gives it

    @property
    def account(self) -> str | None:
        """The account the stack is pinned to, or None when it follows the CLI's credentials."""
        account = self.environment.removeprefix("aws://").split("/")[0]
        return None if account == "unknown-account" else account

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    @property
    def termination_protection(self) -> bool:
        return bool(self.properties.get("terminationProtection"))

    def resource_counts(self) -> Counter:
        return Counter(resource["Type"] for resource in self.resources.values())

    def construct_path(self, logical_id: str) -> str:
        """`DataBucket` for the resource at `<stack>/DataBucket/Resource`."""
        resource = self.resources.get(logical_id, {})
        path = resource.get("Metadata", {}).get("aws:cdk:path")
        if not path:
            return logical_id
        parts = path.split("/")[1:]
        if parts and parts[-1] in ("Resource", "Default"):
            parts = parts[:-1]
        return "/".join(parts) or logical_id

    def named(self, name: str) -> tuple[str, dict[str, Any]]:
        """(logical ID, resource) of the one resource whose construct path ends in `name`
        (`TrainingFileUploaded`, `Trigger/TrainingFileUploaded`): capabilities group resources
        (stacks/constructs/capability.py), so callers need not know which one holds it."""
        found = [
            (logical_id, resource)
            for logical_id, resource in self.resources.items()
            if (path := self.construct_path(logical_id)) == name or path.endswith(f"/{name}")
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} in {self.name}")
        return found[0]

    def acknowledgments(self) -> list[Acknowledgment]:
        found = []
        for path, entries in self.metadata.items():
            for entry in entries:
                if entry.get("type") != ACKNOWLEDGED_RULES:
                    continue
                for finding, reason in entry["data"].items():
                    found.append(
                        Acknowledgment(
                            stack=self.name,
                            path=path.removeprefix(f"/{self.name}").removeprefix("/"),
                            finding=finding.removeprefix("Annotation::"),
                            reason=reason,
                        )
                    )
        return found


class CloudAssembly:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        manifest_file = self.directory / "manifest.json"
        if not manifest_file.is_file():
            raise FileNotFoundError(f"{manifest_file} not found: run `make synth` first")
        self.manifest = json.loads(manifest_file.read_text())

    @cached_property
    def stacks(self) -> dict[str, StackTemplate]:
        stacks = {}
        for name, artifact in self.manifest.get("artifacts", {}).items():
            if artifact.get("type") != STACK_ARTIFACT:
                continue
            properties = artifact.get("properties", {})
            metadata_file = self.directory / f"{name}.metadata.json"
            stacks[name] = StackTemplate(
                name=name,
                environment=artifact.get("environment", "aws://unknown-account/unknown-region"),
                template=json.loads((self.directory / properties["templateFile"]).read_text()),
                properties=properties,
                metadata=json.loads(metadata_file.read_text())
                if metadata_file.is_file()
                else artifact.get("metadata", {}),
            )
        return stacks

    def readable(self, value: Any, stack: StackTemplate) -> str:
        """A CloudFormation value as a short, stable string for people."""
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return ", ".join(self.readable(item, stack) for item in value)
        if not isinstance(value, dict) or len(value) != 1:
            return json.dumps(value, sort_keys=True)
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument.startswith("AWS::"):
                return f"${{{argument}}}"
            return stack.construct_path(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            return f"{stack.construct_path(logical_id)}.{attribute}"
        if function == "Fn::Join":
            delimiter, parts = argument
            return delimiter.join(self.readable(part, stack) for part in parts)
        if function == "Fn::GetStackOutput":
            return self._stack_output(argument["StackName"], argument["OutputName"])
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument
        if function == "Fn::ImportValue":
            return f"import({self.readable(argument, stack)})"
        return json.dumps(value, sort_keys=True)

    def _stack_output(self, stack_name: str, output_name: str) -> str:
        producer = self.stacks.get(stack_name)
        if producer is None or output_name not in producer.template.get("Outputs", {}):
            return f"{stack_name}:{output_name}"
        value = self.readable(producer.template["Outputs"][output_name]["Value"], producer)
        return f"{_short_stack(stack_name)}/{value}"


def _short_stack(stack_name: str) -> str:
    """`Storage` for `BedrockCustomization-dev-Storage`."""
    return stack_name.rsplit("-", 1)[-1]
