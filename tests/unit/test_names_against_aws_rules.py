"""Whatever a dataset is called, every request a run sends for it is one AWS accepts: names,
tokens, tags and S3 URIs are checked here against the service models' own patterns and
lengths (tools/local_run/strict.py), for arbitrary names."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from customization import layout
from customization.naming import run_names
from customization.serving import ON_DEMAND, PROVISIONED, ServingPlan, create_serving
from customization.training import JobEnvironment, start_job
from tools.local_run.strict import validate

ENVIRONMENT = JobEnvironment(
    environment="dev",
    role_arn="arn:aws:iam::123456789012:role/BedrockCustomization-dev-Pipeline-CustomizationRole",
    output_bucket="bedrockcustomization-dev-outputbucket7114eb27-abcdefgh",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b5ac6a1-3d6e-4f3a-9b6c-4a2f8c1e9d10",
)
BUCKET = "bedrockcustomization-dev-databucketee3889a50-abcdefgh"
MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdefghijkl"

# Dataset names as people type them: spaces, punctuation, accents, scripts, emoji, very long.
DATASET_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=300
) | st.sampled_from(["Spam Filter (v2)", "a+b", "q3=sales", "données", "客服", "x" * 900, "---", "..."])


class Capturing:
    """A Bedrock client that keeps the requests it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []

    def __getattr__(self, operation: str):
        def call(**request):
            self.requests.append((operation, request))
            if operation == "get_custom_model":
                return {"modelStatus": "Active"}
            return {
                "jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/x/abcdefghijkl",
                "provisionedModelArn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl",
                "customModelDeploymentArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghijkl",
            }

        return call


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


@settings(max_examples=150, deadline=None)
@given(name=DATASET_NAMES)
def test_the_job_request_for_any_dataset_name_is_one_bedrock_accepts(name):
    names = run_names("dev", BUCKET, f"datasets/{name}/train.jsonl", "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    prepared = f"s3://{BUCKET}/{layout.prepared_key(names.folder, 'train.jsonl')}"
    summary = {
        "settings": {
            "baseModel": "amazon.nova-micro-v1:0:128k",
            "customizationType": "FINE_TUNING",
            "hyperParameters": {},
        },
        "prepared": {"trainUri": prepared, "validationUri": prepared.replace("train.jsonl", "validation.jsonl")},
        "cost": {"trainingUsd": 0.05},
    }
    bedrock = Capturing()

    start_job(bedrock, names, summary, ENVIRONMENT)
    create_serving(bedrock, names, MODEL_ARN, ServingPlan(PROVISIONED))
    create_serving(bedrock, names, MODEL_ARN, ServingPlan(ON_DEMAND))

    for operation, request in bedrock.requests:
        assert validate("bedrock", _camel(operation), request) == [], (name, operation)
    execution = {
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Workflow",
        "name": names.execution_name,
        "input": "{}",
    }
    assert validate("stepfunctions", "StartExecution", execution) == [], name
    assert len(layout.report_key(names.folder).encode()) < 1024


def test_the_raw_name_in_a_uri_or_a_tag_is_what_aws_refuses():
    """The defect this prevents: the dataset name in the S3 URI and its letters in a tag value."""
    names = run_names("dev", BUCKET, "datasets/Spam Filter (données)/train.jsonl", "v1")
    request = {
        "jobName": names.job_name,
        "customModelName": names.custom_model_name,
        "roleArn": ENVIRONMENT.role_arn,
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/prepared/Spam Filter (données)/v1/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{ENVIRONMENT.output_bucket}/jobs/{names.job_name}/"},
        "jobTags": [{"key": "dataset", "value": "Spam Filter (données)"}],
    }

    problems = validate("bedrock", "CreateModelCustomizationJob", request)

    assert any("trainingDataConfig.s3Uri" in problem for problem in problems)
    assert any("jobTags[0].value" in problem for problem in problems)
    assert names.tags["dataset"] == "Spam Filter _donnees_"
    assert set(names.folder) <= set(string.ascii_letters + string.digits + "-/")


@settings(max_examples=200, deadline=None)
@given(
    name=DATASET_NAMES,
    status=st.sampled_from(["ABORTED", "TIMED_OUT"]),
    outcome=st.sampled_from(["succeeded", "failed"]),
)
def test_every_notification_subject_is_one_sns_accepts(name, status, outcome):
    from customization.notifications import compose, compose_abort

    upload = {"bucket": BUCKET, "key": f"{layout.DATASETS_PREFIX}{name}/train.jsonl", "versionId": "v1"}
    messages = [
        compose(outcome, {"upload": upload, "validation": {"dataset": {"name": name}}}, "arn:exec", "dev", "us-east-1"),
        compose_abort({"status": status, "name": "run-1"}, upload, {"stopped": False}, "dev", "us-east-1"),
    ]

    for message in messages:
        request = {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Subject": message["subject"], "Message": "m"}
        assert validate("sns", "Publish", request) == []
        assert message["subject"].isascii() and message["subject"].startswith("[dev] Bedrock customization")
