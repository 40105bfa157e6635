"""What the EvaluateModel function may do: read validation files, write reports, and invoke
exactly the run's serving and the environment's base models (nothing else in Bedrock)."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack

from customization.catalog import load_catalog
from stacks.config import cdk_json_context
from tests.conftest import ENVIRONMENTS


def _statements(stack) -> list[dict]:
    [policy] = [
        r
        for i, r in stack.resources.items()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and stack.construct_path(i).endswith("/EvaluateModel/Policy")
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _by_action(statements: list[dict]) -> dict[str, list]:
    found: dict[str, list] = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            found.setdefault(action, []).extend(resources)
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_evaluation_invokes_only_the_runs_serving_and_the_allowed_base_models(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    config = synthesized.environments[environment].config
    granted = _by_action(_statements(stack))
    invoked = json.dumps(granted["bedrock:InvokeModel"])

    serving = "provisioned-model/*" if config.serving.mode == "provisioned" else "custom-model-deployment/*"
    assert serving in invoked
    assert ("custom-model/*" in invoked) == (config.serving.mode == "on-demand")
    invocations = [load_catalog().model(m).invocation for m in config.customization.allowed_base_models]
    foundation = [r for r in granted["bedrock:InvokeModel"] if "foundation-model" in json.dumps(r)]
    assert len(foundation) == len(invocations)
    for invocation in invocations:
        assert f"::foundation-model/{invocation.base_model_id}" in invoked
        if invocation.inference_profile:  # dev's Nova 2 Lite: only through the US profile
            assert f"inference-profile/{invocation.model_id}" in invoked
    # Reads validation files, writes reports: nothing else in the data bucket.
    assert "/prepared/*" in json.dumps(granted["s3:GetObject"]) and len(granted["s3:GetObject"]) == 1
    assert "/reports/*" in json.dumps(granted["s3:PutObject"]) and len(granted["s3:PutObject"]) == 1
    assert not [a for a in granted if a.startswith("bedrock:") and a != "bedrock:InvokeModel"]


def test_a_base_model_behind_an_inference_profile_is_granted_through_that_profile(tmp_path):
    from tools.synth import build_app

    environments = cdk_json_context()["environments"]
    nova2 = {**environments["prod"], "customization": {"baseModel": "amazon.nova-2-lite-v1:0:256k"}}
    _app, [stacks] = build_app(
        tmp_path, environment="prod", nag=False, context_overrides={"environments": {**environments, "prod": nova2}}
    )
    function = stacks.pipeline.evaluation.function
    document = Stack.of(function).resolve(function.policy.document.to_json())
    [served, invoke, through_profile] = [s for s in document["Statement"] if s["Action"] == "bedrock:InvokeModel"]
    profile = "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-2-lite-v1:0"

    # The served model only if it carries this environment's tags; the profile as AWS offers it.
    assert served["Resource"] == "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/*"
    assert served["Condition"] == {
        "StringEquals": {"aws:ResourceTag/project": "BedrockCustomization", "aws:ResourceTag/environment": "prod"}
    }
    assert invoke["Resource"] == profile
    assert "Condition" not in invoke
    # The US profile routes to the model in any US Region: this one model, in all of them,
    # and only when the request comes through the profile.
    assert through_profile["Resource"] == "arn:aws:bedrock:*::foundation-model/amazon.nova-2-lite-v1:0"
    assert through_profile["Condition"] == {"StringLike": {"bedrock:InferenceProfileArn": profile}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_evaluation_may_decrypt_the_custom_model_through_bedrock_and_its_data_through_s3(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    [kms] = [s for s in _statements(stack) if "kms:Decrypt" in s["Action"]]

    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "DataKey" in json.dumps(kms["Resource"])  # the data key only, by its ARN
    region = synthesized.environments[environment].config.region or "<region>"
    services = [_joined(service) for service in kms["Condition"]["StringEquals"]["kms:ViaService"]]

    assert services == [f"s3.{region}.amazonaws.com", f"bedrock.{region}.amazonaws.com"]


def _joined(value) -> str:
    """A template string, with an unpinned environment's region reference shown as <region>."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Region"}:
        return "<region>"
    delimiter, parts = value["Fn::Join"]
    return delimiter.join(_joined(part) for part in parts)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_creating_serving_may_check_the_model_and_use_its_key_only_through_bedrock(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    [policy] = [
        r
        for i, r in stack.resources.items()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and stack.construct_path(i).endswith("/CreateServing/Policy")
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action = _by_action(statements)
    region = synthesized.environments[environment].config.region or "<region>"

    assert "custom-model/*" in json.dumps(by_action["bedrock:GetCustomModel"])
    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"):
        [statement] = [s for s in statements if action in s["Action"] or s["Action"] == action]
        assert "DataKey" in json.dumps(statement["Resource"])
        assert _joined(statement["Condition"]["StringEquals"]["kms:ViaService"]) == f"bedrock.{region}.amazonaws.com"
    [grant] = [s for s in statements if s["Action"] == "kms:CreateGrant"]
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
