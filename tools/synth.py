"""In-process synthesis of the CDK app, as the CLI would do it from `cdk.json`.

Used by the tools that read templates (docs, summaries) and by the tests, so that both see
exactly what `npx cdk synth` produces, without the CLI's process start-up.
"""

from __future__ import annotations

from pathlib import Path

import stacks.node  # noqa: F401  (first: aws_cdk starts Node.js when imported)

# isort: split
from aws_cdk import App, Environment

from stacks.config import SELECTOR_KEY, cdk_json_context
from stacks.constructs.policy_size import oversized_managed_policies
from stacks.deployment import EnvironmentStacks, add_compliance_checks, build_environments
from tools.assembly import CloudAssembly

# What the CLI adds to the context of every synth; the path metadata names resources in docs.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
}


def build_app(
    outdir: Path,
    *,
    environment: str | None = None,
    context_overrides: dict | None = None,
    default_env: Environment | None = None,
    nag: bool = True,
) -> tuple[App, list[EnvironmentStacks]]:
    context = {**cdk_json_context(), **CLI_CONTEXT, **(context_overrides or {})}
    if environment is not None:
        context[SELECTOR_KEY] = environment
    app = App(context=context, outdir=str(outdir))
    environments = build_environments(app, default_env=default_env)
    if nag:
        add_compliance_checks(app)
    return app, environments


class PolicyTooLarge(ValueError):
    """A managed policy IAM would refuse at deploy (stacks/constructs/policy_size.py)."""


def synthesize(outdir: Path, **options) -> tuple[CloudAssembly, list[EnvironmentStacks]]:
    app, environments = build_app(outdir, **options)
    app.synth()
    assembly = CloudAssembly(outdir)
    oversized = oversized_managed_policies({name: stack.template for name, stack in assembly.stacks.items()})
    if oversized:
        (Path(outdir) / "manifest.json").unlink(missing_ok=True)  # not left deployable
        raise PolicyTooLarge("\n".join(oversized))
    return assembly, environments
