"""`python -m tools invoke` against emulated AWS: CloudFormation outputs and Step Functions
executions in moto, Bedrock and its runtime in the local run's emulation."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import boto3
import pytest
from moto import mock_aws

from customization.naming import run_names
from tests.aws_world import REGION, UPLOAD, trained_model
from tests.aws_world import deploy_outputs as _deploy_outputs
from tools.invoke import run as invoke
from tools.local_run.bedrock import BedrockEmulator, Behaviour, SimulatedClock

QUESTION = "Classify this e-mail: You won a prize!"


def _aws():
    return mock_aws(config={"stepfunctions": {"execute_state_machine": True}})


class Session:
    """boto3 for moto's services; Bedrock and its runtime from the emulation."""

    def __init__(self, emulator: BedrockEmulator) -> None:
        self.region_name = REGION
        self._clients = {"bedrock": emulator.client(), "bedrock-runtime": emulator.client("bedrock-runtime")}

    def client(self, service: str, config=None):
        return self._clients.get(service) or boto3.client(service, region_name=REGION)


def _world(environment: str = "dev", serving_minutes: float = 20, serve: bool = True, output: dict | None = None):
    """A finished run of `environment` (dev serves on demand, prod with throughput)."""
    clock = SimulatedClock(dt.datetime.now(dt.UTC) - dt.timedelta(hours=8))
    emulator = BedrockEmulator(
        clock=clock,
        region=REGION,
        behaviour=Behaviour(serving_minutes=serving_minutes, custom_accuracy=1.0),
        answers={QUESTION: "spam"},
        base_models=frozenset({"amazon.nova-micro-v1:0"}),
    )
    bedrock = emulator.client()
    names = run_names(environment, UPLOAD["bucket"], UPLOAD["key"], UPLOAD["versionId"])
    model_arn = trained_model(emulator, names, "amazon.nova-micro-v1:0:128k")
    if serve and environment == "dev":
        bedrock.create_custom_model_deployment(modelDeploymentName=names.deployment_name, modelArn=model_arn)
    elif serve:
        bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=names.provisioned_model_name, modelId=model_arn
        )
    clock.sleep(30 * 60)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    # A finished run: its output is what the Pass state returns (the run's state, as the real one ends).
    finished = {
        "StartAt": "Done",
        "States": {"Done": {"Type": "Pass", "Result": {"upload": UPLOAD, **(output or {})}, "End": True}},
    }
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(finished), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    _deploy_outputs(environment, machine)
    execution = sfn.start_execution(
        stateMachineArn=machine, name=names.execution_name, input=json.dumps({"upload": UPLOAD})
    )["executionArn"]
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
    return emulator, names, model_arn


def _args(**values) -> argparse.Namespace:
    defaults = {"env": "dev", "json": False, "run_name": None, "model": None, "system": None, "max_tokens": 64}
    return argparse.Namespace(prompt=QUESTION, **{**defaults, **values})


def test_a_runs_served_model_answers_with_latency_and_tokens(capsys):
    with _aws():
        emulator, names, _ = _world()

        assert invoke(_args(run_name=names.execution_name), Session(emulator)) == 0
        out = capsys.readouterr().out.splitlines()

        assert out[0] == "spam"
        assert out[2].startswith("model arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/")
        assert out[2].endswith(f"(run {names.execution_name})")
        assert out[3].startswith("latency ") and " ms, tokens " in out[3]
        [call] = [c for c in emulator.calls if c["operation"] == "Converse"]
        assert call["summary"].startswith("Converse arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/")


def test_json_output_and_a_system_prompt(capsys):
    with _aws():
        emulator, names, _ = _world(environment="prod")

        assert (
            invoke(_args(env="prod", run_name=names.execution_name, json=True, system="One word."), Session(emulator))
            == 0
        )
        result = json.loads(capsys.readouterr().out)

        assert result["answer"] == "spam" and result["run"] == names.execution_name
        assert result["model"].startswith("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/")
        assert result["latencyMs"] > 0 and result["inputTokens"] > 0 and result["outputTokens"] > 0
        assert result["retries"] == 0


def test_a_model_arn_is_invoked_directly_and_a_custom_model_through_its_serving(capsys):
    with _aws():
        emulator, _, model_arn = _world()
        [deployment] = emulator.billed_servings()

        assert invoke(_args(model=deployment), Session(emulator)) == 0
        assert invoke(_args(model=model_arn, json=True), Session(emulator)) == 0
        assert invoke(_args(model="amazon.nova-micro-v1:0", json=True), Session(emulator)) == 0
        outputs = capsys.readouterr().out

        assert outputs.startswith("spam\n--\nmodel " + deployment)
        # The custom model's ARN resolves to the deployment that serves it.
        assert f'"model": "{deployment}"' in outputs
        assert '"model": "amazon.nova-micro-v1:0"' in outputs


@pytest.mark.parametrize(
    ("world", "args", "message"),
    [
        (
            {
                "serve": False,
                "output": {"retired": {"deleted": True}, "evaluation": {"headline": "NOT PROMOTED: 0.2 vs 0.6"}},
            },
            {},
            "its model was not promoted and its serving was deleted (NOT PROMOTED: 0.2 vs 0.6)",
        ),
        (
            {"serve": False, "output": {"validation": {"settings": {"servingMode": "none"}}}},
            {},
            "has no served model: its job.json skips serving",
        ),
        ({"serving_minutes": 120}, {}, "is Creating, not Active yet: try again in a few minutes"),
        ({}, {"run_name": "no-such-run"}, "no run 'no-such-run' in dev: see python -m tools status --env dev"),
    ],
    ids=["not-promoted", "serving-skipped", "not-ready", "unknown-run"],
)
def test_a_run_without_a_ready_model_is_a_clear_error(capsys, world, args, message):
    with _aws():
        emulator, names, _ = _world(**world)

        assert invoke(_args(**{"run_name": names.execution_name, **args}), Session(emulator)) == 2
        err = capsys.readouterr().err

        assert message in err and err.startswith("error: ") and err.count("\n") == 1
        assert not [c for c in emulator.calls if c["operation"] == "Converse"], "nothing is invoked"


def test_a_custom_model_that_is_not_served_cannot_be_invoked(capsys):
    with _aws():
        emulator, _, model_arn = _world(serve=False)

        assert invoke(_args(model=model_arn), Session(emulator)) == 2

        assert "is not served: a custom model answers through provisioned throughput" in capsys.readouterr().err


def test_a_model_the_runtime_rejects_is_one_line_and_exit_2(capsys):
    with _aws():
        emulator, _, _ = _world()

        assert invoke(_args(model="amazon.nova-pro-v1:0"), Session(emulator)) == 2

        assert (
            "amazon.nova-pro-v1:0 refused the request: ValidationException: The provided model identifier is invalid."
            in (capsys.readouterr().err)
        )


def test_an_environment_that_is_not_deployed_exits_2(capsys):
    with _aws():
        emulator, names, _ = _world()

        assert invoke(_args(env="prod", run_name=names.execution_name), Session(emulator)) == 2

        assert "BedrockCustomization-prod-Storage is not deployed" in capsys.readouterr().err


def test_the_command_is_registered_with_its_arguments(capsys):
    from tools.__main__ import main

    with pytest.raises(SystemExit):
        main(["invoke", "--help"])
    help_text = capsys.readouterr().out

    for option in ("--env", "--run", "--model", "--system", "--max-tokens", "--json"):
        assert option in help_text


def test_a_model_arn_that_is_not_ready_or_gone_is_a_clear_error(capsys):
    with _aws():
        emulator, _, _ = _world(serving_minutes=120)
        [deployment] = emulator.billed_servings()

        assert invoke(_args(model=deployment), Session(emulator)) == 2
        not_ready = capsys.readouterr().err
        emulator.client().delete_custom_model_deployment(customModelDeploymentIdentifier=deployment)
        assert invoke(_args(model=deployment), Session(emulator)) == 2
        gone = capsys.readouterr().err

    assert not_ready == f"error: {deployment} is Creating, not Active yet: try again in a few minutes\n"
    assert gone == f"error: {deployment} does not exist in this account and region (deleted?)\n"
