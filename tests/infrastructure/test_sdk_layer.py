"""The SDK layer: the Lambda functions run the boto3 and botocore the tests ran.

No network here: `build` runs with an injected pip that copies the venv's installed files of
each pinned distribution (these are pure-Python wheels, so the venv holds exactly what pip
would unpack). The folder `make install` built with the real pip is checked when present.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from tests.conftest import ROOT
from tools import sdk_layer
from tools.sdk_layer import KEPT_SERVICES, SERVICES_USED, SdkLayerError

# What the Lambda runtime is, for evaluating dependency markers (pip evaluates them for the
# interpreter running it, whatever --python-version says).
LAMBDA_ENVIRONMENT = {
    "python_version": sdk_layer.PYTHON_VERSION,
    "python_full_version": f"{sdk_layer.PYTHON_VERSION}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "extra": "",
}


def _root_pin(name: str) -> str:
    """The version requirements.txt pins `name` to."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(rf"^{re.escape(name)}==(\S+)", line.strip())
        if match:
            return match[1]
    raise AssertionError(f"requirements.txt pins no {name}")


class VenvPip:
    """Stands in for `pip install --target`: copies each pinned distribution's installed files
    from the venv, as pip lays out a wheel (console scripts in bin/, no bytecode)."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str]) -> None:
        self.commands.append(command)
        target = Path(command[command.index("--target") + 1])
        requirements = Path(command[command.index("--requirement") + 1])
        for name, version in sdk_layer.pinned(requirements).items():
            distribution = metadata.distribution(name)
            assert distribution.version == version, f"the venv has {name} {distribution.version}, not {version}"
            for file in distribution.files or []:
                if file.suffix == ".pyc" or "__pycache__" in file.parts:
                    continue
                relative = Path("bin", file.name) if ".." in file.parts else Path(file)
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(distribution.locate_file(file)), destination)


def _refuse(command: list[str]) -> None:
    raise AssertionError(f"pip ran again: {command}")


class Rebuilt(Exception):
    pass


def _rebuilt(command: list[str]) -> None:
    raise Rebuilt


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VenvPip]:
    pip = VenvPip()
    target = sdk_layer.build(tmp_path_factory.mktemp("build") / "sdk-layer", runner=pip)
    return target, pip


def test_lambda_requirements_pin_boto3_as_requirements_txt_does_and_the_rest_as_the_venv_has_them():
    pins = sdk_layer.pinned()

    assert pins["boto3"] == _root_pin("boto3")
    drifted = {
        name: (version, metadata.version(name)) for name, version in pins.items() if metadata.version(name) != version
    }
    assert drifted == {}, "lambdas/requirements.txt (pinned, venv): update the pins or the venv (make install)"


def test_lambda_requirements_pin_the_whole_sdk_and_nothing_else():
    needed, queue = set(), ["boto3"]
    while queue:
        name = sdk_layer.canonical(queue.pop())
        if name in needed:
            continue
        needed.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or Marker(str(requirement.marker)).evaluate(LAMBDA_ENVIRONMENT):
                queue.append(requirement.name)

    assert set(sdk_layer.pinned()) == needed


def test_the_layer_targets_the_functions_runtime():
    from stacks.constructs.functions import RUNTIME

    assert RUNTIME.name == f"python{sdk_layer.PYTHON_VERSION}"


def test_build_installs_pure_python_wheels_for_the_lambda_platform_into_python(built):
    target, pip = built
    [command] = pip.commands

    assert command[command.index("--target") + 1] == str(target.with_name(".sdk-layer.partial") / "python")
    for option in ("--only-binary=:all:", "--no-compile"):
        assert option in command
    for option, value in {
        "--platform": "manylinux2014_aarch64",
        "--implementation": "cp",
        "--python-version": "3.14",
        "--requirement": str(sdk_layer.REQUIREMENTS),
    }.items():
        assert command[command.index(option) + 1] == value
    assert sorted(path.name for path in target.iterdir()) == sorted(["python", sdk_layer.STAMP_NAME])
    assert not target.with_name(".sdk-layer.partial").exists()


def test_the_built_layer_holds_the_pinned_sdk_with_the_bedrock_operations_the_pipeline_calls(built):
    target, _ = built
    python = target / "python"
    versions = {sdk_layer.canonical(d.metadata["Name"]): d.version for d in metadata.distributions(path=[str(python)])}
    [bedrock_model] = (python / "botocore" / "data" / "bedrock").glob("*/service-2.json.gz")
    model = json.loads(gzip.decompress(bedrock_model.read_bytes()))

    assert versions == sdk_layer.pinned()
    assert versions["boto3"] == _root_pin("boto3")
    assert versions["botocore"] == metadata.version("botocore")
    assert "CreateCustomModelDeployment" in model["operations"]
    assert "customizationConfig" in model["shapes"]["CreateModelCustomizationJobRequest"]["members"]
    assert sdk_layer.check(target) == []


def test_the_layer_keeps_only_the_services_botocore_needs_here_and_nothing_machine_specific(built):
    target, _ = built
    data = target / "python" / "botocore" / "data"

    assert sorted(path.name for path in data.iterdir() if path.is_dir()) == list(KEPT_SERVICES)
    assert {path.name for path in data.iterdir() if path.is_file()} >= {
        "endpoints.json",
        "partitions.json",
        "_retry.json",
        "sdk-default-configuration.json",
    }
    assert not (target / "python" / "bin").exists()
    assert list(target.rglob("RECORD")) == [] and list(target.rglob("__pycache__")) == []
    assert list(target.rglob("*.so")) == [], "pure-Python wheels only: the layer is built on another platform"


# One call each handler makes, per service: serialized, endpoint resolved and signed by the
# layer's botocore, then stopped before it is sent.
REQUESTS = {
    "bedrock": (
        "create_custom_model_deployment",
        {"modelDeploymentName": "run-1", "modelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/m/abc"},
    ),
    "bedrock-runtime": (
        "converse",
        {"modelId": "amazon.nova-micro-v1:0", "messages": [{"role": "user", "content": [{"text": "hi"}]}]},
    ),
    "s3": ("get_object", {"Bucket": "datasets", "Key": "runs/a.jsonl"}),
    "sns": ("publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:notifications", "Message": "done"}),
    "stepfunctions": (
        "start_execution",
        {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline", "input": "{}"},
    ),
    "dynamodb": (
        "update_item",
        {
            "TableName": "coordination",
            "Key": {"pk": {"S": "run-slots"}},
            "UpdateExpression": "DELETE holders :me",
            "ExpressionAttributeValues": {":me": {"SS": ["run-1"]}},
        },
    ),
    "sqs": (
        "send_message",
        {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters", "MessageBody": "{}"},
    ),
}

SEND = r"""
import json, sys
layer, requests = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, layer)
import boto3, botocore
assert botocore.__file__.startswith(layer), botocore.__file__
class Stopped(Exception):
    pass
def stop(request, **kwargs):
    raise Stopped(request.url)
sent = {}
for service, (operation, params) in requests.items():
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="s")
    client.meta.events.register("before-send", stop)
    try:
        getattr(client, operation)(**params)
    except Stopped as stopped:
        sent[service] = str(stopped)
try:
    boto3.client("ec2", region_name="us-east-1")
except botocore.exceptions.UnknownServiceError as error:
    sent["ec2"] = type(error).__name__
print(json.dumps(sent))
"""


def test_each_used_service_sends_a_request_from_the_trimmed_layer_alone(built, tmp_path):
    target, _ = built
    assert set(REQUESTS) == set(SERVICES_USED), "add one representative call per service in SERVICES_USED"

    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", SEND, str(target / "python"), json.dumps(REQUESTS)],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull},
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    sent = json.loads(completed.stdout)
    assert sent.pop("ec2") == "UnknownServiceError", "a service outside the layer fails at client creation"
    assert sent == {
        "bedrock": "https://bedrock.us-east-1.amazonaws.com/model-customization/custom-model-deployments",
        "bedrock-runtime": "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-micro-v1%3A0/converse",
        "s3": "https://datasets.s3.amazonaws.com/runs/a.jsonl",
        "sns": "https://sns.us-east-1.amazonaws.com/",
        "stepfunctions": "https://states.us-east-1.amazonaws.com/",
        "dynamodb": "https://dynamodb.us-east-1.amazonaws.com/",
        "sqs": "https://sqs.us-east-1.amazonaws.com/",
    }


def test_every_client_the_functions_create_is_one_the_layer_keeps():
    """A client for a service outside SERVICES_USED would fail in production only."""
    created, computed = set(), set()
    for path in sorted((ROOT / "lambdas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in {"client", "resource", "create_client"}:
                continue
            service = (
                node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "service_name"), None)
            )
            if isinstance(service, ast.Constant) and isinstance(service.value, str):
                created.add(service.value)
            else:
                computed.add(str(path.relative_to(ROOT)))

    assert created == set(SERVICES_USED)
    # The one place a service name is a variable: customization.runtime.client(service).
    assert computed == {"lambdas/customization/runtime.py"}


def test_a_built_layer_is_not_rebuilt_until_its_requirements_change(built, tmp_path):
    target, _ = built
    edited = tmp_path / "requirements.txt"
    edited.write_text(sdk_layer.REQUIREMENTS.read_text() + "# edited\n")

    assert sdk_layer.build(target, runner=_refuse) == target
    with pytest.raises(Rebuilt):
        sdk_layer.build(target, requirements=edited, runner=_rebuilt)
    assert sdk_layer.check(target) == [], "a failed rebuild leaves the previous layer as it was"


def test_check_names_what_is_wrong_with_a_damaged_layer(built, tmp_path):
    target, _ = built
    damaged = shutil.copytree(target, tmp_path / "sdk-layer")
    shutil.rmtree(damaged / "python" / "botocore" / "data" / "sns")
    shutil.rmtree(damaged / "python" / "six-1.17.0.dist-info")

    problems = "\n".join(sdk_layer.check(damaged))

    assert "not the kept services" in problems
    assert "but the requirements pin" in problems and "six==1.17.0" in problems


def test_layer_dir_asks_for_make_install_when_the_layer_is_missing_or_stale(built, tmp_path):
    target, _ = built
    stale = shutil.copytree(target, tmp_path / "stale")
    (stale / sdk_layer.STAMP_NAME).write_text(json.dumps({"requirements_sha256": "0" * 64}))

    assert sdk_layer.layer_dir(target) == target
    with pytest.raises(SdkLayerError, match=r"no SDK layer at .*: run make install"):
        sdk_layer.layer_dir(tmp_path / "absent")
    with pytest.raises(SdkLayerError, match=r"another lambdas/requirements\.txt .*: run make install"):
        sdk_layer.layer_dir(stale)


def _command(*args: str) -> subprocess.CompletedProcess:
    # No index: a cache miss would have pip fail here instead of reaching the network.
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tools.sdk_layer", *args], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )


def test_the_commands_as_make_install_and_a_user_run_them(built, tmp_path):
    target, _ = built

    build = _command("build", "--target", str(target))
    check = _command("check", "--target", str(target))
    missing = _command("check", "--target", str(tmp_path / "absent"))

    assert (build.returncode, check.returncode, missing.returncode) == (0, 0, 1), build.stderr + check.stderr
    assert build.stdout.startswith(f"sdk layer: up to date: {target} (")
    assert "run make install" in missing.stderr


def test_the_layer_make_install_built_matches_lambdas_requirements():
    if not sdk_layer.DEFAULT_TARGET.is_dir():
        pytest.skip("no .build/sdk-layer: `make install` builds it with pip from PyPI (the tests above build offline)")

    assert sdk_layer.check() == []
