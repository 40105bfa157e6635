"""Re-fine-tuning (job.json `baseRun`): offline syntax checks, the ValidateDataset step's
resolution against the emulated Bedrock (each refusal one line naming the parent), the job it
starts (the parent's ARN as baseModelIdentifier, the parentRun tag), and the deployed IAM that
lets StartCustomizationJob build on this environment's models only."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws
from validate_dataset import handler

from customization import runtime
from customization.catalog import load_catalog
from customization.naming import run_names
from customization.training import JobEnvironment, start_job
from customization.validation.jobspec import JobSettings, apply_job_file
from customization.validation.problems import ProblemLog
from customization.validation.upload import DatasetInvalidError
from tests.aws_world import REGION, trained_model
from tests.conftest import ROOT
from tests.dataset_helpers import NOVA_MICRO
from tools.local_run.bedrock import BedrockEmulator, Behaviour, SimulatedClock

BUCKET = "data-bucket"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
DEFAULTS = {
    "baseModel": NOVA_MICRO,
    "customizationType": "FINE_TUNING",
    "hyperParameters": {"epochCount": "2"},
    "validationSplit": 0.1,
}
# An S3 version id as S3 writes them ('/' and '+' included), which the parent's tag carries.
PARENT_VERSION = "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
PARENT_UPLOAD = ("data-bucket", "datasets/mail/train.jsonl", PARENT_VERSION)


# -- offline: the key's syntax -----------------------------------------------------------------


def _applied(job: dict) -> tuple[JobSettings, ProblemLog]:
    log = ProblemLog()
    settings = apply_job_file(JobSettings(base_model=NOVA_MICRO), json.dumps(job), log)
    return settings, log


@pytest.mark.parametrize(
    "reference",
    [
        "email-classifier-38f4b4ba2e8f4a27",
        "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456",
    ],
)
def test_a_run_name_or_a_custom_model_arn_is_a_valid_base_run(reference):
    settings, log = _applied({"baseRun": reference})

    assert log.error_count == 0
    assert settings.as_dict()["baseRun"] == reference


@pytest.mark.parametrize(
    "reference",
    [
        "email-classifier",  # no run id
        "email-classifier-38F4B4BA2E8F4A27",  # run ids are lower-case hex
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456",
        42,
    ],
)
def test_anything_else_is_refused_offline_in_one_line_naming_the_key(reference):
    _, log = _applied({"baseRun": reference})

    [problem] = log.problems
    assert "baseRun must name a run of this environment" in problem.message
    assert "\n" not in problem.message


def test_base_model_and_base_run_together_are_refused():
    settings, log = _applied({"baseModel": NOVA_2_LITE, "baseRun": "mail-0123456789abcdef"})

    assert [p.message.split(":")[0] for p in log.problems] == ["baseModel and baseRun cannot both be set"]
    assert settings.base_model == NOVA_MICRO


def test_the_catalog_allows_fine_tuning_on_fine_tuned_or_distilled_parents_only_with_its_source():
    micro = load_catalog().model(NOVA_MICRO).recustomization

    assert micro.problem("Nova Micro", "FINE_TUNING", "FINE_TUNING") is None
    assert micro.problem("Nova Micro", "FINE_TUNING", "DISTILLATION") is None
    assert "model-customization-submit.html" in micro.problem("Nova Micro", "DISTILLATION", "FINE_TUNING")
    nova_2 = load_catalog().model(NOVA_2_LITE).recustomization
    assert "REINFORCEMENT_FINE_TUNING cannot be customized again" in nova_2.problem(
        "Nova 2 Lite", "FINE_TUNING", "REINFORCEMENT_FINE_TUNING"
    )


# -- the ValidateDataset step, against the emulated Bedrock ----------------------------------------


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "dev")
    monkeypatch.setenv("DEFAULT_JOB_SETTINGS", json.dumps(DEFAULTS))
    monkeypatch.setenv("ALLOWED_BASE_MODELS", json.dumps([NOVA_MICRO, NOVA_2_LITE]))
    monkeypatch.setenv("SERVING", json.dumps({"mode": "none"}))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    runtime.reset()
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
    runtime.reset()


def _emulator(**behaviour) -> BedrockEmulator:
    clock = SimulatedClock(dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC))
    return BedrockEmulator(clock=clock, region=REGION, behaviour=Behaviour(**behaviour), today=dt.date(2026, 11, 26))


def _parent(emulator, environment: str = "dev", base_model: str = NOVA_MICRO, **request) -> tuple[str, str]:
    """A completed run of `environment`: (its run name, its custom model ARN)."""
    names = run_names(environment, *PARENT_UPLOAD)
    tags = [{"key": k, "value": v} for k, v in names.model_tags(dataset_version=PARENT_UPLOAD[2]).items()]
    if request:
        emulator.client().create_model_customization_job(
            jobName=names.job_name,
            customModelName=names.custom_model_name,
            roleArn="arn:aws:iam::123456789012:role/r",
            baseModelIdentifier=base_model,
            trainingDataConfig={"s3Uri": "s3://data-bucket/prepared/mail/0123456789abcdef/train.jsonl"},
            outputDataConfig={"s3Uri": "s3://output-bucket/jobs/"},
            jobTags=tags,
            customModelTags=tags,
            **request,
        )
        emulator.clock.sleep(7 * 3600)
        return names.execution_name, emulator.jobs[names.job_name].model_arn
    return names.execution_name, trained_model(emulator, names, base_model, tags=tags)


def _validate(s3, emulator, job: dict) -> dict:
    s3.put_object(Bucket=BUCKET, Key="datasets/spam/job.json", Body=json.dumps(job).encode())
    train = (ROOT / "examples/email-classifier/train.jsonl").read_bytes()
    version = s3.put_object(Bucket=BUCKET, Key="datasets/spam/train.jsonl", Body=train)["VersionId"]
    event = {"bucket": BUCKET, "key": "datasets/spam/train.jsonl", "versionId": version}
    return handler.lambda_handler(event, None, s3=s3, bedrock=emulator.client())


def _refusal(s3, emulator, job: dict) -> str:
    """The line (one) of the refusal that names the parent."""
    with pytest.raises(DatasetInvalidError) as raised:
        _validate(s3, emulator, job)
    [line] = [line for line in str(raised.value).splitlines() if "base-run" in line]
    return line


def test_a_run_of_this_environment_resolves_to_its_model_and_the_run_trains_on_top_of_it(s3):
    emulator = _emulator()
    parent_run, parent_model = _parent(emulator)

    summary = _validate(s3, emulator, {"baseRun": parent_run, "hyperParameters": {"epochCount": "1"}})

    assert summary["settings"]["parentModel"] == parent_model
    assert summary["settings"]["baseModel"] == NOVA_MICRO  # bounds, cost and evaluation: the foundation model
    assert summary["settings"]["hyperParameters"]["epochCount"] == "1"
    assert summary["lineage"]["parentRun"] == parent_run
    assert summary["lineage"]["parentModel"] == parent_model
    assert summary["lineage"]["parentDataset"] == "mail"
    assert summary["lineage"]["parentDatasetVersion"] == PARENT_VERSION  # from the parent model's tag
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=summary["reportUri"].split("/", 3)[3])["Body"].read())
    assert report["lineage"] == summary["lineage"]


def test_a_custom_model_arn_resolves_and_names_its_run_from_the_tags(s3):
    emulator = _emulator()
    parent_run, parent_model = _parent(emulator)

    summary = _validate(s3, emulator, {"baseRun": parent_model})

    assert summary["lineage"]["parentRun"] == parent_run
    assert summary["settings"]["baseRun"] == parent_model


def test_a_sweep_run_resolves_to_its_winners_model_and_one_that_kept_several_asks_for_the_arn(s3):
    emulator = _emulator()
    names = run_names("dev", *PARENT_UPLOAD)
    tags = [{"key": k, "value": v} for k, v in names.tags.items()]
    winner = trained_model(emulator, names.for_variant(2), NOVA_MICRO, tags=tags)

    summary = _validate(s3, emulator, {"baseRun": names.execution_name})
    other = trained_model(emulator, names.for_variant(3), NOVA_MICRO, tags=tags)  # keepSweepModels kept it
    line = _refusal(s3, emulator, {"baseRun": names.execution_name})

    assert summary["lineage"]["parentModel"] == winner
    assert "that run kept 2 custom models (a sweep with keepSweepModels): name the one to customize by its ARN" in line
    assert winner in line and other in line


def test_an_unknown_run_is_refused_naming_it(s3):
    line = _refusal(s3, _emulator(), {"baseRun": "mail-0123456789abcdef"})

    assert "baseRun 'mail-0123456789abcdef': no custom model of that run in environment 'dev'" in line
    assert "python -m tools status --env dev" in line


def test_another_environments_model_is_refused_naming_it(s3):
    emulator = _emulator()
    _, prod_model = _parent(emulator, environment="prod")

    line = _refusal(s3, emulator, {"baseRun": prod_model})

    assert f"{prod_model} is not a custom model of environment 'dev' (its tags say 'prod')" in line


def test_another_environments_run_name_is_not_found_in_this_one(s3):
    emulator = _emulator()
    prod_run, _ = _parent(emulator, environment="prod")

    line = _refusal(s3, emulator, {"baseRun": prod_run})

    assert "no custom model of that run in environment 'dev'" in line


def test_a_model_still_creating_is_refused_until_it_is_active(s3):
    emulator = _emulator(model_creating_minutes=600)
    parent_run, parent_model = _parent(emulator)

    line = _refusal(s3, emulator, {"baseRun": parent_run})

    assert f"the custom model {parent_model} is Creating, not Active: wait until it is Active" in line


def test_a_parent_whose_base_model_is_not_allowed_here_is_refused(s3, monkeypatch):
    monkeypatch.setenv("ALLOWED_BASE_MODELS", json.dumps([NOVA_MICRO]))
    emulator = _emulator()
    parent_run, _ = _parent(emulator, base_model=NOVA_2_LITE)

    line = _refusal(s3, emulator, {"baseRun": parent_run})

    assert f"its base model {NOVA_2_LITE} is not allowed in this environment" in line
    assert "customization.otherBaseModels" in line


def test_a_method_the_catalog_does_not_allow_on_a_custom_model_is_refused(s3):
    emulator = _emulator()
    parent_run, _ = _parent(emulator)

    line = _refusal(
        s3,
        emulator,
        {"baseRun": parent_run, "customizationType": "DISTILLATION", "teacherModel": "amazon.nova-pro-v1:0"},
    )

    assert "a custom model cannot be customized again by DISTILLATION (allowed: FINE_TUNING)" in line
    assert "model-customization-submit.html" in line


# -- the job it starts -----------------------------------------------------------------------------


def test_the_job_builds_on_the_parent_model_and_tags_the_parent_run():
    emulator = _emulator()
    parent_run, parent_model = _parent(emulator)
    names = run_names("dev", BUCKET, "datasets/spam/train.jsonl", "v2")
    summary = {
        "settings": {
            "baseModel": NOVA_MICRO,
            "customizationType": "FINE_TUNING",
            "hyperParameters": {"epochCount": "1"},
            "parentModel": parent_model,
        },
        "prepared": {"trainUri": "s3://data-bucket/prepared/spam/0123456789abcdef/train.jsonl"},
        "dataset": {"name": "spam", "bucket": BUCKET, "key": "datasets/spam/train.jsonl", "versionId": "v2"},
        "lineage": {"parentRun": parent_run, "parentModel": parent_model},
    }
    env = JobEnvironment(
        "dev",
        "arn:aws:iam::123456789012:role/r",
        "output-bucket",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )

    start_job(emulator.client(), names, summary, env)

    job = emulator.jobs[names.job_name]
    assert job.request["baseModelIdentifier"] == parent_model
    assert {"key": "parentRun", "value": parent_run} in job.request["customModelTags"]
    # The child's own upload version: what a run customizing this one further reads back.
    assert {"key": "datasetVersion", "value": "v2"} in job.request["customModelTags"]
    assert {"key": "datasetVersion", "value": "v2"} in job.request["jobTags"]
    assert job.parent == parent_model and job.foundation == NOVA_MICRO


def test_bedrock_refuses_a_parent_that_is_not_active():
    emulator = _emulator(model_creating_minutes=600)
    _, parent_model = _parent(emulator)

    with pytest.raises(Exception, match="not in Active state"):
        _parent(emulator, environment="prod", base_model=parent_model, clientRequestToken="t2")


# -- what `tools status RUN` and `tools compare` show ------------------------------------------------


class _Sfn:
    def __init__(self, output: dict) -> None:
        self.output = output

    def describe_execution(self, executionArn):
        return {
            "name": executionArn.rsplit(":", 1)[-1],
            "status": "SUCCEEDED",
            "startDate": dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC),
            "output": json.dumps(self.output),
            "input": "{}",
        }

    def get_execution_history(self, **kwargs):
        return {"events": []}


class _Session:
    def __init__(self, output: dict) -> None:
        self.sfn = _Sfn(output)

    def client(self, service: str):
        return self.sfn if service == "stepfunctions" else None


def test_status_shows_the_parent_and_compare_has_it_in_the_parent_row():
    from tools import compare, status
    from tools.deployed import DeployedEnvironment

    lineage = {
        "parentRun": "mail-0123456789abcdef",
        "parentModel": "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456",
        "parentDataset": "mail",
        "parentDatasetVersion": PARENT_VERSION,
        "parentHyperParameters": {"epochCount": "2"},
    }
    output = {"validation": {"settings": {"baseModel": NOVA_MICRO}, "lineage": lineage}}
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:BedrockCustomization-dev-Workflow"
    environment = DeployedEnvironment("dev", REGION, {"StateMachineArn": machine}, config=None)

    detail = status.run_detail(_Session(output), environment, "spam-fedcba9876543210")

    assert detail["lineage"] == lineage
    assert (
        f"parent: mail-0123456789abcdef (model {lineage['parentModel']}; it trained with epochCount=2 "
        f"on mail version {PARENT_VERSION})" in status.render_detail(detail).splitlines()
    )
    assert compare.column(detail)["parent"] == f"mail-0123456789abcdef (dataset version {PARENT_VERSION})"


def test_a_parent_from_before_the_dataset_version_tag_still_resolves_without_a_version(s3):
    """Models of runs from before the datasetVersion tag (or of unversioned uploads) carry none:
    the lineage says nothing about the version rather than guessing."""
    emulator = _emulator()
    names = run_names("dev", "data-bucket", "datasets/mail/train.jsonl", None)
    tags = [{"key": k, "value": v} for k, v in names.model_tags(dataset_version="null").items()]
    assert "datasetVersion" not in {tag["key"] for tag in tags}  # S3's "null" version is no version
    # A version the tag could only hold folded or cut is left out, not shown altered as the real one.
    for unfit in ("v1~2", "x" * 300):
        assert "datasetVersion" not in names.model_tags(dataset_version=unfit)
    parent_model = trained_model(emulator, names, NOVA_MICRO, tags=tags)

    summary = _validate(s3, emulator, {"baseRun": parent_model})

    assert summary["lineage"]["parentRun"] == names.execution_name
    assert "parentDatasetVersion" not in summary["lineage"]
