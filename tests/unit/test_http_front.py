"""The Bedrock emulation served over HTTP: real boto3 clients, and a separate process that
finds the server only through `AWS_ENDPOINT_URL_BEDROCK`, get what the in-process emulation
answers, errors included."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from tools.local_run.bedrock import BedrockEmulator, Behaviour, SimulatedClock
from tools.local_run.http_front import EmulatorServer

REGION = "us-east-1"
BASE_MODEL = "amazon.nova-micro-v1:0:128k"  # customized (with its context suffix)
INVOKED_MODEL = "amazon.nova-micro-v1:0"  # asked on demand
ROLE = "arn:aws:iam::123456789012:role/customization"
QUESTION = "Subject: Invoice overdue. Which folder does this email belong in?"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def make_emulator(behaviour: Behaviour | None = None) -> BedrockEmulator:
    clock = SimulatedClock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))
    return BedrockEmulator(
        clock=clock,
        region=REGION,
        behaviour=behaviour or Behaviour(),
        base_models=frozenset({INVOKED_MODEL}),
        answers={QUESTION: "billing"},
    )


@pytest.fixture
def emulator() -> BedrockEmulator:
    return make_emulator()


@pytest.fixture
def server(emulator):
    with EmulatorServer(emulator) as running:
        yield running
    assert running.failures == []


def http_client(server: EmulatorServer, service: str = "bedrock", **kwargs):
    return boto3.client(
        service,
        endpoint_url=server.url_for(service),
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        **kwargs,
    )


def create_job(bedrock, name: str = "email-classifier-job", **extra) -> str:
    return bedrock.create_model_customization_job(
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=ROLE,
        baseModelIdentifier=BASE_MODEL,
        trainingDataConfig={"s3Uri": "s3://data-bucket/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://data-bucket/output/"},
        hyperParameters={"epochCount": "2", "learningRate": "0.00001"},
        jobTags=[{"key": "run", "value": name}],
        customModelTags=[{"key": "run", "value": name}],
        **extra,
    )["jobArn"]


def without_metadata(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key not in ("ResponseMetadata", "lastModifiedTime")}


# -- the control plane -------------------------------------------------------------------------------


def test_a_job_round_trips_by_name_and_by_arn_with_datetimes(server, emulator):
    bedrock = http_client(server)
    created = bedrock.create_model_customization_job(
        jobName="email-classifier-job",
        customModelName="email-classifier-model",
        roleArn=ROLE,
        baseModelIdentifier=BASE_MODEL,
        trainingDataConfig={"s3Uri": "s3://data-bucket/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://data-bucket/output/"},
        hyperParameters={"epochCount": "2"},
        clientRequestToken="token-1",
    )
    job = emulator.jobs["email-classifier-job"]
    assert created["jobArn"] == job.arn
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201  # the operation's responseCode
    assert job.request["hyperParameters"] == {"epochCount": "2"}
    assert job.request["clientRequestToken"] == "token-1"

    by_name = bedrock.get_model_customization_job(jobIdentifier="email-classifier-job")
    assert ":" in job.arn and "/" in job.arn
    by_arn = bedrock.get_model_customization_job(jobIdentifier=job.arn)
    assert emulator.calls[-1]["summary"] == f"GetModelCustomizationJob {job.arn} -> InProgress"
    for answer in (by_name, by_arn):
        assert answer["jobArn"] == job.arn
        assert answer["status"] == "InProgress"
        assert isinstance(answer["creationTime"], dt.datetime)
        assert answer["creationTime"] == job.created  # microseconds survive the wire
        assert answer["statusDetails"]["trainingDetails"]["creationTime"] == job.created
    # The same answer as the in-process client's (lastModifiedTime is "now" at each call).
    assert without_metadata(by_arn) == without_metadata(
        emulator.client().get_model_customization_job(jobIdentifier=job.arn)
    )

    emulator.clock.sleep(7 * 3600)
    done = bedrock.get_model_customization_job(jobIdentifier=job.arn)
    assert done["status"] == "Completed"
    assert done["endTime"] == job.created + dt.timedelta(hours=6)
    assert done["outputModelArn"] == job.model_arn
    assert done["trainingMetrics"] == {"trainingLoss": pytest.approx(0.1132)}
    assert done["validationMetrics"] == [{"validationLoss": pytest.approx(0.1421)}]


def test_query_string_filters_reach_the_handler_typed(emulator):
    seen = []

    def handle(service, operation, params):
        seen.append((service, operation, params))
        return emulator._handle(operation, params)

    with EmulatorServer(handle=handle) as server:
        bedrock = http_client(server)
        create_job(bedrock)
        emulator.clock.sleep(7 * 3600)  # the job completes: its model can be served
        model_arn = emulator.jobs["email-classifier-job"].model_arn
        bedrock.create_custom_model_deployment(modelDeploymentName="email-classifier-serving", modelArn=model_arn)
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="email-pt", modelId=model_arn)
        after = dt.datetime(2026, 11, 1, 8, 30, 15, tzinfo=dt.UTC)

        deployments = bedrock.list_custom_model_deployments(
            statusEquals="Creating", nameContains="email", maxResults=10, createdAfter=after, sortOrder="Descending"
        )
        throughputs = bedrock.list_provisioned_model_throughputs(
            statusEquals="Creating", modelArnEquals=model_arn, maxResults=5, creationTimeAfter=after
        )

    assert seen[-2] == (
        "bedrock",
        "ListCustomModelDeployments",
        {
            "statusEquals": "Creating",
            "nameContains": "email",
            "maxResults": 10,
            "createdAfter": after,
            "sortOrder": "Descending",
        },
    )
    assert seen[-1] == (
        "bedrock",
        "ListProvisionedModelThroughputs",
        {"statusEquals": "Creating", "modelArnEquals": model_arn, "maxResults": 5, "creationTimeAfter": after},
    )
    assert isinstance(seen[-1][2]["maxResults"], int)
    [deployment] = deployments["modelDeploymentSummaries"]
    assert deployment["customModelDeploymentName"] == "email-classifier-serving"
    assert deployment["customModelDeploymentArn"] == emulator.servings["email-classifier-serving"].arn
    assert deployment["status"] == "Creating"
    assert deployment["createdAt"] == emulator.servings["email-classifier-serving"].created
    [throughput] = throughputs["provisionedModelSummaries"]
    assert (throughput["provisionedModelName"], throughput["modelUnits"], throughput["modelArn"]) == (
        "email-pt",
        1,
        model_arn,
    )
    assert isinstance(throughput["lastModifiedTime"], dt.datetime)


def test_an_unknown_job_is_a_client_error_with_the_emulators_code_and_message(server):
    with pytest.raises(ClientError) as raised:
        http_client(server).get_model_customization_job(jobIdentifier="no-such-job")
    error = raised.value.response
    assert error["Error"] == {"Code": "ResourceNotFoundException", "Message": "Job no-such-job not found."}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.operation_name == "GetModelCustomizationJob"


def test_tags_by_post_body_and_a_deployment_deleted_by_delete(server, emulator):
    bedrock = http_client(server)
    job_arn = create_job(bedrock, "tagged-job")
    emulator.clock.sleep(7 * 3600)  # the job completes: its model can be served
    model_arn = emulator.jobs["tagged-job"].model_arn
    deployment_arn = bedrock.create_custom_model_deployment(
        modelDeploymentName="tagged-serving", modelArn=model_arn, tags=[{"key": "owner", "value": "ml"}]
    )["customModelDeploymentArn"]

    assert bedrock.list_tags_for_resource(resourceARN=job_arn)["tags"] == [{"key": "run", "value": "tagged-job"}]
    assert bedrock.list_tags_for_resource(resourceARN=deployment_arn)["tags"] == [{"key": "owner", "value": "ml"}]
    assert emulator.billed_servings() == [deployment_arn]

    deleted = bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert emulator.billed_servings() == []
    with pytest.raises(ClientError) as raised:
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []


def test_a_lost_create_response_is_retried_by_botocore_with_the_same_idempotency_token():
    """Over HTTP botocore's own retries run (the in-process client has none): the 500 is
    retried with the clientRequestToken botocore generated once, so one job exists."""
    emulator = make_emulator(Behaviour(lose_first_create_response=True))
    with EmulatorServer(emulator) as server:
        bedrock = http_client(server, config=Config(retries={"mode": "standard", "max_attempts": 3}))
        created = bedrock.create_model_customization_job(
            jobName="once",
            customModelName="once-model",
            roleArn=ROLE,
            baseModelIdentifier=BASE_MODEL,
            trainingDataConfig={"s3Uri": "s3://data-bucket/prepared/mail/0123456789abcdef/train.jsonl"},
            outputDataConfig={"s3Uri": "s3://output-bucket/jobs/"},
        )
    assert created["ResponseMetadata"]["RetryAttempts"] == 1
    assert list(emulator.jobs) == ["once"]
    assert created["jobArn"] == emulator.jobs["once"].arn
    assert [call["status"] for call in emulator.calls] == [500, 200]
    assert emulator.jobs["once"].request["clientRequestToken"]  # generated by botocore


# -- the runtime ----------------------------------------------------------------------------------


def test_converse_with_a_base_model_returns_the_emulated_answer(server, emulator):
    runtime = http_client(server, "bedrock-runtime")
    messages = [{"role": "user", "content": [{"text": QUESTION}]}]
    answer = runtime.converse(modelId=INVOKED_MODEL, messages=messages, inferenceConfig={"maxTokens": 50})
    in_process = emulator.client("bedrock-runtime").converse(modelId=INVOKED_MODEL, messages=messages)
    assert answer["output"] == in_process["output"]
    assert answer["stopReason"] == "end_turn"
    assert "billing" in answer["output"]["message"]["content"][0]["text"].lower()
    assert answer["usage"]["totalTokens"] == answer["usage"]["inputTokens"] + answer["usage"]["outputTokens"]
    assert answer["metrics"] == in_process["metrics"]
    assert emulator.calls[0]["summary"] == f"Converse {INVOKED_MODEL}"  # the model ID's ':' decoded


def test_converse_with_a_deployment_arn_waits_until_it_is_active(server, emulator):
    bedrock, runtime = http_client(server), http_client(server, "bedrock-runtime")
    create_job(bedrock, "served-job")
    emulator.clock.sleep(7 * 3600)
    model_arn = emulator.jobs["served-job"].model_arn
    deployment_arn = bedrock.create_custom_model_deployment(modelDeploymentName="served", modelArn=model_arn)[
        "customModelDeploymentArn"
    ]
    messages = [{"role": "user", "content": [{"text": QUESTION}]}]
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId=deployment_arn, messages=messages)
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": f"{deployment_arn} is not ready for inference yet.",
    }
    emulator.clock.sleep(30 * 60)
    text = runtime.converse(modelId=deployment_arn, messages=messages)["output"]["message"]["content"][0]["text"]
    assert text in ("billing", "unknown")  # the custom model answers bare labels


def test_concurrent_requests_are_all_answered(server, emulator):
    runtime = http_client(server, "bedrock-runtime", config=Config(max_pool_connections=8))
    questions = [f"Question {n}?" for n in range(40)]

    def ask(question: str) -> str:
        messages = [{"role": "user", "content": [{"text": question}]}]
        return runtime.converse(modelId=INVOKED_MODEL, messages=messages)["output"]["message"]["content"][0]["text"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, questions))
    assert answers == ["I don't know."] * 40  # no answer key for these
    assert emulator.counts() == {"Converse": 40}


def test_invoke_model_headers_and_a_blob_payload_both_ways():
    seen = {}

    def handle(service, operation, params):
        seen.update(service=service, operation=operation, params=params)
        return 200, {"body": b'{"completion": "billing"}', "contentType": "application/json; charset=utf-8"}

    with EmulatorServer(handle=handle, services=["bedrock-runtime"]) as server:
        answer = http_client(server, "bedrock-runtime").invoke_model(
            modelId=INVOKED_MODEL,
            body=b'{"prompt": "x"}',
            contentType="application/json",
            accept="*/*",
            trace="ENABLED",
        )
        assert answer["body"].read() == b'{"completion": "billing"}'
    assert answer["contentType"] == "application/json; charset=utf-8"
    assert seen == {
        "service": "bedrock-runtime",
        "operation": "InvokeModel",
        "params": {
            "modelId": INVOKED_MODEL,
            "body": b'{"prompt": "x"}',
            "contentType": "application/json",
            "accept": "*/*",
            "trace": "ENABLED",
        },
    }


# -- what goes wrong --------------------------------------------------------------------------------


def test_a_bedrock_client_at_the_runtime_prefix_meets_an_unknown_operation(server):
    lost = boto3.client(
        "bedrock",
        endpoint_url=server.url_for("bedrock-runtime"),
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    with pytest.raises(ClientError) as raised:
        lost.list_custom_models()
    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(KeyError):
        server.url_for("s3")


def test_an_operation_the_emulator_lacks_is_its_validation_error(server):
    with pytest.raises(ClientError) as raised:
        http_client(server).list_imported_models()
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "ListImportedModels is not emulated locally",
    }


def test_a_handler_that_raises_or_answers_off_shape_is_a_500_and_recorded():
    def handle(service, operation, params):
        if operation == "GetModelCustomizationJob":
            raise RuntimeError("emulator bug")
        return 200, {"jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/x/y", "extra": 1}

    with EmulatorServer(handle=handle) as server:
        bedrock = http_client(server, config=NO_RETRIES)
        with pytest.raises(ClientError) as raised:
            bedrock.get_model_customization_job(jobIdentifier="j")
        assert raised.value.response["Error"]["Code"] == "InternalFailure"
        assert "emulator bug" in raised.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as raised:
            create_job(bedrock)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert "extra" in raised.value.response["Error"]["Message"]
    assert len(server.failures) == 2
    assert "RuntimeError: emulator bug" in server.failures[0]
    assert "CreateModelCustomizationJob answered what the output shape forbids" in server.failures[1]


def test_a_stopped_server_answers_nothing_not_even_on_a_kept_alive_connection(emulator):
    server = EmulatorServer(emulator)
    bedrock = http_client(server, config=NO_RETRIES)
    assert bedrock.list_custom_models()["modelSummaries"] == []  # a pooled connection now exists
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(EndpointConnectionError):
        bedrock.list_custom_models()


def test_the_constructor_wants_an_emulator_or_a_handler(emulator):
    with pytest.raises(TypeError):
        EmulatorServer()
    with pytest.raises(TypeError):
        EmulatorServer(emulator, handle=lambda service, operation, params: (200, {}))


# -- a separate process, configured only by the environment ------------------------------------------------


def test_a_subprocess_reaches_the_server_through_the_endpoint_variables(server, emulator):
    job_arn = create_job(http_client(server), "subprocess-job")
    assert server.environ() == {
        "AWS_ENDPOINT_URL_BEDROCK": f"{server.url}/bedrock",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": f"{server.url}/bedrock-runtime",
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        server.environ(),
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    script = textwrap.dedent(
        f"""
        import json, sys
        import boto3
        job = boto3.client("bedrock").get_model_customization_job(jobIdentifier=sys.argv[1])
        answer = boto3.client("bedrock-runtime").converse(
            modelId={INVOKED_MODEL!r}, messages=[{{"role": "user", "content": [{{"text": {QUESTION!r}}}]}}]
        )
        print(json.dumps({{
            "jobArn": job["jobArn"],
            "status": job["status"],
            "creationTime": job["creationTime"].isoformat(),
            "text": answer["output"]["message"]["content"][0]["text"],
        }}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, job_arn], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["jobArn"] == job_arn
    assert printed["status"] == "InProgress"
    assert dt.datetime.fromisoformat(printed["creationTime"]) == emulator.jobs["subprocess-job"].created
    assert "billing" in printed["text"].lower()
    assert [call["operation"] for call in emulator.calls[-2:]] == ["GetModelCustomizationJob", "Converse"]
