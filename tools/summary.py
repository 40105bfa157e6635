"""`python -m tools summary`: what `make synth` produced, one block per environment."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from tools.assembly import CloudAssembly

ROOT = Path(__file__).resolve().parent.parent

PACKS = "AwsSolutions, Serverless, NIST 800-53 rev 5"


def nag_violations(assembly: CloudAssembly) -> int | None:
    """Unacknowledged findings in the last synth's validation report, None if none was run."""
    report_file = assembly.directory / "validation-report.json"
    if not report_file.is_file():
        return None
    report = json.loads(report_file.read_text())
    return sum(len(plugin.get("violations", [])) for plugin in report.get("pluginReports", []))


def render(assembly: CloudAssembly, stack_prefix: str) -> str:
    by_environment: dict[str, list] = {}
    for name, stack in assembly.stacks.items():
        environment = name.removeprefix(f"{stack_prefix}-").rsplit("-", 1)[0]
        by_environment.setdefault(environment, []).append(stack)
    violations = nag_violations(assembly)
    lines = []
    for environment, stacks in by_environment.items():
        lines.append(f"Environment {environment}")
        acknowledged = 0
        for stack in stacks:
            target = assembly.manifest["artifacts"][stack.name].get("environment", "")
            protection = "termination protection on" if stack.termination_protection else "termination protection off"
            lines.append(f"  {stack.name}  ({target.removeprefix('aws://')}, {protection})")
            counts: Counter = stack.resource_counts()
            for kind, count in sorted(counts.items()):
                lines.append(f"    {count:3d}  {kind}")
            acknowledged += len(stack.acknowledgments())
        if violations is None:
            nag = "not run (synth without the packs)"
        elif violations:
            nag = f"{violations} unacknowledged finding(s) in the app: see cdk.out/validation-report.json"
        else:
            nag = f"0 unacknowledged findings, {acknowledged} acknowledged with reasons (README table)"
        lines.append(f"  cdk-nag ({PACKS}): {nag}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="cloud assembly (default: cdk.out)")


def run(args: argparse.Namespace) -> int:
    from customization.naming import PROJECT

    try:
        assembly = CloudAssembly(args.cdk_out)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(assembly, PROJECT), end="")
    return 0
