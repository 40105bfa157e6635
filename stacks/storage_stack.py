"""Stateful resources: the encryption key and the buckets. Replaced never, retained in prod."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.config import EnvironmentConfig
from stacks.constructs.buckets import AccessLogBucket, SecureBucket


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, termination_protection=config.retain_data, **kwargs)

        self.key = kms.Key(
            self,
            "DataKey",
            description=f"Encrypts the {config.name} Bedrock customization datasets, reports and model artifacts",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        # Bedrock itself (not a role of ours) uses the key that encrypts a custom Nova model when
        # it optimizes the model for provisioned throughput; an IAM policy cannot grant a service
        # principal, so the key policy must. Scoped as AWS documents it: only to the custom
        # model's encryption context (Nova user guide, "Encryption of custom models",
        # customize-fine-tune-encrypt.html, statement PermissionsNovaProvisionedThroughput,
        # checked 2026-11-29).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BedrockUsesTheKeyOfItsCustomModels",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:bedrock:custom-model"}},
            )
        )
        self.access_logs = AccessLogBucket(
            self, "AccessLogBucket", storage=config.storage, retain_data=config.retain_data
        )
        bucket_settings = dict(
            encryption_key=self.key,
            access_logs=self.access_logs,
            storage=config.storage,
            retain_data=config.retain_data,
        )
        # Uploads under datasets/ start runs through EventBridge (see the pipeline stack).
        self.data_bucket = SecureBucket(self, "DataBucket", event_bridge_enabled=True, **bucket_settings)
        # People upload here: an upload with another key is refused at once, not by a failed run.
        self.data_bucket.deny_uploads_with_another_key()
        self.output_bucket = SecureBucket(self, "OutputBucket", **bucket_settings)

        CfnOutput(
            self,
            "DataBucketName",
            value=self.data_bucket.bucket_name,
            description="Upload datasets to s3://<this>/datasets/<name>/train.jsonl",
        )
        CfnOutput(
            self,
            "OutputBucketName",
            value=self.output_bucket.bucket_name,
            description="Bedrock writes model artifacts here",
        )
        CfnOutput(self, "DataKeyArn", value=self.key.key_arn)
