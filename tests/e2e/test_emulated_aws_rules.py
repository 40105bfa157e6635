"""The emulated Bedrock refuses what a real account refuses. Each rule here once let a run pass
offline that AWS would have stopped; the tests put the old behaviour back and watch it fail."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from botocore.exceptions import ClientError

from customization.naming import run_names
from customization.serving import PROVISIONED, ServingPlan, create_serving
from customization.training import stop_job
from tests.aws_world import REGION, trained_model
from tools.local_run.bedrock import BedrockEmulator, Behaviour, SimulatedClock
from tools.local_run.deployment import LocalDeployment
from tools.local_run.runner import assembly_for

NOVA = "amazon.nova-micro-v1:0:128k"


def _emulator(**behaviour) -> BedrockEmulator:
    clock = SimulatedClock(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC))
    return BedrockEmulator(clock=clock, region=REGION, behaviour=Behaviour(**behaviour), today=dt.date(2026, 11, 26))


def _names(dataset: str = "mail"):
    return run_names("prod", "data", f"datasets/{dataset}/train.jsonl", "v1")


def _prod_key_policies() -> tuple[str, dict[str, dict]]:
    deployment = LocalDeployment(assembly_for("prod", {}), "prod", REGION, "BedrockCustomization")
    policies = deployment.key_policies()
    [data_key] = [arn for arn, policy in policies.items() if "BedrockUsesTheKeyOfItsCustomModels" in str(policy)]
    return data_key, policies


def test_provisioned_throughput_of_a_model_under_our_key_needs_bedrock_in_the_key_policy():
    data_key, policies = _prod_key_policies()
    emulator = _emulator()
    emulator.key_policies = policies
    model = trained_model(emulator, _names(), NOVA, kms_key=data_key)

    served = create_serving(emulator.client(), _names(), model, ServingPlan(PROVISIONED))
    assert served["arn"].startswith(f"arn:aws:bedrock:{REGION}:")

    # The key policy as it was before the fix: only the account-root statement.
    without = copy.deepcopy(policies)
    without[data_key]["Statement"] = [s for s in without[data_key]["Statement"] if "Sid" not in s]
    emulator = _emulator()
    emulator.key_policies = without
    model = trained_model(emulator, _names("other"), NOVA, kms_key=data_key)
    with pytest.raises(Exception, match=r"its key policy must allow bedrock\.amazonaws\.com"):
        create_serving(emulator.client(), _names("other"), model, ServingPlan(PROVISIONED))


def test_serving_a_model_that_is_not_active_yet_is_refused():
    emulator = _emulator(model_creating_minutes=90)
    model = trained_model(emulator, _names(), NOVA)  # the job ended an hour ago
    bedrock = emulator.client()

    with pytest.raises(ClientError, match="must be in the Active state, not Creating"):
        bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model)
    emulator.clock.sleep(31 * 60)  # now 90 minutes after the job's end
    assert bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model)


@pytest.mark.parametrize(
    ("model", "refused"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", True),
        ("amazon.titan-text-express-v1:0:8k", True),
        ("meta.llama3-2-1b-instruct-v1:0:128k", True),
        (NOVA, False),
    ],
)
def test_a_model_past_its_end_of_life_cannot_be_customized(model, refused):
    emulator = _emulator()
    request = {
        "jobName": "j",
        "customModelName": "m",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "baseModelIdentifier": model,
        "trainingDataConfig": {"s3Uri": "s3://data/prepared/mail/0123456789abcdef/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://out/jobs/j/"},
    }
    if refused:
        with pytest.raises(ClientError, match="reached the end of its life"):
            emulator.client().create_model_customization_job(**request)
    else:
        assert emulator.client().create_model_customization_job(**request)["jobArn"]


def test_stopping_a_job_that_just_ended_is_a_conflict_the_pipeline_reads_as_already_ended():
    emulator = _emulator()
    trained_model(emulator, _names(), NOVA)  # completed
    bedrock = emulator.client()
    with pytest.raises(ClientError, match="ConflictException"):
        bedrock.stop_model_customization_job(jobIdentifier=_names().job_name)

    # The job ends between the pipeline's look and its stop request.
    emulator.jobs[_names().job_name].status = "InProgress"
    looked = {}
    original = emulator._status

    def status_then_ended(job):
        looked[job.arn] = looked.get(job.arn, 0) + 1
        if looked[job.arn] > 1:
            job.status = "Completed"
        return original(job) if looked[job.arn] > 1 else "InProgress"

    emulator._status = status_then_ended
    outcome = stop_job(bedrock, _names().job_name)

    assert outcome["stopped"] is False and "job is Completed" in outcome["reason"]


def test_custom_model_names_are_unique_in_the_account():
    emulator = _emulator()
    trained_model(emulator, _names(), NOVA)
    with pytest.raises(ClientError, match=r"A custom model named .* already exists"):
        emulator.client().create_model_customization_job(
            jobName="another-job",
            customModelName=_names().custom_model_name,
            roleArn="arn:aws:iam::123456789012:role/r",
            baseModelIdentifier=NOVA,
            trainingDataConfig={"s3Uri": "s3://data/prepared/mail/0123456789abcdef/train.jsonl"},
            outputDataConfig={"s3Uri": "s3://out/jobs/j/"},
        )
