"""Each function's deployed policy, held against the emulated Bedrock as IAM would hold it: it
acts on this environment's resources (their project and environment tags), creates only with
those tags, and cannot reach another environment's job, model or serving in the same account.

The policies come from the synthesized template (tools.local_run.deployment), so a grant that
is too wide or too narrow fails here, as it would in the account."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from customization.naming import run_names
from tests.aws_world import REGION
from tools.local_run.bedrock import BedrockEmulator, SimulatedClock
from tools.local_run.deployment import LocalDeployment
from tools.local_run.runner import assembly_for

NOVA = "amazon.nova-micro-v1:0:128k"
ENVIRONMENT = "dev"


@pytest.fixture(scope="module")
def policies() -> dict[str, list[dict]]:
    deployment = LocalDeployment(assembly_for(ENVIRONMENT, {}), ENVIRONMENT, REGION, "BedrockCustomization")
    return deployment.function_policies()


@pytest.fixture
def emulator(policies) -> BedrockEmulator:
    clock = SimulatedClock(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC))
    return BedrockEmulator(
        clock=clock,
        region=REGION,
        today=dt.date(2026, 11, 26),
        base_models=frozenset({"amazon.nova-micro-v1:0"}),
        policies_of=policies.get,
    )


def _names(environment: str):
    return run_names(environment, "data", "datasets/mail/train.jsonl", "v1")


def _tags(environment: str, **extra: str) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in {**_names(environment).tags, **extra}.items()]


def _job_request(environment: str, tags: list[dict[str, str]]) -> dict:
    names = _names(environment)
    return {
        "jobName": names.job_name,
        "customModelName": names.custom_model_name,
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "baseModelIdentifier": NOVA,
        "trainingDataConfig": {"s3Uri": "s3://data/prepared/mail/0123456789abcdef/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://output/jobs/"},
        "jobTags": tags,
        "customModelTags": tags,
    }


def _job_of(emulator: BedrockEmulator, environment: str) -> str:
    """A job of `environment` in the same account, created by someone with every right."""
    return emulator.client().create_model_customization_job(**_job_request(environment, _tags(environment)))["jobArn"]


def _refused(call) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    return raised.value.response["Error"]["Message"]


def test_watching_reads_this_environments_job_and_not_anothers(emulator):
    ours, theirs = _job_of(emulator, ENVIRONMENT), _job_of(emulator, "prod")
    poll = emulator.client(caller="WatchJob")

    assert poll.get_model_customization_job(jobIdentifier=ours)["jobArn"] == ours
    message = _refused(lambda: poll.get_model_customization_job(jobIdentifier=theirs))
    assert f"bedrock:GetModelCustomizationJob on resource: {theirs}" in message


def test_compensation_stops_this_environments_job_only(emulator):
    ours, theirs = _job_of(emulator, ENVIRONMENT), _job_of(emulator, "prod")
    stop = emulator.client(caller="StopJob")

    stop.stop_model_customization_job(jobIdentifier=ours)
    _refused(lambda: stop.stop_model_customization_job(jobIdentifier=theirs))
    assert emulator.running_jobs() == [theirs]


def test_a_job_that_was_never_created_is_refused_not_reported_missing_so_it_is_found_by_listing(emulator):
    """Why StopJob lists first: the tag condition cannot hold for a job that does not exist."""
    stop = emulator.client(caller="StopJob")
    missing = _names(ENVIRONMENT).job_name

    _refused(lambda: stop.get_model_customization_job(jobIdentifier=missing))
    assert stop.list_model_customization_jobs(nameContains=missing)["modelCustomizationJobSummaries"] == []


@pytest.mark.parametrize(
    ("tags", "allowed"),
    [
        (_tags(ENVIRONMENT), True),
        (_tags("prod"), False),  # another environment's tags
        ([t for t in _tags(ENVIRONMENT) if t["key"] != "project"], False),  # a required tag missing
        (_tags(ENVIRONMENT, owner="someone"), False),  # a tag key the runs never set
        ([], False),
    ],
)
def test_a_job_is_created_only_with_this_environments_run_tags(emulator, tags, allowed):
    start = emulator.client(caller="StartCustomizationJob")
    request = _job_request(ENVIRONMENT, tags)

    if allowed:
        assert start.create_model_customization_job(**request)["jobArn"]
    else:
        message = _refused(lambda: start.create_model_customization_job(**request))
        assert "bedrock:CreateModelCustomizationJob" in message and emulator.jobs == {}


def _served_model(emulator: BedrockEmulator, environment: str) -> tuple[str, str]:
    """(custom model, deployment) of a completed run of `environment`."""
    job_arn = _job_of(emulator, environment)
    emulator.clock.sleep(7 * 3600)
    model = emulator.client().get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]
    deployment = emulator.client().create_custom_model_deployment(
        modelDeploymentName=f"{environment}-deployment", modelArn=model, tags=_tags(environment)
    )["customModelDeploymentArn"]
    emulator.clock.sleep(3600)
    return model, deployment


def test_serving_is_created_for_this_environments_models_only(emulator):
    ours, _ = _served_model(emulator, ENVIRONMENT)
    theirs, _ = _served_model(emulator, "prod")
    create = emulator.client(caller="CreateServing")

    assert create.create_custom_model_deployment(
        modelDeploymentName="ours-again", modelArn=ours, tags=_tags(ENVIRONMENT)
    )["customModelDeploymentArn"]
    _refused(
        lambda: create.create_custom_model_deployment(
            modelDeploymentName="theirs-again", modelArn=theirs, tags=_tags(ENVIRONMENT)
        )
    )
    _refused(lambda: create.get_custom_model(modelIdentifier=theirs))


def test_evaluation_invokes_this_environments_serving_and_the_base_model_not_anothers(emulator):
    _, ours = _served_model(emulator, ENVIRONMENT)
    _, theirs = _served_model(emulator, "prod")
    runtime = emulator.client("bedrock-runtime", caller="EvaluateModel")
    question = [{"role": "user", "content": [{"text": "Classify: invoice overdue"}]}]

    assert runtime.converse(modelId=ours, messages=question)["output"]["message"]["content"]
    assert runtime.converse(modelId="amazon.nova-micro-v1:0", messages=question)["output"]
    message = _refused(lambda: runtime.converse(modelId=theirs, messages=question))
    assert f"bedrock:InvokeModel on resource: {theirs}" in message


def test_the_safety_net_deletes_this_environments_serving_and_not_anothers(emulator):
    _, ours = _served_model(emulator, ENVIRONMENT)
    _, theirs = _served_model(emulator, "prod")
    safety_net = emulator.client(caller="SafetyNet")

    # Reading every serving's tags is how it tells them apart, so that stays allowed.
    assert safety_net.list_tags_for_resource(resourceARN=theirs)["tags"]
    safety_net.delete_custom_model_deployment(customModelDeploymentIdentifier=ours)
    _refused(lambda: safety_net.delete_custom_model_deployment(customModelDeploymentIdentifier=theirs))
    assert emulator.billed_servings() == [theirs]


def test_a_function_without_a_grant_is_refused_what_it_never_needed(emulator):
    ours = _job_of(emulator, ENVIRONMENT)

    _refused(lambda: emulator.client(caller="WatchJob").stop_model_customization_job(jobIdentifier=ours))
    _refused(lambda: emulator.client(caller="Notify").get_model_customization_job(jobIdentifier=ours))


def _completed_model(emulator: BedrockEmulator, environment: str) -> str:
    job_arn = _job_of(emulator, environment)
    emulator.clock.sleep(7 * 3600)
    return emulator.client().get_model_customization_job(jobIdentifier=job_arn)["outputModelArn"]


# The shape of a real S3 version id (S3's user guide, "How S3 Versioning works").
S3_VERSION_ID = "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"


def test_re_fine_tuning_builds_on_this_environments_model_only(emulator):
    """CreateModelCustomizationJob is authorized on the parent custom model too: a parent tagged
    as another environment's is refused (aws:ResourceTag IfExists), this environment's is not,
    and the run's parentRun and datasetVersion tags are among the keys creation may carry (an
    S3 version id as S3 writes them, with '/' and '+', fits Bedrock's TagValue pattern)."""
    ours, theirs = _completed_model(emulator, ENVIRONMENT), _completed_model(emulator, "prod")
    start = emulator.client(caller="StartCustomizationJob")
    child = run_names(ENVIRONMENT, "data", "datasets/mail-refined/train.jsonl", "v1")
    tags = [
        {"key": k, "value": v}
        for k, v in child.model_tags(dataset_version=S3_VERSION_ID, parent="mail-0123456789abcdef").items()
    ]
    request = {
        **_job_request(ENVIRONMENT, tags),
        "jobName": child.job_name,
        "customModelName": child.custom_model_name,
    }

    message = _refused(lambda: start.create_model_customization_job(**{**request, "baseModelIdentifier": theirs}))
    assert f"on resource: {theirs}" in message
    assert start.create_model_customization_job(**{**request, "baseModelIdentifier": ours})["jobArn"]
    assert emulator.jobs[child.job_name].parent == ours
    assert {"key": "datasetVersion", "value": S3_VERSION_ID} in emulator.jobs[child.job_name].request["customModelTags"]


def test_validation_reads_this_environments_models_and_lists_to_find_a_runs_model(emulator):
    ours, theirs = _completed_model(emulator, ENVIRONMENT), _completed_model(emulator, "prod")
    validate = emulator.client(caller="ValidateDataset")

    assert validate.get_custom_model(modelIdentifier=ours)["modelArn"] == ours
    assert validate.list_tags_for_resource(resourceARN=ours)["tags"]
    assert len(validate.list_custom_models(nameContains=_names("prod").run_id)["modelSummaries"]) == 2
    _refused(lambda: validate.get_custom_model(modelIdentifier=theirs))
    _refused(lambda: validate.list_tags_for_resource(resourceARN=theirs))
