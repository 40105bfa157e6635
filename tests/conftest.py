"""Templates are synthesized once per test session: each synth starts jsii's Node process."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from stacks.config import stack_id
from stacks.deployment import EnvironmentStacks
from tools.assembly import CloudAssembly
from tools.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent


class SynthesizedApp:
    """The whole app as `make synth` builds it (every environment, nag packs registered)."""

    def __init__(self, assembly: CloudAssembly, environments: list[EnvironmentStacks]) -> None:
        self.assembly = assembly
        self.environments = {stacks.config.name: stacks for stacks in environments}

    def template(self, environment: str, part: str) -> Template:
        return Template.from_json(self.assembly.stacks[stack_id(environment, part)].template)

    def raw(self, environment: str, part: str) -> dict:
        return self.assembly.stacks[stack_id(environment, part)].template


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    assembly, environments = synthesize(tmp_path_factory.mktemp("cdk.out"))
    return SynthesizedApp(assembly, environments)


ENVIRONMENTS = ["dev", "prod"]
STACK_PARTS = ["Storage", "Pipeline"]
