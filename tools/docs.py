"""`python -m tools docs [--check]`: regenerate docs/iam.md and the README's cdk-nag table
from a synth of every environment (or, with --check, fail when they are stale)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IAM_DOC = ROOT / "docs" / "iam.md"
README = ROOT / "README.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check that they are up to date")


def generated_docs(assembly, environments: list[str]) -> dict[Path, str]:
    """The generated files' expected contents, from a synth of every environment."""
    from customization.catalog import load_catalog
    from customization.naming import PROJECT
    from tools import iam_doc, model_table, nag_table, scenario_table

    readme = nag_table.replace_in(README.read_text(), nag_table.render(assembly))
    readme = model_table.replace_in(readme, model_table.render(load_catalog()))
    return {
        IAM_DOC: iam_doc.render(assembly, environments, PROJECT),
        README: scenario_table.replace_in(readme, scenario_table.render()),
    }


def run(args: argparse.Namespace) -> int:
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
