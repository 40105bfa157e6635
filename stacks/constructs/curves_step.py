"""ReadTrainingCurves: after the job completed, its metrics files become curves.json,
curves.svg and a diagnosis (customization.curves).

Least privilege: it reads only the metrics CSVs under the output bucket's jobs/ prefix (not
the model artifacts beside them), lists only that prefix, and writes only under the data
bucket's reports/ prefix. Both buckets are encrypted with the data key, used through S3 only.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from customization import layout
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction

# Both metrics files end so (customization.curves): nothing else of a job's output is readable.
METRICS_FILES = "*_metrics.csv"


class TrainingCurvesStep(Capability):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        data_key: kms.IKey,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "ReadTrainingCurves",
            handler_package="read_curves",
            description="Reads the completed job's metrics files: curves.json, curves.svg and a diagnosis",
            defaults=defaults,
            # Up to 2 x 16 MiB of CSV, parsed a line at a time.
            memory_mib=512,
        )
        metrics = output_bucket.arn_for_objects(f"{layout.JOB_OUTPUT_PREFIX}{METRICS_FILES}")
        # Only the two files it writes, in any run's folder: never another step's report.
        reports = [
            data_bucket.arn_for_objects(f"{layout.REPORTS_PREFIX}*/{name}")
            for name in (layout.CURVES_REPORT, layout.CURVES_CHART)
        ]
        region = Stack.of(self).region
        self.function.grant(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[metrics]),
            # The files' keys hold the job's ID, which Bedrock chooses: they are found by listing.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{layout.JOB_OUTPUT_PREFIX}*"]}},
            ),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=reports),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            ),
        )
        self.function.acknowledge_wildcards(
            [metrics],
            "Reads only the metrics CSVs of any job of this environment (jobs/<job name>/model-customization-job-"
            "<job id>/...), whose IDs Bedrock chooses at run time; not the model artifacts beside them",
        )
        self.function.acknowledge_wildcards(
            reports, "Writes reports/<slug>/<run id>/curves.json and curves.svg, named per upload at run time"
        )
