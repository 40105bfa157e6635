"""The role Bedrock assumes: trusted narrowly, reading and writing only where jobs need to."""

from __future__ import annotations

import pytest

from tests.conftest import ENVIRONMENTS, STACK_PARTS


def _role(synthesized, environment: str) -> dict:
    roles = synthesized.template(environment, "Pipeline").find_resources("AWS::IAM::Role")
    assert len(roles) == 1
    return next(iter(roles.values()))["Properties"]


def _statements(synthesized, environment: str) -> dict[str, dict]:
    policies = synthesized.template(environment, "Pipeline").find_resources("AWS::IAM::ManagedPolicy")
    assert len(policies) == 1
    policy = next(iter(policies.values()))["Properties"]
    role_id = next(iter(synthesized.template(environment, "Pipeline").find_resources("AWS::IAM::Role")))
    assert policy["Roles"] == [{"Ref": role_id}]
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


def _storage_output(synthesized, environment: str, statement_resource) -> str:
    """The construct path of the Storage resource a weak cross-stack reference points at."""
    return synthesized.assembly.readable(
        statement_resource, synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_bedrock_jobs_of_this_account_and_region_may_assume_it(synthesized, environment):
    config = synthesized.environments[environment].config
    account = config.account or {"Ref": "AWS::AccountId"}
    job_arn = (
        f"arn:aws:bedrock:{config.region}:{config.account}:model-customization-job/*"
        if config.pinned
        else {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":bedrock:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":model-customization-job/*",
                ],
            ]
        }
    )

    assert _role(synthesized, environment)["AssumeRolePolicyDocument"] == {
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnEquals": {"aws:SourceArn": job_arn},
                },
            }
        ],
        "Version": "2012-10-17",
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_it_reads_only_the_dataset_and_prepared_prefixes(synthesized, environment):
    statements = _statements(synthesized, environment)
    read = statements["ReadTrainingAndValidationData"]
    listing = statements["ListTrainingAndValidationData"]

    assert read["Action"] == "s3:GetObject"
    assert [_storage_output(synthesized, environment, r) for r in read["Resource"]] == [
        "Storage/DataBucket.Arn/datasets/*",
        "Storage/DataBucket.Arn/prepared/*",
    ]
    assert listing["Action"] == "s3:ListBucket"
    assert _storage_output(synthesized, environment, listing["Resource"]) == "Storage/DataBucket.Arn"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["datasets/*", "prepared/*"]}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_it_writes_only_under_the_job_output_prefix(synthesized, environment):
    statements = _statements(synthesized, environment)
    write = statements["WriteModelArtifacts"]

    assert sorted(write["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert _storage_output(synthesized, environment, write["Resource"]) == "Storage/OutputBucket.Arn/jobs/*"
    writers = [s for s in statements.values() if "s3:PutObject" in s["Action"]]
    assert writers == [write], "no other statement may write"
    assert statements["ListModelArtifacts"]["Condition"] == {"StringLike": {"s3:prefix": ["jobs/*"]}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_key_is_usable_only_through_s3_and_bedrock_in_the_region(synthesized, environment):
    kms = _statements(synthesized, environment)["UseDataKeyThroughS3AndBedrock"]
    config = synthesized.environments[environment].config
    region = config.region if config.pinned else None

    assert sorted(kms["Action"]) == ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    assert _storage_output(synthesized, environment, kms["Resource"]) == "Storage/DataKey.Arn"
    via = kms["Condition"]["StringEquals"]["kms:ViaService"]
    if region:
        assert via == [f"bedrock.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"]
    else:
        assert via == [
            {"Fn::Join": ["", ["bedrock.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
            {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
        ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_inline_policies_and_nothing_else_attached(synthesized, environment):
    role = _role(synthesized, environment)
    template = synthesized.template(environment, "Pipeline")

    assert "Policies" not in role
    assert "ManagedPolicyArns" not in role
    template.resource_count_is("AWS::IAM::Policy", 0)
    assert "RoleName" not in role, "physical names block a second deployment in the account"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("part", STACK_PARTS)
def test_no_wildcard_action_and_no_star_resource_in_any_project_policy(synthesized, environment, part):
    """Covers every identity policy we write; CDK's own dev-only auto-delete role is listed in docs/iam.md."""
    template = synthesized.raw(environment, part)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert not [a for a in actions if "*" in a], f"{logical_id}: wildcard action in {statement}"
            assert "*" not in resources, f"{logical_id}: Resource '*' in {statement}"
