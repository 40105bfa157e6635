"""Buckets that are private, encrypted, versioned, logged and tidy by construction.

Every bucket of the pipeline is made here, so a security default is written once and a
reviewer checks it once.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import StorageConfig
from stacks.nag import acknowledge

# What every bucket of the pipeline has, whatever it stores.
_PRIVATE_TLS_ONLY_VERSIONED = dict(
    block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforce_ssl=True,
    minimum_tls_version=1.2,
    versioned=True,
)


def _common_rules(storage: StorageConfig) -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id="ExpireOldVersionsAndAbandonedUploads",
        noncurrent_version_expiration=Duration.days(storage.noncurrent_version_expiration_days),
        abort_incomplete_multipart_upload_after=Duration.days(storage.abort_incomplete_upload_days),
        expired_object_delete_marker=True,
    )


def _acknowledge_no_replication(bucket: s3.Bucket) -> None:
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Single-region by design: Bedrock customization reads and writes in one region; "
        "datasets can be re-uploaded and models re-trained, and a replica bucket would need "
        "its own key and region per environment (add one where your recovery plan asks)",
    )


def _removal(retain_data: bool) -> dict:
    if retain_data:
        return {"removal_policy": RemovalPolicy.RETAIN}
    # Disposable environments: `cdk destroy` empties and deletes the buckets too.
    return {"removal_policy": RemovalPolicy.DESTROY, "auto_delete_objects": True}


class AccessLogBucket(s3.Bucket):
    """Target of the other buckets' server access logs.

    S3 delivers access logs only to a bucket encrypted with SSE-S3 (not SSE-KMS), and a
    bucket must not log to itself, so this one differs from `SecureBucket` on exactly those
    two points.
    """

    def __init__(self, scope: Construct, construct_id: str, *, storage: StorageConfig, retain_data: bool) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            **_PRIVATE_TLS_ONLY_VERSIONED,
            lifecycle_rules=[
                _common_rules(storage),
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(storage.access_log_expiration_days),
                ),
            ],
            **_removal(retain_data),
        )
        _acknowledge_no_replication(self)
        acknowledge(
            self,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access log delivery supports only SSE-S3 on the target bucket, "
            "not SSE-KMS (S3 User Guide, 'Enabling Amazon S3 server access logging')",
        )


class SecureBucket(s3.Bucket):
    """A private bucket: SSE-KMS with bucket keys, TLS only, versioned, access-logged."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        access_logs: s3.IBucket,
        storage: StorageConfig,
        retain_data: bool,
        event_bridge_enabled: bool = False,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            **_PRIVATE_TLS_ONLY_VERSIONED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{construct_id}/",
            lifecycle_rules=[_common_rules(storage)],
            **_removal(retain_data),
        )
        _acknowledge_no_replication(self)
        if event_bridge_enabled:
            # Set on the bucket resource itself: `event_bridge_enabled=True` would add CDK's
            # notifications custom resource, a Lambda function with a managed-policy role,
            # to do what this one property does.
            cfn_bucket: s3.CfnBucket = self.node.default_child
            cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            )

    def deny_uploads_with_another_key(self) -> None:
        """Refuse, at upload, an object encrypted other than with the bucket's key: one naming
        another KMS key; SSE-S3 or DSSE; and `aws:kms` naming no key, for which S3 uses the AWS
        managed key aws/s3, not the bucket's (S3 API reference, PutObject,
        x-amz-server-side-encryption-aws-kms-key-id, read 2026-11-29). Such an object would be
        stored, then be out of this key's control. An upload that names no encryption gets the
        bucket's default, this key, and is let through.

        Each statement's conditions hold together (a header present and different, or absent);
        the key ID condition takes the key's ARN ("Using server-side encryption with AWS KMS
        keys", S3 user guide, "Requiring server-side encryption", read 2026-11-29). A negated
        operator alone would also match requests without the header.
        """
        key_id_header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
        algorithm_header = "s3:x-amz-server-side-encryption"
        for sid, conditions in (
            (
                "DenyUploadsWithAnotherKmsKey",
                {"Null": {key_id_header: "false"}, "StringNotEquals": {key_id_header: self.encryption_key.key_arn}},
            ),
            (
                "DenyUploadsNotEncryptedWithKms",
                {"Null": {algorithm_header: "false"}, "StringNotEquals": {algorithm_header: "aws:kms"}},
            ),
            (
                "DenyKmsUploadsNamingNoKey",
                {"StringEquals": {algorithm_header: "aws:kms"}, "Null": {key_id_header: "true"}},
            ),
        ):
            self.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[self.arn_for_objects("*")],
                    conditions=conditions,
                )
            )
