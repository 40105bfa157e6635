"""The Lambda layer that ships the AWS SDK the tests ran: `python -m tools.sdk_layer build`.

The Lambda runtime bundles a boto3 that lags ours by months (it may lack
CreateCustomModelDeployment or the customizationConfig shapes). `make install` installs
lambdas/requirements.txt (boto3 and its dependencies, pinned to what .venv holds) into
.build/sdk-layer/python, the folder each stack ships as one layer: Lambda puts /opt/python
ahead of the runtime's own libraries. Synth only reads that folder (no network, no Docker).

botocore/data holds a model for every AWS service (about 23 of the SDK's 27 MB and 2,000 of
its 2,250 files). Every synth fingerprints and copies an asset into its cloud assembly, so
the layer keeps the service folders botocore needs here and drops the rest:

- SERVICES_USED: the clients the handlers create (a test reads them from lambdas/);
- CREDENTIAL_SERVICES: the clients botocore's own credential providers may create (assume
  role, web identity, SSO, `aws login`). Lambda hands credentials over in the environment,
  so these are never reached there; they are kept because they cost 100 KB;
- every file at botocore/data's top level (endpoints.json, partitions.json, _retry.json,
  sdk-default-configuration.json): what botocore loads at client creation for any service.

A client for any other service fails at creation with UnknownServiceError, loudly. `build`
and `check` prove the folder works by creating each kept client in a separate interpreter
that sees only the layer (`python -I -S`).

Commands: `build [--target DIR]` (skips when the folder's stamp matches), `check [--target DIR]`
(exit 1 with the problems when the folder does not match lambdas/requirements.txt).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "lambdas" / "requirements.txt"
DEFAULT_TARGET = ROOT / ".build" / "sdk-layer"
# Inside the layer, at its root (it lands in /opt): which requirements and services built it.
STAMP_NAME = "sdk-layer.json"

SERVICES_USED = ("bedrock", "bedrock-runtime", "dynamodb", "s3", "sns", "sqs", "stepfunctions")
CREDENTIAL_SERVICES = ("signin", "sso", "sso-oidc", "sts")
KEPT_SERVICES = tuple(sorted({*SERVICES_USED, *CREDENTIAL_SERVICES}))

# The functions' runtime (stacks.constructs.functions: PYTHON_3_14 on ARM_64). The wheels are
# pure Python, so the platform only keeps pip from ever choosing a wheel built for this machine.
PYTHON_VERSION = "3.14"
PIP_OPTIONS = (
    "--platform",
    "manylinux2014_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    PYTHON_VERSION,
    "--only-binary=:all:",
    # Nothing compiled for this machine's Python: /opt is read-only in Lambda, which compiles in memory.
    "--no-compile",
)

Runner = Callable[[list[str]], None]


class SdkLayerError(RuntimeError):
    """The layer folder is missing, stale or broken, or lambdas/requirements.txt is malformed."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")


def pinned(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """{canonical name: version} of a requirements file whose every line pins one package."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(requirements.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise SdkLayerError(f"{requirements}:{number}: pin one package exactly (name==version), not {line!r}")
        pins[canonical(match[1])] = match[2]
    return pins


def pip_command(python_dir: Path, requirements: Path = REQUIREMENTS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(python_dir),
        *PIP_OPTIONS,
        "--requirement",
        str(requirements),
    ]


def expected_stamp(requirements: Path = REQUIREMENTS) -> dict:
    """What the folder must have been built from; any change rebuilds it."""
    return {
        "requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
        "kept_services": list(KEPT_SERVICES),
        "pip_options": list(PIP_OPTIONS),
    }


def read_stamp(target: Path) -> dict | None:
    try:
        return json.loads((target / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def _run_pip(command: list[str]) -> None:
    subprocess.run(command, check=True)


def build(target: Path | None = None, *, requirements: Path = REQUIREMENTS, runner: Runner = _run_pip) -> Path:
    """Install the pinned SDK into `target`/python, trimmed and verified; the folder to ship.

    Does nothing when the folder's stamp records the same requirements, services and pip
    options. Otherwise builds beside it and swaps the result in only once it is verified, so a
    failed build leaves the previous folder as it was.
    """
    target = Path(target or DEFAULT_TARGET)
    stamp = expected_stamp(requirements)
    if read_stamp(target) == stamp and (target / "python").is_dir():
        return target
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    runner(pip_command(staging / "python", requirements))
    prune(staging / "python")
    problems = _verify(staging, pinned(requirements))
    if problems:
        raise SdkLayerError("the SDK layer built wrong:\n  " + "\n  ".join(problems))
    (staging / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def prune(python_dir: Path) -> None:
    """Drop what Lambda never reads: other services' models, and files that name this machine."""
    data = python_dir / "botocore" / "data"
    for folder in data.iterdir():
        if folder.is_dir() and folder.name not in KEPT_SERVICES:
            shutil.rmtree(folder)
    # Console scripts, whose shebang names this machine's interpreter.
    shutil.rmtree(python_dir / "bin", ignore_errors=True)
    # RECORD lists the files removed above and hashes those scripts: the layer's content (and
    # so its asset hash) would differ per checkout path. Nothing at run time reads it.
    for record in python_dir.glob("*.dist-info/RECORD"):
        record.unlink()


def layer_dir(target: Path | None = None) -> Path:
    """The folder to ship as the layer's asset, once `make install` built it from the current
    lambdas/requirements.txt. Cheap: synth calls it; `check` is the thorough look."""
    target = Path(target or DEFAULT_TARGET)
    stamp = read_stamp(target)
    if stamp is None or not (target / "python").is_dir():
        raise SdkLayerError(f"no SDK layer at {target}: run make install (python -m tools.sdk_layer build)")
    if stamp != expected_stamp():
        raise SdkLayerError(
            f"the SDK layer at {target} was built from another lambdas/requirements.txt or list of "
            "services: run make install (python -m tools.sdk_layer build)"
        )
    return target


def check(target: Path | None = None, *, requirements: Path = REQUIREMENTS) -> list[str]:
    """What is wrong with the folder, compared with lambdas/requirements.txt ([] when nothing)."""
    target = Path(target or DEFAULT_TARGET)
    if not (target / "python").is_dir():
        return [f"no SDK layer at {target}: run make install (python -m tools.sdk_layer build)"]
    problems = []
    if read_stamp(target) != expected_stamp(requirements):
        problems.append(f"{target / STAMP_NAME} does not match {requirements.name} and the kept services")
    return problems + _verify(target, pinned(requirements))


def _verify(target: Path, pins: dict[str, str]) -> list[str]:
    python_dir = target / "python"
    problems = []
    installed = {
        canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions(path=[str(python_dir)])
    }
    if installed != pins:
        problems.append(f"installed {_pins_text(installed)}, but the requirements pin {_pins_text(pins)}")
    data = python_dir / "botocore" / "data"
    services = sorted(folder.name for folder in data.iterdir() if folder.is_dir()) if data.is_dir() else []
    if services != list(KEPT_SERVICES):
        problems.append(f"botocore/data holds {services}, not the kept services {list(KEPT_SERVICES)}")
    leftovers = [
        str(path.relative_to(target))
        for pattern in ("bin", "*.dist-info/RECORD", "**/__pycache__", "**/*.so")
        for path in python_dir.glob(pattern)
    ]
    if leftovers:
        problems.append(f"files a Lambda layer must not ship: {sorted(leftovers)[:5]}")
    return problems + _probe(python_dir, pins)


# Run by a separate interpreter that sees only the layer: no site-packages (-S), no PYTHON*
# variables or script folder (-I), no bytecode written into the folder (-B).
_PROBE = r"""
import json, sys
layer, services = sys.argv[1], sys.argv[2:]
sys.path.insert(0, layer)
import boto3, botocore
from botocore import xform_name
result = {"boto3": boto3.__version__, "botocore": botocore.__version__, "clients": {}, "errors": {},
          "loaded_from": sorted({m.__file__ for m in (boto3, botocore) if not m.__file__.startswith(layer)})}
for service in services:
    try:
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="probe", aws_secret_access_key="probe")
        operations = client.meta.service_model.operation_names
        client.waiter_names  # loads waiters-2.json where the service has one
        client.can_paginate(xform_name(operations[0]))  # loads paginators-1.json likewise
        result["clients"][service] = len(operations)
    except Exception as error:
        result["errors"][service] = f"{type(error).__name__}: {error}"
print(json.dumps(result))
"""


def probe(python_dir: Path, services: Sequence[str] = KEPT_SERVICES) -> dict:
    """Create each service's client from the layer alone; what it imported and what failed."""
    with tempfile.TemporaryDirectory() as home:
        # No ~/.aws (its models/ folder is on botocore's search path) and no profile of this machine.
        env = {
            "HOME": home,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        completed = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", _PROBE, str(python_dir), *services],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    if completed.returncode != 0:
        raise SdkLayerError(f"importing boto3 from {python_dir} failed:\n{completed.stderr.strip()}")
    return json.loads(completed.stdout)


def _probe(python_dir: Path, pins: dict[str, str]) -> list[str]:
    try:
        result = probe(python_dir)
    except SdkLayerError as error:
        return [str(error)]
    problems = [f"{service}: {error}" for service, error in result["errors"].items()]
    if result["loaded_from"]:
        problems.append(f"boto3/botocore imported from outside the layer: {result['loaded_from']}")
    for name in ("boto3", "botocore"):
        if result[name] != pins.get(name):
            problems.append(f"{name} {result[name]} imported, {pins.get(name)} pinned")
    return problems


def _pins_text(pins: dict[str, str]) -> str:
    return ", ".join(f"{name}=={version}" for name, version in sorted(pins.items())) or "nothing"


def _size(folder: Path) -> tuple[int, float]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sdk_layer", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--target", type=Path, default=DEFAULT_TARGET, help="the layer folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            problems = check(args.target)
            for problem in problems:
                print(f"sdk layer: {problem}", file=sys.stderr)
            if not problems:
                print(f"sdk layer: {args.target} matches {REQUIREMENTS.relative_to(ROOT)}")
            return 1 if problems else 0
        up_to_date = read_stamp(args.target) == expected_stamp() and (args.target / "python").is_dir()
        target = build(args.target)
        files, megabytes = _size(target)
        state = "up to date" if up_to_date else "built"
        print(f"sdk layer: {state}: {target} ({files} files, {megabytes:.1f} MB, services {', '.join(KEPT_SERVICES)})")
        return 0
    except (SdkLayerError, subprocess.CalledProcessError) as error:
        print(f"sdk layer: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
