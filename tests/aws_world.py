"""An AWS account as the operator commands and the safety net meet it, emulated: moto for
CloudFormation, S3 and Step Functions, the local run's Bedrock emulation for Bedrock."""

from __future__ import annotations

import datetime as dt
import json

import boto3

from customization.naming import run_names
from tools.deployed import execution_arn
from tools.local_run.bedrock import BedrockEmulator, SimulatedClock

REGION = "us-east-1"
UPLOAD = {"bucket": "data-bucket", "key": "datasets/email-classifier/train.jsonl", "versionId": "v1"}


class Session:
    """A boto3 session whose Bedrock client is the emulation; everything else is moto."""

    def __init__(self, bedrock) -> None:
        self.region_name, self._bedrock = REGION, bedrock

    def client(self, service: str):
        return self._bedrock if service == "bedrock" else boto3.client(service, region_name=REGION)


SUCCEED = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


def state_machine(definition: dict):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )
    return sfn, machine


def deploy_outputs(environment: str, state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:x"):
    cfn = boto3.client("cloudformation", region_name=REGION)
    for part, outputs in (
        ("Storage", {"DataBucketName": "data-bucket"}),
        ("Pipeline", {"StateMachineArn": state_machine_arn}),
    ):
        template = {
            "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        cfn.create_stack(StackName=f"BedrockCustomization-{environment}-{part}", TemplateBody=json.dumps(template))


def world(environment: str = "dev"):
    """What one finished run and some unrelated resources leave in the account."""
    clock = SimulatedClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    emulator = BedrockEmulator(clock=clock, region=REGION)
    bedrock = emulator.client()
    names = run_names(environment, UPLOAD["bucket"], UPLOAD["key"], UPLOAD["versionId"])
    tags = [{"key": k, "value": v} for k, v in names.tags.items()]
    model_arn = trained_model(emulator, names, "amazon.nova-micro-v1:0:128k", tags)
    bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName=names.provisioned_model_name, modelId=model_arn, tags=tags
    )
    bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="someone-elses", modelId=model_arn, tags=[{"key": "team", "value": "search"}]
    )
    bedrock.create_provisioned_model_throughput(
        modelUnits=2, provisionedModelName="committed", modelId=model_arn, commitmentDuration="OneMonth", tags=tags
    )
    clock.sleep(3600)
    return emulator, bedrock


def finished_run(definition: dict, name: str) -> None:
    """A deployed environment with one run of `definition`, ended (moto executes it)."""
    sfn, machine = state_machine(definition)
    sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps({"upload": UPLOAD}))
    deploy_outputs("dev", machine["stateMachineArn"])
    arn = execution_arn(machine["stateMachineArn"], name)
    for _ in range(100):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return
        __import__("time").sleep(0.02)


def trained_model(
    emulator: BedrockEmulator, names, base_model: str, tags: list | None = None, kms_key: str | None = None
) -> str:
    """The ARN of the custom model of a job of the run `names`, started and completed."""
    emulator.client().create_model_customization_job(
        jobName=names.job_name,
        customModelName=names.custom_model_name,
        roleArn="arn:aws:iam::123456789012:role/r",
        baseModelIdentifier=base_model,
        trainingDataConfig={"s3Uri": "s3://data-bucket/prepared/mail/0123456789abcdef/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://output-bucket/jobs/"},
        jobTags=tags or [],
        customModelTags=tags or [],
        clientRequestToken="t1",
        **({"customModelKmsKeyId": kms_key} if kms_key else {}),
    )
    emulator.clock.sleep(7 * 3600)  # the job completes
    return emulator.jobs[names.job_name].model_arn
