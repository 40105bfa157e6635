"""`python -m tools convert FILE --to FORMAT --out OUT`: records into the format a model takes.

The input's format is read from its records (Bedrock conversation, Claude messages, OpenAI
chat, prompt/completion), so a file of tutorial records converts without saying what it
is. `--system TEXT` sets every record's system prompt (an empty TEXT removes it).

Nothing partial is written: the records go to a temporary file beside OUT, which replaces
OUT only when every record converted. When one is refused, every refusal is printed
(`FILE:LINE: rule: message`, as validate prints problems), the temporary file is deleted,
and OUT is left as it was.

Exit status: 0 converted, 1 records refused (nothing written), 2 usage error or unreadable
input. This module imports neither the CDK nor boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from customization.validation.convert import TARGETS, Conversion, convert_stream
from customization.validation.problems import ProblemLog
from customization.validation.scanner import read_chunks

EXIT_CONVERTED, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class _Usage(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="records to convert, one JSON object a line (.jsonl)")
    parser.add_argument(
        "--to",
        required=True,
        choices=list(TARGETS),
        help="bedrock-conversation (Amazon Nova, Llama 3.2), claude (Claude 3 Haiku), "
        "prompt-completion (Titan, Llama 3.1)",
    )
    parser.add_argument("--out", required=True, type=Path, help="the file to write (replaced only if all converts)")
    parser.add_argument("--system", metavar="TEXT", help="set every record's system prompt to TEXT ('' removes it)")
    parser.add_argument("--max-problems", type=int, default=50, help="refusals to print (all are counted)")
    parser.add_argument("--json", action="store_true", help="print one JSON report instead of text")


def run(args: argparse.Namespace) -> int:
    try:
        _check_arguments(args)
        conversion = _convert(args, ProblemLog(keep=max(args.max_problems, 0)))
    except _Usage as error:
        return _usage(str(error))
    except OSError as error:
        return _usage(f"cannot convert: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
    print(json.dumps(_report(conversion, args), indent=2) if args.json else _render(conversion, args))
    return EXIT_CONVERTED if conversion.ok else EXIT_REFUSED


def _check_arguments(args: argparse.Namespace) -> None:
    if args.file.is_dir():
        raise _Usage(f"{args.file} is a folder: give the file itself, e.g. {args.file / 'train.jsonl'}")
    if not args.file.is_file():
        raise _Usage(f"cannot read {args.file}: no such file")
    if args.out.is_dir():
        raise _Usage(f"--out {args.out} is a folder: give the file to write, e.g. {args.out / 'train.jsonl'}")
    if not args.out.parent.is_dir():
        raise _Usage(f"--out {args.out}: the folder {args.out.parent} does not exist")
    if args.out.exists() and args.out.samefile(args.file):
        raise _Usage(f"--out {args.out} is the input file: write the converted records to another file")
    if args.system is not None and args.system.isspace():
        raise _Usage("--system: give the system prompt's text, or '' to remove the system prompts")


def _convert(args: argparse.Namespace, log: ProblemLog) -> Conversion:
    """Convert into a temporary file beside --out; it becomes --out only if every record converted."""
    temporary = args.out.with_name(f".{args.out.name}.{os.getpid()}.tmp")
    try:
        with args.file.open("rb") as source, temporary.open("xb") as out:
            conversion = convert_stream(
                str(args.file), read_chunks(source), TARGETS[args.to], out, system=args.system, log=log
            )
        if conversion.ok:
            os.replace(temporary, args.out)
    finally:
        temporary.unlink(missing_ok=True)
    return conversion


def _render(conversion: Conversion, args: argparse.Namespace) -> str:
    log = conversion.log
    lines = [str(problem) for problem in log.problems]
    if log.truncated:
        counts = ", ".join(f"{rule} {count}" for rule, count in log.errors_by_rule.items())
        lines.append(
            f"... {log.truncated:,} more refusal(s) not shown (by rule: {counts}); use --max-problems or --json"
        )
    blank = f"; {conversion.blank_lines:,} blank line(s) left out" if conversion.blank_lines else ""
    if not conversion.ok:
        total = conversion.converted + conversion.refused
        refused = f"{conversion.refused:,} of {total:,} record(s) refused{blank}; " if conversion.refused else ""
        lines.append(f"not converted: {refused}nothing written, {args.out} left as it was")
        return "\n".join(lines)
    sources = ", ".join(f"{name} {count:,}" for name, count in conversion.source_formats.most_common())
    lines.append(f"converted {conversion.converted:,} record(s) to {args.to}: {args.out} (read as {sources}{blank})")
    lines.append(f"next: python -m tools validate {args.out} --base-model MODEL (or --env NAME)")
    return "\n".join(lines)


def _report(conversion: Conversion, args: argparse.Namespace) -> dict:
    log = conversion.log
    return {
        "converted": conversion.ok,
        "file": str(args.file),
        "out": str(args.out) if conversion.ok else None,
        "to": args.to,
        "records": {
            "read": conversion.converted + conversion.refused,
            "refused": conversion.refused,
            "written": conversion.converted if conversion.ok else 0,
        },
        "sourceFormats": dict(conversion.source_formats),
        "blankLinesLeftOut": conversion.blank_lines,
        "errors": log.error_count,
        "problemsByRule": dict(log.errors_by_rule),
        "problems": [problem.as_dict() for problem in log.problems],
        "problemsNotShown": log.truncated,
    }


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
