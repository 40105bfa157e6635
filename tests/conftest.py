"""Shared fixtures. Templates are synthesized once per test session: each synth starts
jsii's Node process. Each test is marked by the folder it lives in: `unit` (the runtime, no
synth), `infrastructure` (the synthesized templates), `e2e` (local runs and the commands
as users type them); `pytest -m unit` runs one group."""

from __future__ import annotations

import os

# The templates are checked by cfn-lint, cdk-nag and the assertions here; the CDK's built-in
# template validation (which `make synth` still runs) would add ~3 s to every synth of the suite.
os.environ.setdefault("CDK_VALIDATION", "false")

# isort: split
import stacks.node  # noqa: F401  (first: aws_cdk starts Node.js when imported)

# isort: split
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from stacks.config import stack_id
from stacks.deployment import EnvironmentStacks
from tools.assembly import CloudAssembly
from tools.local_run import strict
from tools.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("unit", "infrastructure", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = next((part for part in item.path.relative_to(ROOT / "tests").parts if part in GROUPS), None)
        if group is None:
            raise pytest.UsageError(f"{item.nodeid}: put the test under tests/unit, tests/infrastructure or tests/e2e")
        item.add_marker(group)


class SynthesizedApp:
    """The whole app as `make synth` builds it (every environment, nag packs registered)."""

    def __init__(self, assembly: CloudAssembly, environments: list[EnvironmentStacks]) -> None:
        self.assembly = assembly
        self.environments = {stacks.config.name: stacks for stacks in environments}

    def template(self, environment: str, part: str) -> Template:
        return Template.from_json(self.assembly.stacks[stack_id(environment, part)].template)

    def raw(self, environment: str, part: str) -> dict:
        return self.assembly.stacks[stack_id(environment, part)].template


@pytest.fixture(scope="session", autouse=True)
def requests_checked_as_strictly_as_aws():
    """Every boto3 client the tests create checks each request against the service model's
    patterns, lengths, ranges and enums, as AWS does (botocore alone does not): a request the
    emulation lets through is one a real account would accept too."""
    strict.install()
    yield
    strict.uninstall()


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    assembly, environments = synthesize(tmp_path_factory.mktemp("cdk.out"))
    return SynthesizedApp(assembly, environments)


ENVIRONMENTS = ["dev", "prod"]
STACK_PARTS = ["Storage", "Pipeline"]
