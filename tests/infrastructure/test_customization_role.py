"""The role Bedrock assumes: trusted narrowly, reading and writing only where jobs need to."""

from __future__ import annotations

import pytest

from tests.conftest import ENVIRONMENTS, STACK_PARTS


def _by_path(synthesized, environment: str, path: str) -> tuple[str, dict]:
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    matches = [(i, r) for i, r in stack.resources.items() if stack.construct_path(i) == path]
    assert len(matches) == 1, f"expected one resource at {path}"
    return matches[0]


def _role(synthesized, environment: str) -> dict:
    return _by_path(synthesized, environment, "CustomizationServiceRole/Role")[1]["Properties"]


def _statements(synthesized, environment: str) -> dict[str, dict]:
    policy = _by_path(synthesized, environment, "CustomizationServiceRole/Policy")[1]["Properties"]
    role_id, _ = _by_path(synthesized, environment, "CustomizationServiceRole/Role")
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

    grants = _statements(synthesized, environment)["GrantsForBedrockOnly"]

    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    assert _storage_output(synthesized, environment, kms["Resource"]) == "Storage/DataKey.Arn"
    # Grants only for the services' own use of the key, never for the role to hand out.
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Resource"] == kms["Resource"]
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert grants["Condition"]["StringEquals"] == kms["Condition"]["StringEquals"]
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


# The only actions allowed on Resource "*": they take no resource-level permissions.
STAR_RESOURCE_ACTIONS = {
    # No resource types (Service Authorization Reference, Step Functions): WatchJob answers only
    # the tokens this environment's table holds.
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "bedrock:ListModelCustomizationJobs",
    "bedrock:ListProvisionedModelThroughputs",
    "bedrock:ListCustomModelDeployments",
    "bedrock:ListCustomModels",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("part", STACK_PARTS)
def test_no_wildcard_action_and_star_resource_only_where_aws_allows_nothing_narrower(synthesized, environment, part):
    """Covers every identity policy we write; CDK's own dev-only auto-delete role is listed in docs/iam.md."""
    template = synthesized.raw(environment, part)
    policies = [
        (i, r) for i, r in template["Resources"].items() if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
    ]
    assert policies or part == "Storage"
    for logical_id, resource in policies:
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert not [a for a in actions if "*" in a], f"{logical_id}: wildcard action in {statement}"
            if "*" in resources:
                assert set(actions) <= STAR_RESOURCE_ACTIONS, f"{logical_id}: Resource '*' in {statement}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_inline_policy_anywhere_in_the_pipeline(synthesized, environment):
    template = synthesized.raw(environment, "Pipeline")

    assert not [i for i, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy"]
    assert not [i for i, r in template["Resources"].items() if r.get("Properties", {}).get("Policies")]


def test_a_vpc_job_role_has_the_statements_aws_documents_with_request_tags_on_the_interfaces_only(tmp_path):
    from aws_cdk import Stack

    from stacks.config import cdk_json_context
    from tools.synth import build_app

    environments = cdk_json_context()["environments"]
    vpc = {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]}
    _app, [stacks] = build_app(
        tmp_path,
        environment="prod",
        nag=False,
        context_overrides={"environments": {**environments, "prod": {**environments["prod"], "jobVpc": vpc}}},
    )
    policy = stacks.pipeline.customization_role.policy
    statements = {s["Sid"]: s for s in Stack.of(policy).resolve(policy.document.to_json())["Statement"]}
    subnet = "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-0123456789abcdef0"
    group = "arn:aws:ec2:us-east-1:111122223333:security-group/sg-0123456789abcdef0"
    interfaces = "arn:aws:ec2:us-east-1:111122223333:network-interface/*"
    jobs = "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/*"

    def values(condition: dict) -> dict:
        """IAM reads "x" and ["x"] alike: compare the lists."""
        return {op: {k: v if isinstance(v, list) else [v] for k, v in keys.items()} for op, keys in condition.items()}

    tagged = statements["CreateTaggedNetworkInterfacesForVpcJobs"]
    assert tagged["Resource"] == interfaces
    assert values(tagged["Condition"]) == {
        "StringEquals": {"aws:RequestTag/BedrockManaged": ["true"]},
        "ArnEquals": {"aws:RequestTag/BedrockModelCustomizationJobArn": [jobs]},
    }
    # The subnets and security groups carry no request tags: a condition on them denies the job.
    in_subnets = statements["CreateNetworkInterfacesInTheJobSubnets"]
    assert sorted(in_subnets["Resource"]) == sorted([subnet, group]) and "Condition" not in in_subnets
    managed = statements["ManageOwnNetworkInterfaces"]
    assert managed["Resource"] == interfaces
    assert values(managed["Condition"])["ArnEquals"] == {
        "ec2:Subnet": [subnet],
        "ec2:ResourceTag/BedrockModelCustomizationJobArn": [jobs],
    }
    assert statements["TagNetworkInterfacesForVpcJobs"]["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]
    }
