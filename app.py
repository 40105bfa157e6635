#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth -c env=dev` builds one environment, no `env` builds all."""

import os
import sys
from pathlib import Path

import stacks.node  # noqa: F401  (first: aws_cdk starts Node.js when imported)

# isort: split
from aws_cdk import App, Environment

from stacks.config import ConfigError
from stacks.constructs.policy_size import oversized_managed_policies
from stacks.deployment import add_compliance_checks, build_environments


def main() -> None:
    app = App()
    # Unpinned environments (dev) follow the account and region of the CLI's credentials;
    # the CLI passes them in these variables. Pinned ones (prod) ignore them.
    cli_default = Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    try:
        build_environments(app, default_env=cli_default)
    except ConfigError as error:
        sys.exit(f"error: {error}")
    add_compliance_checks(app)
    assembly = app.synth()
    # What IAM would refuse at deploy, refused here (stacks/constructs/policy_size.py).
    oversized = oversized_managed_policies({stack.stack_name: stack.template for stack in assembly.stacks})
    if oversized:
        # Not left deployable: `cdk deploy --app cdk.out` (or a CI artifact of it) would need the manifest.
        (Path(assembly.directory) / "manifest.json").unlink(missing_ok=True)
        sys.exit("error: " + "\nerror: ".join(oversized))


if __name__ == "__main__":
    main()
