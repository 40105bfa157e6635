"""An AWS account as the operator commands and the safety net meet it, emulated.

In process (`Session`, `world`, under moto's `mock_aws`): moto for CloudFormation, S3 and Step
Functions, the local run's Bedrock emulation for Bedrock.

Over HTTP (`AwsOverHttp`, `deployed_world`): the same kind of account on 127.0.0.1, for the
commands run the way users type them (`tools.__main__.main(argv)`, `python -m tools ...`).
Nothing in the tools knows: the SDK finds every endpoint through the variables it honours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

import boto3
import botocore.session
import pytest
from botocore.model import Shape
from moto.server import ThreadedMotoServer

from customization import layout
from customization.naming import RunNames, run_names
from tools.deployed import execution_arn
from tools.local_run.account import AccountEmulator
from tools.local_run.bedrock import BedrockEmulator, Behaviour, SimulatedClock
from tools.local_run.http_front import EmulatorServer

ROOT = Path(__file__).resolve().parent.parent
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


STORAGE_OUTPUTS = ("DataBucketName", "OutputBucketName", "DataKeyArn")


def deploy_outputs(
    environment: str,
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:x",
    *,
    outputs: dict[str, str] | None = None,
    cfn=None,
):
    """Both stacks of `environment`, with `outputs` (by default the bucket and the state machine),
    each in the stack that has it when deployed."""
    cfn = cfn or boto3.client("cloudformation", region_name=REGION)
    outputs = outputs or {"DataBucketName": "data-bucket", "StateMachineArn": state_machine_arn}
    for part in ("Storage", "Pipeline"):
        mine = {key: value for key, value in outputs.items() if (key in STORAGE_OUTPUTS) == (part == "Storage")}
        template = {
            "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in mine.items()},
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
        time.sleep(0.02)


class CapturingBedrock:
    """A Bedrock client that keeps each CreateModelCustomizationJob request and accepts it: what
    StartCustomizationJob would send, without an emulation."""

    def __init__(self) -> None:
        self.requests: list[dict] = []

    def create_model_customization_job(self, **request):
        self.requests.append(request)
        return {"jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abc123def456"}


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


# -- the same account over HTTP, as a separate process meets it ----------------------------------

MOTO_ACCOUNT = "123456789012"  # moto's default account: STS answers it
BASE_MODEL = "amazon.nova-micro-v1:0:128k"
PROMPT = "Subject: You won!"  # what the README asks the served model
ANSWER = "spam"
FAILED_UPLOAD = {"bucket": "data-bucket", "key": "datasets/support-tickets/train.jsonl", "versionId": "v1"}
EARLIER_UPLOAD = {**UPLOAD, "versionId": "v0"}  # the same dataset, uploaded nine days before
COST_CEILING_CAUSE = (
    "estimated training cost $1,234.50 is above this environment's ceiling $25.00: "
    "reduce records or epochs, or raise limits.costCeilingUsd in cdk.json"
)


def endpoint_variable(service: str) -> str:
    """The variable botocore reads for one service's endpoint: AWS_ENDPOINT_URL_ and the
    service's ID, spaces as underscores, upper case (Step Functions: AWS_ENDPOINT_URL_SFN)."""
    service_id = botocore.session.get_session().get_service_model(service).service_id
    return "AWS_ENDPOINT_URL_" + str(service_id).replace(" ", "_").upper()


def closed_endpoint() -> str:
    """A URL on 127.0.0.1 where nothing listens: a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class MotoServer:
    """moto's server on 127.0.0.1, quiet (it logs each request to stderr otherwise). Its
    backends live in this process, shared with `mock_aws`: `AwsOverHttp` resets them."""

    def __init__(self) -> None:
        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def api(self, path: str, body: dict) -> None:
        """POST to moto's own API (/moto-api/reset, /moto-api/config)."""
        request = urllib.request.Request(f"{self.url}/moto-api/{path}", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        self._server.stop()
        logging.getLogger("werkzeug").setLevel(self._werkzeug_level)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class AwsOverHttp:
    """The account on 127.0.0.1, reached only through the variables the SDK honours
    (`environ()`): moto's server for CloudFormation, Step Functions, STS, KMS, SNS and the
    rest; S3 through moto too, with the upload event (`on_upload`); the Bedrock emulation's
    HTTP front for bedrock and bedrock-runtime (with `faults` to inject); and the account
    emulation for what moto's server lacks (Service Quotas' quotas, IAM's policy simulator).

    An empty account when it starts, emptied again when it stops (moto's state is shared)."""

    def __init__(self, emulator: BedrockEmulator, moto: MotoServer, account: AccountEmulator | None = None) -> None:
        self.emulator = emulator
        self.account = account or AccountEmulator(region=REGION, account=MOTO_ACCOUNT)
        # Bedrock operation -> (HTTP status, error code, message) that the front answers instead.
        self.faults: dict[str, tuple[int, str, str]] = {}
        self.bedrock_requests: list[str] = []  # every Bedrock operation asked, faulted or not
        self.on_upload: Callable[[str, str, str | None], None] | None = None
        self._clients: dict[str, Any] = {}
        self.moto = moto
        self.moto_url = moto.url
        moto.api("reset", {})
        moto.api("config", {"stepfunctions": {"execute_state_machine": True}})
        self.s3 = _Front(_S3Handler, target=urlsplit(self.moto_url), uploaded=self._uploaded, refusal=None)
        self.bedrock = EmulatorServer(handle=self._bedrock)
        self.account_front = _Front(_AccountHandler, account=self.account)

    def environ(self) -> dict[str, str]:
        """What a shell that deployed the environment would have set, pointed here."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",  # a refused call is the command's to report, without the SDK's backoff
            "AWS_ENDPOINT_URL": self.moto_url,
            endpoint_variable("s3"): self.s3.url,
            **self.bedrock.environ(),
            endpoint_variable("service-quotas"): f"{self.account_front.url}/service-quotas",
            endpoint_variable("iam"): f"{self.account_front.url}/iam",
        }

    def client(self, service: str):
        """A client for setting the account up and looking at it (S3 straight to moto: no events)."""
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str):
        urls = {
            "bedrock": self.bedrock.url_for("bedrock"),
            "bedrock-runtime": self.bedrock.url_for("bedrock-runtime"),
            "service-quotas": f"{self.account_front.url}/service-quotas",
            "iam": f"{self.account_front.url}/iam",
        }
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=urls.get(service, self.moto_url),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def refuse_uploads(self, status: int, code: str, message: str) -> None:
        """S3 answers every request with this error from now on."""
        self.s3.refusal = (status, code, message)

    def stop(self) -> None:
        self.bedrock.stop()
        self.s3.stop()
        self.account_front.stop()
        self.moto.api("config", {"stepfunctions": {"execute_state_machine": False}})
        self.moto.api("reset", {})

    def __enter__(self) -> AwsOverHttp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bedrock(self, service: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.bedrock_requests.append(operation)
        if operation in self.faults:
            status, code, message = self.faults[operation]
            return status, {"Error": {"Code": code, "Message": message}}
        return self.emulator._handle(operation, params)  # as EmulatorServer(emulator) answers

    def _uploaded(self, bucket: str, key: str, version: str | None) -> None:
        if self.on_upload is not None:
            self.on_upload(bucket, key, version)


@contextlib.contextmanager
def shell_for(aws: AwsOverHttp) -> Iterator[None]:
    """The process's environment as a shell pointed at `aws` has it, and nothing else of the
    machine's AWS set-up; the checkout as the working directory (the README's paths are its)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in aws.environ().items():
            patch.setenv(name, value)
        patch.chdir(ROOT)
        yield


@dataclass
class DeployedWorld:
    """`make deploy ENV=dev` and what its runs left, reached over HTTP (see `deployed_world`)."""

    aws: AwsOverHttp
    environment: str
    state_machine_arn: str
    succeeded: RunNames  # promoted, served on demand: invoke --run answers
    failed: RunNames  # refused by the cost ceiling: started nothing in Bedrock
    earlier: RunNames  # nine days old: its deployment is due for cleanup --older-than 7
    model_arn: str  # the succeeded run's custom model
    deployment_arn: str  # and its deployment
    earlier_model_arn: str
    earlier_deployment_arn: str
    strangers_deployment_arn: str  # another team's, untagged for the pipeline
    submitted: list[RunNames] = field(default_factory=list)  # runs the uploads of the test started

    def execution_arn(self, execution_name: str) -> str:
        return execution_arn(self.state_machine_arn, execution_name)

    def wait_for(self, execution_name: str) -> dict[str, Any]:
        sfn = self.aws.client("stepfunctions")
        arn = self.execution_arn(execution_name)
        deadline = time.monotonic() + 10
        while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{execution_name} did not end"
            time.sleep(0.02)
        return execution

    def start_run(self, upload: dict[str, Any], state: dict[str, Any] | None = None) -> RunNames:
        """What the upload event does: StartRun starts the run's execution (ended here at once).
        `state`: the run's state at its end (customization.run_state), instead of the world's."""
        names = run_names(self.environment, upload["bucket"], upload["key"], upload["versionId"])
        given = {"scripted": {"upload": upload, **state}} if state is not None else {}
        self.aws.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            name=names.execution_name,
            input=json.dumps({"upload": upload, **given}),
        )
        self.wait_for(names.execution_name)
        return names

    def _uploaded(self, bucket: str, key: str, version: str | None) -> None:
        upload = {"bucket": bucket, "key": key, "versionId": version}
        names = run_names(self.environment, bucket, key, version)
        trained_model(self.aws.emulator, names, BASE_MODEL, run_tags(names))  # the run's job trains
        self.submitted.append(self.start_run(upload))


def http_emulator() -> BedrockEmulator:
    """Bedrock ten days ago: the README's question has its answer, and the custom models answer right."""
    return BedrockEmulator(
        clock=SimulatedClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=10)),
        region=REGION,
        behaviour=Behaviour(custom_accuracy=1.0),
        answers={PROMPT: ANSWER},
        base_models=frozenset({"amazon.nova-micro-v1:0"}),
    )


def deployed_world(aws: AwsOverHttp, environment: str = "dev") -> DeployedWorld:
    """What `make deploy ENV=dev` and three runs leave, over HTTP: both stacks with every
    output, the data and output buckets, the data key (with Bedrock's statement), the topic,
    the state machine with a run that succeeded (its model promoted and served on demand), one
    the cost ceiling refused, and in Bedrock the succeeded run's model and deployment, an
    earlier run's nine days old, and another team's deployment."""
    emulator, bedrock = aws.emulator, aws.emulator.client()
    earlier = run_names(environment, EARLIER_UPLOAD["bucket"], EARLIER_UPLOAD["key"], EARLIER_UPLOAD["versionId"])
    earlier_model = trained_model(emulator, earlier, BASE_MODEL, run_tags(earlier))
    earlier_deployment = bedrock.create_custom_model_deployment(
        modelDeploymentName=earlier.deployment_name, modelArn=earlier_model, tags=run_tags(earlier)
    )["customModelDeploymentArn"]
    strangers = bedrock.create_custom_model_deployment(
        modelDeploymentName="search-team-serving", modelArn=earlier_model, tags=[{"key": "team", "value": "search"}]
    )["customModelDeploymentArn"]
    emulator.clock.sleep(9 * 86400)
    succeeded = run_names(environment, UPLOAD["bucket"], UPLOAD["key"], UPLOAD["versionId"])
    model = trained_model(emulator, succeeded, BASE_MODEL, run_tags(succeeded))
    deployment = bedrock.create_custom_model_deployment(
        modelDeploymentName=succeeded.deployment_name, modelArn=model, tags=run_tags(succeeded)
    )["customModelDeploymentArn"]
    emulator.clock.sleep(3600)  # the deployments are Active

    s3, kms = aws.client("s3"), aws.client("kms")
    for bucket in ("data-bucket", "output-bucket"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = kms.create_key(Policy=json.dumps(_key_policy()))["KeyMetadata"]["Arn"]
    topic = aws.client("sns").create_topic(Name=f"BedrockCustomization-{environment}-Notifications")["TopicArn"]
    role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/BedrockCustomization-{environment}-CustomizationRole"
    aws.account.role_policies[role] = [_role_policy("data-bucket", "output-bucket", key)]
    machine = aws.client("stepfunctions").create_state_machine(
        name=f"BedrockCustomization-{environment}-Workflow",
        definition=json.dumps(_scripted_runs(_succeeded_output(succeeded, model, deployment))),
        roleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/BedrockCustomization-{environment}-WorkflowRole",
    )["stateMachineArn"]
    outputs = {
        "DataBucketName": "data-bucket",
        "OutputBucketName": "output-bucket",
        "DataKeyArn": key,
        "CustomizationRoleArn": role,
        "StateMachineArn": machine,
        "NotificationTopicArn": topic,
        "EscalationTopicArn": topic,
        "RunSlotsTableName": f"BedrockCustomization-{environment}-Coordination",
        "DeadLetterQueueUrl": f"{aws.moto_url}/{MOTO_ACCOUNT}/BedrockCustomization-{environment}-DeadLetters",
        "DashboardName": f"BedrockCustomization-{environment}",
    }
    deploy_outputs(environment, outputs=outputs, cfn=aws.client("cloudformation"))
    world = DeployedWorld(
        aws=aws,
        environment=environment,
        state_machine_arn=machine,
        succeeded=succeeded,
        failed=run_names(environment, FAILED_UPLOAD["bucket"], FAILED_UPLOAD["key"], FAILED_UPLOAD["versionId"]),
        earlier=earlier,
        model_arn=model,
        deployment_arn=deployment,
        earlier_model_arn=earlier_model,
        earlier_deployment_arn=earlier_deployment,
        strangers_deployment_arn=strangers,
    )
    world.start_run(FAILED_UPLOAD)
    world.start_run(UPLOAD)
    aws.on_upload = world._uploaded
    return world


def run_tags(names: RunNames) -> list[dict[str, str]]:
    """The tags a run puts on what it creates, as Bedrock takes them."""
    return [{"key": key, "value": value} for key, value in names.tags.items()]


def _succeeded_output(names: RunNames, model_arn: str, deployment_arn: str) -> dict[str, Any]:
    """What a promoted run's state holds at its end (customization.run_state), the upload aside."""
    reports = f"s3://data-bucket/reports/{names.folder}"
    return {
        "validation": {
            "valid": True,
            "settings": {
                "baseModel": BASE_MODEL,
                "customizationType": "FINE_TUNING",
                "hyperParameters": {"epochCount": "2", "learningRate": "0.00001"},
                "validationSplit": 0.15,
                "servingMode": "on-demand",
            },
            "records": {"train": 133, "validation": 24},
            "cost": {"trainingUsd": 0.05, "storageUsdPerMonth": 1.95, "servingMode": "on-demand"},
            "reportUri": f"{reports}report.json",
        },
        "result": {"customModelArn": model_arn, "status": "Completed", "trainingLoss": 0.1132},
        "curves": {
            "verdict": "healthy",
            "summary": "healthy: both losses fell and the validation loss ended at its minimum 0.1210",
            "advice": "no change needed: keep epochCount=2, learningRate=0.00001",
            "change": None,
            "reportUri": None,
            "chartUri": None,
        },
        "serving": {"mode": "on-demand", "arn": deployment_arn, "deletable": True},
        "evaluation": {
            "status": "evaluated",
            "promoted": True,
            "headline": "PROMOTED: exact match 0.92 (custom) vs 0.38 (base), +0.54, gate +0.05",
            "metric": "exactMatch",
            "custom": {"exactMatch": 0.917, "tokenF1": 0.917},
            "base": {"exactMatch": 0.375, "tokenF1": 0.471},
            "markdownUri": f"{reports}evaluation.md",
        },
    }


def _scripted_runs(succeeded_output: dict[str, Any]) -> dict[str, Any]:
    """A state machine whose runs end as the world's did: the support-tickets dataset is refused
    by the cost ceiling, a run given a `scripted` state ends with it, any other upload succeeds
    with `succeeded_output`."""
    return {
        "StartAt": "ValidateDataset",
        "States": {
            "ValidateDataset": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.upload.key", "StringEquals": FAILED_UPLOAD["key"], "Next": "NotifyFailure"},
                    {"Variable": "$.scripted", "IsPresent": True, "Next": "AsScripted"},
                ],
                "Default": "EvaluateModel",
            },
            "EvaluateModel": {
                "Type": "Pass",
                "Parameters": {"upload.$": "$.upload", **succeeded_output},
                "Next": "NotifySuccess",
            },
            # A run whose final state the test gives (DeployedWorld.start_run's `state`).
            "AsScripted": {"Type": "Pass", "OutputPath": "$.scripted", "Next": "NotifySuccess"},
            "NotifySuccess": {"Type": "Pass", "Next": "RunSucceeded"},
            "RunSucceeded": {"Type": "Succeed"},
            "NotifyFailure": {"Type": "Pass", "Next": "RunFailed"},
            "RunFailed": {"Type": "Fail", "Error": "CostCeilingExceeded", "Cause": COST_CEILING_CAUSE},
        },
    }


def _key_policy() -> dict[str, Any]:
    """The data key's policy as the Storage stack writes it: the account, and Bedrock for custom models."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "BedrockCustomModels",
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:bedrock:custom-model"}},
            },
        ],
    }


def _role_policy(data_bucket: str, output_bucket: str, key_arn: str) -> dict[str, Any]:
    """What the customization role may do, in short: read the data, write the artifacts, use the key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{data_bucket}/prepared/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{data_bucket}"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{output_bucket}/jobs/*"},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key_arn},
        ],
    }


# -- the HTTP fronts ------------------------------------------------------------------------------


class _Front:
    """A threaded HTTP server on 127.0.0.1 whose handler reads its settings from this object."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], **settings: Any) -> None:
        self.__dict__.update(settings)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.front = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class _S3Handler(BaseHTTPRequestHandler):
    """S3 for the commands: each request goes on to moto's server; a training file's upload then
    starts its run, as the bucket's EventBridge rule and StartRun do (here before the upload's
    response returns, so that a command following the run finds it at its first look)."""

    protocol_version = "HTTP/1.1"
    HOP_BY_HOP = ("connection", "keep-alive", "transfer-encoding", "expect", "date", "server")

    def _forward(self) -> None:
        front = self.server.front
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if front.refusal is not None:
            status, code, message = front.refusal
            payload = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            )
            self._answer(status, [("Content-Type", "application/xml")], payload.encode())
            return
        connection = http.client.HTTPConnection(front.target.hostname, front.target.port, timeout=30)
        headers = {key: value for key, value in self.headers.items() if key.lower() not in self.HOP_BY_HOP}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        payload, answered = response.read(), response.getheaders()
        connection.close()
        if self.command == "PUT" and response.status == 200:
            bucket, _, key = unquote(urlsplit(self.path).path).lstrip("/").partition("/")
            if key.startswith(layout.DATASETS_PREFIX) and key.rsplit("/", 1)[-1] in layout.TRAINING_FILES:
                front.uploaded(bucket, key, response.getheader("x-amz-version-id"))
        kept = [(k, v) for k, v in answered if k.lower() not in (*self.HOP_BY_HOP, "content-length")]
        length = response.getheader("Content-Length", "0") if self.command == "HEAD" else None
        self._answer(response.status, kept, payload, length)

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes, length: str | None = None) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _AccountHandler(BaseHTTPRequestHandler):
    """Service Quotas (JSON protocol) at /service-quotas and IAM (query protocol) at /iam,
    answered by the account emulation; requests decoded and answers encoded from botocore's
    service models (IAM: structures, non-flattened lists and scalars, what it needs here)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        account = self.server.front.account
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        service = self.path.strip("/").split("/")[0]
        model = botocore.session.get_session().get_service_model(service)
        if service == "service-quotas":
            operation = self.headers["X-Amz-Target"].rpartition(".")[2]
            status, answer = account._service_quotas(operation, json.loads(body or b"{}"))
            if status == 200:
                payload = json.dumps(answer)
            else:
                payload = json.dumps({"__type": answer["Error"]["Code"], "message": answer["Error"]["Message"]})
            self._answer(status, "application/x-amz-json-1.1", payload)
            return
        form = {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}
        operation = model.operation_model(form["Action"])
        status, answer = account._iam(operation.name, _from_query(operation.input_shape, form, ""))
        namespace = model.metadata["xmlNamespace"]
        if status == 200:
            result = _to_xml(operation.output_shape, answer, operation.output_shape.serialization["resultWrapper"])
            payload = f'<{operation.name}Response xmlns="{namespace}">{result}</{operation.name}Response>'
        else:
            error = answer["Error"]
            payload = (
                f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{escape(error["Code"])}</Code>'
                f"<Message>{escape(error['Message'])}</Message></Error></ErrorResponse>"
            )
        self._answer(status, "text/xml", payload)

    def _answer(self, status: int, content_type: str, payload: str) -> None:
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _from_query(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    """A query-protocol request's members (`ActionNames.member.1=...`) as boto3 took them."""
    if shape.type_name == "structure":
        found = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            value = _from_query(member, form, f"{prefix}.{wire}" if prefix else wire)
            if value is not None:
                found[name] = value
        return found if found or not prefix else None
    if shape.type_name == "list":
        items = []
        while (item := _from_query(shape.member, form, f"{prefix}.member.{len(items) + 1}")) is not None:
            items.append(item)
        return items or None
    value = form.get(prefix)
    if value is None:
        return None
    return {"integer": int, "long": int, "float": float, "double": float, "boolean": lambda v: v == "true"}.get(
        shape.type_name, str
    )(value)


def _to_xml(shape: Shape, value: Any, tag: str) -> str:
    if shape.type_name == "structure":
        inner = "".join(
            _to_xml(member, value[name], member.serialization.get("name", name))
            for name, member in shape.members.items()
            if value.get(name) is not None
        )
    elif shape.type_name == "list":
        inner = "".join(_to_xml(shape.member, item, "member") for item in value)
    elif shape.type_name == "boolean":
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def run_tools(capsys, *argv: str) -> tuple[int, str, str]:
    """`python -m tools ARGV` through the real parser: (exit status, stdout, stderr)."""
    from tools.__main__ import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def python_m_tools(aws: AwsOverHttp, *argv: str) -> subprocess.CompletedProcess:
    """`python -m tools ARGV` in a process of its own, from the checkout, in a shell set up for
    the emulated account (none of this shell's AWS settings)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(aws.environ())
    return subprocess.run(
        [sys.executable, "-m", "tools", *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def one_line_error(err: str) -> str:
    """A command's error as users see it: one line starting `error: `."""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()
