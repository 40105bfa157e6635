"""The stateful stack: one key and three buckets, private and encrypted in every environment."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.conftest import ENVIRONMENTS

KMS_BUCKETS = ["DataBucket", "OutputBucket"]
ALL_BUCKETS = [*KMS_BUCKETS, "AccessLogBucket"]


def _bucket(synthesized, environment: str, name: str) -> tuple[str, dict]:
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Storage"]
    matches = [
        (logical_id, resource)
        for logical_id, resource in stack.resources.items()
        if resource["Type"] == "AWS::S3::Bucket" and stack.construct_path(logical_id) == name
    ]
    assert len(matches) == 1, f"expected one bucket {name} in {environment}"
    return matches[0]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("bucket", ALL_BUCKETS)
def test_every_bucket_is_private_versioned_and_owner_enforced(synthesized, environment, bucket):
    _, resource = _bucket(synthesized, environment, bucket)
    properties = resource["Properties"]

    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "BucketName" not in properties, "physical names block a second deployment in the account"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("bucket", KMS_BUCKETS)
def test_data_buckets_use_the_environment_key_with_bucket_keys(synthesized, environment, bucket):
    _, resource = _bucket(synthesized, environment, bucket)
    key_id, _ = next(
        (logical_id, r)
        for logical_id, r in synthesized.raw(environment, "Storage")["Resources"].items()
        if r["Type"] == "AWS::KMS::Key"
    )

    assert resource["Properties"]["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ]
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_access_log_bucket_uses_sse_s3_as_log_delivery_requires(synthesized, environment):
    _, resource = _bucket(synthesized, environment, "AccessLogBucket")

    assert resource["Properties"]["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert "LoggingConfiguration" not in resource["Properties"], "a log bucket must not log to itself"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("bucket", KMS_BUCKETS)
def test_data_buckets_log_access_to_the_log_bucket(synthesized, environment, bucket):
    log_bucket_id, _ = _bucket(synthesized, environment, "AccessLogBucket")
    _, resource = _bucket(synthesized, environment, bucket)

    assert resource["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_bucket_id},
        "LogFilePrefix": f"{bucket}/",
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("bucket", ALL_BUCKETS)
def test_every_bucket_denies_plain_http_and_old_tls(synthesized, environment, bucket):
    bucket_id, _ = _bucket(synthesized, environment, bucket)
    template = synthesized.template(environment, "Storage")
    bucket_resources = [
        {"Fn::GetAtt": [bucket_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
    ]

    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Resource": bucket_resources,
                        },
                        {
                            "Action": "s3:*",
                            "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Resource": bucket_resources,
                        },
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("bucket", ALL_BUCKETS)
def test_lifecycle_periods_come_from_the_environment(synthesized, environment, bucket):
    storage = synthesized.environments[environment].config.storage
    _, resource = _bucket(synthesized, environment, bucket)
    rules = {rule["Id"]: rule for rule in resource["Properties"]["LifecycleConfiguration"]["Rules"]}

    assert rules["ExpireOldVersionsAndAbandonedUploads"] == {
        "Id": "ExpireOldVersionsAndAbandonedUploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": storage.abort_incomplete_upload_days},
        "NoncurrentVersionExpiration": {"NoncurrentDays": storage.noncurrent_version_expiration_days},
        "ExpiredObjectDeleteMarker": True,
    }
    if bucket == "AccessLogBucket":
        assert rules["ExpireAccessLogs"]["ExpirationInDays"] == storage.access_log_expiration_days


def test_dev_and_prod_lifecycles_differ_as_configured(synthesized):
    dev = synthesized.environments["dev"].config.storage
    prod = synthesized.environments["prod"].config.storage

    assert dev.noncurrent_version_expiration_days < prod.noncurrent_version_expiration_days


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_data_bucket_sends_events_to_eventbridge(synthesized, environment):
    _, data = _bucket(synthesized, environment, "DataBucket")
    _, output = _bucket(synthesized, environment, "OutputBucket")
    template = synthesized.template(environment, "Storage")

    assert data["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert "NotificationConfiguration" not in output["Properties"]
    # Set natively on the bucket: no notifications custom resource and its Lambda function.
    template.resource_count_is("Custom::S3BucketNotifications", 0)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_key_is_customer_managed_and_rotated(synthesized, environment):
    template = synthesized.template(environment, "Storage")

    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True, "KeySpec": Match.absent()})
    template.resource_count_is("AWS::KMS::Alias", 0)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_key_policy_delegates_to_iam_of_this_account_and_lets_bedrock_use_its_custom_models_key(
    synthesized, environment
):
    template = synthesized.template(environment, "Storage")
    account = synthesized.environments[environment].config.account

    account_root = (
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
        if account is None
        else f"arn:aws:iam::{account}:root"
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": [
                    {"Action": "kms:*", "Effect": "Allow", "Principal": {"AWS": account_root}, "Resource": "*"},
                    # Nova user guide, PermissionsNovaProvisionedThroughput: without it, prod's first
                    # provisioned throughput of a custom Nova model fails.
                    {
                        "Sid": "BedrockUsesTheKeyOfItsCustomModels",
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                        "Effect": "Allow",
                        "Principal": {"Service": "bedrock.amazonaws.com"},
                        "Resource": "*",
                        "Condition": {
                            "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:bedrock:custom-model"}
                        },
                    },
                ],
                "Version": "2012-10-17",
            }
        },
    )


def test_prod_retains_data_and_protects_the_stack(synthesized):
    template = synthesized.template("prod", "Storage")
    stack = synthesized.assembly.stacks["BedrockCustomization-prod-Storage"]

    assert stack.termination_protection
    for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        resources = template.find_resources(kind)
        assert resources
        for resource in resources.values():
            assert resource["DeletionPolicy"] == "Retain"
            assert resource["UpdateReplacePolicy"] == "Retain"
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_dev_is_disposable(synthesized):
    template = synthesized.template("dev", "Storage")
    stack = synthesized.assembly.stacks["BedrockCustomization-dev-Storage"]

    assert not stack.termination_protection
    for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in template.find_resources(kind).values():
            assert resource["DeletionPolicy"] == "Delete"
    template.resource_count_is("Custom::S3AutoDeleteObjects", len(ALL_BUCKETS))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pipeline_stack_is_never_termination_protected_so_it_can_be_replaced(synthesized, environment):
    assert not synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"].termination_protection


def test_prod_is_pinned_and_dev_follows_the_cli(synthesized):
    artifacts = synthesized.assembly.manifest["artifacts"]

    assert artifacts["BedrockCustomization-prod-Storage"]["environment"] == "aws://111122223333/us-east-1"
    assert artifacts["BedrockCustomization-dev-Storage"]["environment"] == "aws://unknown-account/unknown-region"


def _data_bucket_policy(synthesized, environment: str) -> tuple[list[dict], str]:
    """The data bucket's policy as deployed (emulated names), and its key's ARN."""
    from tools.local_run.deployment import LocalDeployment

    deployment = LocalDeployment(synthesized.assembly, environment, "us-east-1", "BedrockCustomization")
    stack = deployment.storage
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for i, r in stack.resources.items()
        if r["Type"] == "AWS::S3::BucketPolicy" and stack.construct_path(i) == "DataBucket/Policy"
    ]
    [key_id] = [i for i, r in stack.resources.items() if r["Type"] == "AWS::KMS::Key"]
    return [deployment.resolve(policy, stack)], deployment._physical(stack, key_id, "Arn")


# (what the upload sends, whether S3 stores it)
UPLOADS = [
    ({}, True),  # no encryption header: the bucket's default, the data key
    ({"s3:x-amz-server-side-encryption": "aws:kms"}, False),  # KMS naming no key: S3 would use aws/s3
    ("data key", True),  # KMS with the data key's ARN
    ({"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": "other"}, False),
    ({"s3:x-amz-server-side-encryption": "AES256"}, False),
    ({"s3:x-amz-server-side-encryption": "aws:kms:dsse"}, False),
]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(("headers", "stored"), UPLOADS)
def test_the_data_bucket_refuses_uploads_encrypted_with_anything_but_its_key(synthesized, environment, headers, stored):
    from tools.local_run.iam import decide

    policies, key_arn = _data_bucket_policy(synthesized, environment)
    if headers == "data key":
        headers = {
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
        }
    elif "s3:x-amz-server-side-encryption-aws-kms-key-id" in headers:
        headers = {**headers, "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn.replace("key/", "key/0")}
    context = {key: [value] for key, value in {**headers, "aws:SecureTransport": "true"}.items()}
    bucket = f"arn:aws:s3:::local-{environment}-databucket"

    decision = decide(policies, "s3:PutObject", f"{bucket}/datasets/mail/train.jsonl", context)

    assert (decision != "explicitDeny") is stored, (headers, decision)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_data_bucket_refuses_other_keys(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Storage"]
    denying = {
        stack.construct_path(i).removesuffix("/Policy")
        for i, r in stack.resources.items()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and "DenyUploadsWithAnotherKmsKey" in str(r["Properties"]["PolicyDocument"])
    }

    # Bedrock writes the output bucket with its own requests: those are not ours to constrain.
    assert denying == {"DataBucket"}
