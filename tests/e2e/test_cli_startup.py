"""The commands a user runs many times a day load only what they need: never the CDK, which
imports jsii and starts Node.js (a second or more before anything happens). Each command runs
in a fresh interpreter, as `python -m tools` would, with no AWS credentials or region, so it
stops at its first AWS call; what it imported by then is what every run of it pays."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "email-classifier"

# Runs the command's main() and reports what was imported, and whether a Node.js process was
# started (jsii starts one as a child of the interpreter).
PROBE = r"""
import json, os, sys
from tools.__main__ import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
children = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid():
                children.append(os.path.basename(os.readlink(f"/proc/{pid}/exe")))
        except OSError:
            pass
heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("aws_cdk", "jsii", "constructs", "cdk_nag"))
print(json.dumps({"code": code, "heavy": heavy, "children": children}), file=sys.stderr)
"""

COMMANDS = [
    ["validate", str(EXAMPLE / "train.jsonl"), "--env", "dev"],
    ["validate", "--help"],
    ["submit", str(EXAMPLE), "--env", "dev"],
    ["status", "--env", "dev"],
    ["status", "--env", "dev", "email-classifier-0123456789abcdef"],
    ["invoke", "--env", "dev", "--run", "email-classifier-0123456789abcdef", "hello"],
    ["serve", "--env", "dev", "email-classifier-0123456789abcdef"],
    ["cost", "--env", "dev", "--base-model", "amazon.nova-micro-v1:0:128k", "--tokens-per-day", "2M"],
    ["cost", "--env", "dev", "--run", "email-classifier-0123456789abcdef", "--tokens-per-day", "2M"],
    ["compare", "--env", "dev", "email-classifier-0123456789abcdef", "email-classifier-fedcba9876543210"],
    ["cleanup", "--env", "dev"],
    ["preflight", "--env", "dev"],
    ["convert", str(EXAMPLE / "train.jsonl"), "--to", "bedrock-conversation", "--out", "-"],
    ["grade", "--grader", "exact-match", str(ROOT / "examples" / "rft-support-triage" / "train.jsonl")],
    ["--help"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_the_command_never_loads_the_cdk_or_starts_nodejs(argv, tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if argv[0] == "convert":
        argv = [*argv[:-1], str(tmp_path / "out.jsonl")]

    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    report = json.loads(completed.stderr.strip().splitlines()[-1])
    assert report["heavy"] == [], f"python -m tools {' '.join(argv)} imported {report['heavy']}"
    assert "node" not in report["children"]
    assert "Traceback" not in completed.stderr


def test_the_probe_sees_the_cdk_and_nodejs_when_a_command_loads_them(tmp_path):
    """The check above can fail: a command that imports the CDK is caught."""
    loads_the_cdk = PROBE.replace("from tools.__main__ import main", "import aws_cdk\nfrom tools.__main__ import main")

    completed = subprocess.run(
        [sys.executable, "-c", loads_the_cdk, "validate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    report = json.loads(completed.stderr.strip().splitlines()[-1])
    assert "aws_cdk" in report["heavy"] and "jsii" in report["heavy"]
    assert "node" in report["children"]


def test_a_reader_that_stops_early_ends_the_command_quietly():
    """`python -m tools local-run --list-scenarios | head -1`: no BrokenPipeError traceback."""
    completed = subprocess.run(
        f"{sys.executable} -m tools local-run --list-scenarios | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.stdout.startswith("happy-path")
    assert "Traceback" not in completed.stderr and "BrokenPipe" not in completed.stderr
