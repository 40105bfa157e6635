"""Operator command line of the Bedrock customization pipeline.

python -m tools summary [--cdk-out DIR]   what the last synth produced, per environment
python -m tools docs [--check]            regenerate docs/iam.md and the README nag table
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IAM_DOC = ROOT / "docs" / "iam.md"
README = ROOT / "README.md"


def _summary(args: argparse.Namespace) -> int:
    from stacks.deployment import PROJECT
    from tools import summary
    from tools.assembly import CloudAssembly

    try:
        assembly = CloudAssembly(args.cdk_out)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary.render(assembly, PROJECT), end="")
    return 0


def generated_docs(assembly, environments: list[str]) -> dict[Path, str]:
    """The generated files' expected contents, from a synth of every environment."""
    from stacks.deployment import PROJECT
    from tools import iam_doc, nag_table

    return {
        IAM_DOC: iam_doc.render(assembly, environments, PROJECT),
        README: nag_table.replace_in(README.read_text(), nag_table.render(assembly)),
    }


def _docs(args: argparse.Namespace) -> int:
    from tools.synth import synthesize

    with tempfile.TemporaryDirectory() as outdir:
        # In-process and without the CLI's account and region, so the result is the same
        # on every machine: unpinned environments show ${AWS::Region} and the like.
        assembly, environments = synthesize(Path(outdir))
        expected = generated_docs(assembly, [e.config.name for e in environments])
    stale = [path for path, text in expected.items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{_shown(path)} is stale: run `make docs` and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path])
        print(f"wrote {_shown(path)}")
    return 0


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a dataset as the pipeline will, before any upload")
    from tools import validate as validate_command

    validate_command.add_arguments(validate)
    validate.set_defaults(run=validate_command.run)
    local_run = commands.add_parser("local-run", help="run the synthesized pipeline offline against emulated AWS")
    from tools import local_run as local_run_command

    local_run_command.add_arguments(local_run)
    local_run.set_defaults(run=local_run_command.run)
    from tools import operate

    submit = commands.add_parser("submit", help="validate a dataset folder, upload it (which starts a run)")
    operate.add_submit_arguments(submit)
    submit.set_defaults(run=operate.submit_command)
    status = commands.add_parser("status", help="recent runs of a deployed environment")
    operate.add_status_arguments(status)
    status.set_defaults(run=operate.status_command)
    cleanup = commands.add_parser("cleanup", help="what a deployed environment's runs left billing; --yes deletes")
    operate.add_cleanup_arguments(cleanup)
    cleanup.set_defaults(run=operate.cleanup_command)
    summary = commands.add_parser("summary", help="what the last synth produced, per environment")
    summary.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="cloud assembly (default: cdk.out)")
    summary.set_defaults(run=_summary)
    docs = commands.add_parser("docs", help="regenerate docs/iam.md and the README's nag table")
    docs.add_argument("--check", action="store_true", help="only check that they are up to date")
    docs.set_defaults(run=_docs)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
