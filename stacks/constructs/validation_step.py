"""ValidateDataset: the run's first step reads the upload and writes the report and the
prepared files Bedrock will read."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from customization import layout
from customization.serving import ServingPlan
from customization.validation.jobspec import RunDefaults
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction


class ValidationStep(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        run_defaults: RunDefaults,
        serving: ServingPlan,
        data_bucket: s3.IBucket,
        data_key: kms.IKey,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "ValidateDataset",
            handler_package="validate_dataset",
            description="Validates an uploaded dataset and prepares it for Bedrock",
            defaults=defaults,
            settings=[run_defaults, serving],
            timeout=Duration.minutes(15),
            memory_mib=2048,
            # Prepared train and validation files are written to /tmp before upload.
            ephemeral_storage_mib=4096,
        )
        uploads = data_bucket.arn_for_objects(f"{layout.DATASETS_PREFIX}*")
        outputs = [
            data_bucket.arn_for_objects(f"{layout.REPORTS_PREFIX}*"),
            data_bucket.arn_for_objects(f"{layout.PREPARED_PREFIX}*"),
        ]
        self.function.grant(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[uploads]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=outputs),
            # Without ListBucket, a missing job.json reads as AccessDenied instead of NoSuchKey.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{layout.DATASETS_PREFIX}*"]}},
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
            ),
        )
        self.function.acknowledge_wildcards(
            [uploads],
            "Reads any uploaded dataset (datasets/<name>/...), whose names are chosen at upload time; "
            "the data bucket only",
        )
        self.function.acknowledge_wildcards(
            outputs,
            "Writes reports/<slug>/<run id>/ and prepared/<slug>/<run id>/, named per upload at run time",
        )
