"""Operator command line of the Bedrock customization pipeline: `python -m tools COMMAND`.

Each command is one module with `add_arguments(parser)` and `run(args) -> int`. Only the
module of the command being run is imported, so `validate` or `status` never load the CDK
(which starts Node.js); `--help` lists every command without importing any.

Exit status, every command: 0 success, 1 a verdict of failure (an invalid dataset, a run
that failed), 2 a usage, input, credentials or AWS error, printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one line for --help), in the order --help lists them
COMMANDS = {
    "validate": ("tools.validate", "check a dataset as the pipeline will, before any upload"),
    "convert": ("tools.convert", "convert Claude, OpenAI chat or prompt/completion records to a model's format"),
    "grade": ("tools.grade", "score answers with a reinforcement fine-tuning grader, locally, before a job"),
    "local-run": ("tools.local_run", "run the synthesized pipeline offline against emulated AWS"),
    "preflight": ("tools.preflight", "check an AWS account can run an environment, before the first run"),
    "submit": ("tools.submit", "validate a dataset folder, upload it (which starts a run)"),
    "status": ("tools.status", "recent runs of a deployed environment, or one in detail"),
    "invoke": ("tools.invoke", "ask a run's served custom model (or any model) a question"),
    "serve": ("tools.serve", "serve a run's custom model again (after failed, skipped or deleted serving)"),
    "compare": ("tools.compare", "runs side by side: data, settings, losses, diagnosis, evaluation, cost"),
    "cost": ("tools.cost", "what serving a model will cost: on demand against provisioned throughput"),
    "cleanup": ("tools.cleanup", "what a deployed environment's runs left billing; --yes deletes"),
    "summary": ("tools.summary", "what the last synth produced, per environment"),
    "docs": ("tools.docs", "regenerate docs/iam.md and the README's nag table"),
    "review": ("tools.review", "what a change does to the infrastructure: replacements, IAM, acknowledgments"),
}


def parser_for(argv: list[str]) -> argparse.ArgumentParser:
    """The command line's parser, with the arguments of the one command in `argv` (if any)."""
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            # Stored under a name no command uses for an argument (status's RUN, invoke's --run).
            command.set_defaults(_command_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser_for(argv).parse_args(argv)
    return args._command_module.run(args)


def _entry_point() -> int:
    try:
        return main()
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(_entry_point())
