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


def _add_summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="cloud assembly (default: cdk.out)")


def _add_docs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check that they are up to date")


def _commands():
    """(name, help, add_arguments, run) for every subcommand, in the order --help lists them."""
    from tools import invoke, local_run, operate, validate

    return [
        ("validate", "check a dataset as the pipeline will, before any upload", validate.add_arguments, validate.run),
        (
            "local-run",
            "run the synthesized pipeline offline against emulated AWS",
            local_run.add_arguments,
            local_run.run,
        ),
        (
            "submit",
            "validate a dataset folder, upload it (which starts a run)",
            operate.add_submit_arguments,
            operate.submit_command,
        ),
        (
            "status",
            "recent runs of a deployed environment, or one in detail",
            operate.add_status_arguments,
            operate.status_command,
        ),
        (
            "cleanup",
            "what a deployed environment's runs left billing; --yes deletes",
            operate.add_cleanup_arguments,
            operate.cleanup_command,
        ),
        (
            "invoke",
            "ask a run's served custom model (or any model) a question",
            invoke.add_arguments,
            invoke.run,
        ),
        ("summary", "what the last synth produced, per environment", _add_summary_arguments, _summary),
        ("docs", "regenerate docs/iam.md and the README's nag table", _add_docs_arguments, _docs),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, run in _commands():
        command = commands.add_parser(name, help=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
