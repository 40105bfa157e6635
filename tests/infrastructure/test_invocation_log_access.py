"""The customization role's access to invocation logs: GetObject on exactly the environment's
prefixes, ListBucket on their buckets for those prefixes only, both in this account's buckets
(s3:ResourceAccount), kms:Decrypt through S3 for a named key; nothing at all by default; and
every cdk-nag pack stays clean with the feature on."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from stacks.config import cdk_json_context
from tools.synth import PolicyTooLarge, build_app, synthesize

PREFIXES = ["s3://team-bedrock-logs/bedrock/AWSLogs/", "s3://team-bedrock-logs/eu/", "s3://audit-logs/bedrock/"]
KEY = "arn:aws:kms:us-east-1:111122223333:key/1b4e2c4e-1111-4a4a-9b9b-123456789012"


def _synthesized(tmp_path, environment: str = "prod", **customization):
    environments = json.loads(json.dumps(cdk_json_context()["environments"]))
    environments[environment]["customization"].update(customization)
    app, [stacks] = build_app(
        tmp_path, environment=environment, nag=False, context_overrides={"environments": environments}
    )
    policy = stacks.pipeline.customization_role.policy
    statements = {s["Sid"]: s for s in Stack.of(policy).resolve(policy.document.to_json())["Statement"]}
    return app, stacks, statements


@pytest.fixture(scope="module")
def with_logs(tmp_path_factory):
    return _synthesized(
        tmp_path_factory.mktemp("logs"),
        teacherModels=["amazon.nova-pro-v1:0"],
        invocationLogPrefixes=PREFIXES,
        invocationLogKeyArn=KEY,
    )


def test_the_role_reads_exactly_the_allowed_prefixes_in_this_accounts_buckets(with_logs):
    _, stacks, statements = with_logs
    this_account = {"s3:ResourceAccount": "111122223333"}

    read = statements["ReadInvocationLogs"]
    assert read["Action"] == "s3:GetObject"
    assert sorted(read["Resource"]) == sorted(
        [
            "arn:aws:s3:::team-bedrock-logs/bedrock/AWSLogs/*",
            "arn:aws:s3:::team-bedrock-logs/eu/*",
            "arn:aws:s3:::audit-logs/bedrock/*",
        ]
    )
    assert read["Condition"] == {"StringEquals": this_account}
    team = statements["ListInvocationLogsTeamBedrockLogs"]
    assert team["Action"] == "s3:ListBucket" and team["Resource"] == "arn:aws:s3:::team-bedrock-logs"
    assert team["Condition"] == {
        "StringEquals": this_account,
        "StringLike": {"s3:prefix": ["bedrock/AWSLogs/*", "eu/*"]},
    }
    audit = statements["ListInvocationLogsAuditLogs"]
    assert audit["Condition"]["StringLike"] == {"s3:prefix": "bedrock/*"} or audit["Condition"]["StringLike"] == {
        "s3:prefix": ["bedrock/*"]
    }
    decrypt = statements["DecryptInvocationLogsThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == KEY
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert stacks.pipeline.customization_role.role is not None


def test_the_start_job_function_knows_the_prefixes(with_logs):
    app, stacks, _ = with_logs
    assembly = app.synth()
    pipeline = assembly.get_stack_by_name(stacks.pipeline.stack_name).template
    variables = [
        resource["Properties"].get("Environment", {}).get("Variables", {})
        for resource in pipeline["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    assert any(json.loads(v.get("INVOCATION_LOG_PREFIXES", "[]")) == PREFIXES for v in variables)


@pytest.mark.parametrize("pack", [AwsSolutionsChecks, ServerlessChecks, NIST80053R5Checks], ids=lambda p: p.__name__)
def test_cdk_nag_stays_clean_with_the_feature_on(with_logs, pack):
    app, _, _ = with_logs
    app.synth()

    report = pack(app).validate_scope(app)

    assert [v.rule_name for v in report.violations] == []


def test_an_environment_without_prefixes_grants_nothing_for_logs(tmp_path):
    _, _, statements = _synthesized(tmp_path)

    assert not [sid for sid in statements if "InvocationLogs" in sid]


def test_synth_refuses_a_role_policy_iam_would_refuse_naming_it(tmp_path):
    # How each shape of prefix counts is the measure's (tests/unit/test_policy_size.py); here, that
    # synth applies it to the role the prefixes grow.
    prefixes = [f"s3://team-{i % 3}-bedrock-invocation-logs/bedrock/AWSLogs/111122223333/{i:03}/" for i in range(40)]
    environments = json.loads(json.dumps(cdk_json_context()["environments"]))
    environments["dev"]["customization"].update(teacherModels=["amazon.nova-pro-v1:0"], invocationLogPrefixes=prefixes)

    with pytest.raises(PolicyTooLarge) as refused:
        synthesize(tmp_path, environment="dev", nag=False, context_overrides={"environments": environments})

    message = str(refused.value)
    assert not (tmp_path / "manifest.json").exists()
    assert "managed policy" in message and "CustomizationServiceRole/Policy takes about" in message
    assert "over IAM's 6,144 for a managed policy" in message
    assert "customization.invocationLogPrefixes" in message
