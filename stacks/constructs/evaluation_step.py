"""EvaluateModel: the served custom model and its base model answer the same validation
questions; the scores decide whether the model is promoted."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from customization import layout
from customization.evaluation.step import EvaluationSettings
from customization.serving import ON_DEMAND, ServingPlan
from stacks.constructs.bedrock_arns import BEDROCK_IDS_REASON, BedrockArns
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction


class EvaluationStep(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EvaluationSettings,
        serving: ServingPlan,
        base_models: list[str],
        data_bucket: s3.IBucket,
        data_key: kms.IKey,
        arns: BedrockArns,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "EvaluateModel",
            handler_package="evaluate_model",
            description="Scores the served custom model against its base model on validation records",
            defaults=defaults,
            settings=[settings, serving],
            # Sample x 2 models at bounded concurrency, with backoff when throttled.
            timeout=Duration.minutes(15),
            memory_mib=512,
        )
        prepared = data_bucket.arn_for_objects(f"{layout.PREPARED_PREFIX}*")
        reports = data_bucket.arn_for_objects(f"{layout.REPORTS_PREFIX}*")
        region = Stack.of(self).region
        self.function.grant(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[prepared]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[reports]),
            # The validation file and reports through S3; the custom model, which the job
            # encrypted with this key (customModelKmsKeyId), through Bedrock when it answers.
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"s3.{region}.amazonaws.com", f"bedrock.{region}.amazonaws.com"]
                    }
                },
            ),
        )
        self.function.acknowledge_wildcards(
            [prepared], "Reads the validation file of any run (prepared/<slug>/<run id>/), named per upload"
        )
        self.function.acknowledge_wildcards(
            [reports], "Writes reports/<slug>/<run id>/evaluation.*, named per upload at run time"
        )
        self._grant_invoke(serving, base_models, arns)

    def _grant_invoke(self, serving: ServingPlan, base_models: list[str], arns: BedrockArns) -> None:
        """Converse is authorized as bedrock:InvokeModel, on the served model and the base models."""
        served = [arns.serving(serving.mode)]
        if serving.mode == ON_DEMAND:
            # A deployment answers with the account's custom model behind it.
            served.append(arns.custom_models)
        direct, through_profile = arns.invocable_base_models(base_models)
        self.function.grant(
            # The served model only if it is this environment's (tags); the base models as AWS offers them.
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=served, conditions=arns.owned),
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=direct),
            # A model behind a cross-Region profile, in any Region of it, but only through the
            # profile (the condition AWS documents for inference profiles).
            *(
                iam.PolicyStatement(
                    actions=["bedrock:InvokeModel"],
                    resources=[model],
                    conditions={"StringLike": {"bedrock:InferenceProfileArn": profile}},
                )
                for model, profile in through_profile.items()
            ),
        )
        self.function.acknowledge_wildcards(served, BEDROCK_IDS_REASON)
        self.function.acknowledge_wildcards(
            list(through_profile),
            "A cross-Region inference profile routes to the model in any Region of its geography: the "
            "foundation model is granted in all of them, for this one model, and only through the profile",
        )
