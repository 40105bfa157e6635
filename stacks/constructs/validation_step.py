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
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction

# Why ValidateDataset may list "*".
LIST_CUSTOM_MODELS_REASON = (
    "X-Ray tracing, and bedrock:ListCustomModels, which takes no resource-level permissions or condition keys "
    "(Service Authorization Reference, Amazon Bedrock): a job.json baseRun's custom model is found by its run's "
    "deterministic name in the list, then its tags are read (ListTagsForResource, granted on this environment's "
    "custom models only) before it is used"
)


class ValidationStep(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        run_defaults: RunDefaults,
        serving: ServingPlan,
        arns: BedrockArns,
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
            star_resource_reason=LIST_CUSTOM_MODELS_REASON,
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
        self._grant_reading_parents(arns)
        self.function.acknowledge_wildcards(
            [uploads],
            "Reads any uploaded dataset (datasets/<name>/...), whose names are chosen at upload time; "
            "the data bucket only",
        )
        self.function.acknowledge_wildcards(
            outputs,
            "Writes reports/<slug>/<run id>/ and prepared/<slug>/<run id>/, named per upload at run time",
        )

    def _grant_reading_parents(self, arns: BedrockArns) -> None:
        """Re-fine-tuning (job.json baseRun): the parent custom model and its tags are read only
        where it is this environment's; a run's model is found by its name in the list."""
        self.function.grant(
            iam.PolicyStatement(
                actions=["bedrock:GetCustomModel", "bedrock:ListTagsForResource"],
                resources=[arns.custom_models],
                conditions=arns.owned,
            ),
            iam.PolicyStatement(actions=["bedrock:ListCustomModels"], resources=["*"]),
        )
        self.function.acknowledge_wildcards([arns.custom_models], BEDROCK_IDS_REASON)
