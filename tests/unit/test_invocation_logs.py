"""Distillation from Bedrock invocation logs: the environment allows log prefixes, a run's
job.json names one, and everything else is refused at validation in one line each; the job
request carries invocationLogsConfig; the cost is unknown, and bounded for the ceiling."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from customization import invocation_logs
from customization.naming import RunNames
from customization.serving import ServingPlan
from customization.training import CostCeilingExceeded, JobEnvironment, check_cost, start_job
from customization.validation.jobspec import RunDefaults
from stacks.config import ConfigError, cdk_json_context, load_environments
from tests.aws_world import CapturingBedrock
from tools.datasets import check_with_environment
from tools.local_run.strict import validate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distill-from-invocation-logs"
PREFIX = "s3://team-bedrock-logs/bedrock/AWSLogs/"
LOGS = {"s3Uri": PREFIX + "123456789012/", "usePromptResponse": False}
JOB = {
    "baseModel": "amazon.nova-micro-v1:0:128k",
    "customizationType": "DISTILLATION",
    "teacherModel": "amazon.nova-pro-v1:0",
    "maxResponseLengthForInference": 256,
    "invocationLogs": LOGS,
}


def _environment(**customization) -> dict:
    environments = json.loads(json.dumps(cdk_json_context()["environments"]))
    environments["dev"]["customization"].update(customization)
    return environments


@pytest.fixture(scope="module")
def dev() -> RunDefaults:
    return load_environments(_environment(invocationLogPrefixes=[PREFIX]))["dev"].run_defaults()


def _check(defaults, tmp_path, job, train: str = ""):
    (tmp_path / "train.jsonl").write_text(train, encoding="utf-8")
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    return check_with_environment(defaults, ServingPlan(), tmp_path / "train.jsonl", job=tmp_path / "job.json")


def _errors(result) -> list[str]:
    return [str(problem) for problem in result.log.problems if problem.severity == "error"]


def test_a_run_from_logs_under_an_allowed_prefix_passes_with_an_empty_file(dev, tmp_path):
    result = _check(dev, tmp_path, JOB)

    assert result.valid, _errors(result)
    assert result.settings.as_dict()["invocationLogs"] == LOGS  # what the run's state carries to StartJob
    assert result.summary()["records"] == {"train": 0, "validation": 0}


def test_the_bundled_example_passes_outside_an_environment(tmp_path):
    defaults = replace(
        load_environments(cdk_json_context()["environments"])["dev"].run_defaults(), invocation_log_prefixes=None
    )
    result = check_with_environment(defaults, ServingPlan(), EXAMPLE / "train.jsonl", job=EXAMPLE / "job.json")

    assert result.valid, _errors(result)


def test_a_prefix_the_environment_does_not_allow_is_refused_in_one_line(dev, tmp_path):
    result = _check(dev, tmp_path, {**JOB, "invocationLogs": {"s3Uri": "s3://someone-elses-logs/bedrock/"}})

    (error,) = _errors(result)
    assert (
        "invocationLogs.s3Uri s3://someone-elses-logs/bedrock/ is not under a log prefix this environment allows"
        in error
    )
    assert PREFIX in error and "customization.invocationLogPrefixes" in error


def test_an_environment_without_prefixes_refuses_every_run_from_logs(tmp_path):
    defaults = load_environments(cdk_json_context()["environments"])["dev"].run_defaults()

    (error,) = _errors(_check(defaults, tmp_path, JOB))

    assert "it allows none" in error


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"equals": {"a": "1"}, "orAll": []}, "exactly one of equals, notEquals, andAll, orAll"),
        ({"equals": {"a": "1", "b": "2"}}, ".equals: must map exactly one metadata key"),
        ({"notEquals": {"bad key!": "x"}}, "key 'bad key!' must be 1 to 256"),
        ({"equals": {"project": 7}}, "value 7 of 'project' must be a string"),
        ({"andAll": []}, ".andAll: must be a list of 1 to 16 base filters"),
        ({"orAll": [{"equals": {"a": "1"}}] * 17}, ".orAll: must be a list of 1 to 16"),
        ({"orAll": [{"andAll": []}]}, '.orAll[0]: must be {"equals"'),
        ({"equals": {"k": "x" * 257}}, "must be a string of 0 to 256"),
    ],
)
def test_malformed_metadata_filters_are_refused_in_one_line(dev, tmp_path, filters, expected):
    result = _check(dev, tmp_path, {**JOB, "invocationLogs": {**LOGS, "requestMetadataFilters": filters}})

    (error,) = _errors(result)
    assert "invocationLogs.requestMetadataFilters" in error and expected in error


def test_what_the_filter_check_accepts_botocore_strict_validation_accepts_too():
    for filters in (
        {"equals": {"project": "support-replies"}},
        {"notEquals": {"team": ""}},
        {"andAll": [{"equals": {"a": "1"}}, {"notEquals": {"b": "2"}}]},
        {"orAll": [{"equals": {"k:x/y=z+1$@-": "v 1.2"}}] * 16},
    ):
        assert invocation_logs.filter_problems(filters) == []
        request = {
            "jobName": "j",
            "customModelName": "m",
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
            "trainingDataConfig": {
                "invocationLogsConfig": invocation_logs.request_config({**LOGS, "requestMetadataFilters": filters})
            },
            "outputDataConfig": {"s3Uri": "s3://out/jobs/"},
        }
        assert validate("bedrock", "CreateModelCustomizationJob", request) == []


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (
            {**JOB, "customizationType": "FINE_TUNING", "teacherModel": None, "maxResponseLengthForInference": None},
            "invocationLogs is for customizationType DISTILLATION only; this run is 'FINE_TUNING'",
        ),
        (
            {**JOB, "invocationLogs": {"s3Uri": PREFIX, "usePromptResponse": "yes"}},
            "usePromptResponse must be true or false",
        ),
        ({**JOB, "invocationLogs": {"usePromptResponse": True}}, "invocationLogs.s3Uri is required"),
        ({**JOB, "invocationLogs": {**LOGS, "filters": {}}}, "unknown key 'filters'"),
        ({**JOB, "invocationLogs": "s3://team-bedrock-logs/bedrock/"}, "invocationLogs must be an object"),
        ({**JOB, "invocationLogs": {"s3Uri": "s3://team-bedrock-logs/bedrock/AWSLogs/*/"}}, "no '*' or '?'"),
    ],
)
def test_everything_else_is_refused_in_one_line(dev, tmp_path, job, expected):
    job = {key: value for key, value in job.items() if value is not None}

    # One line about invocationLogs (a fine-tuning run's empty file is refused on its own line too).
    (error,) = [error for error in _errors(_check(dev, tmp_path, job)) if "invocationLogs" in error]

    assert expected in error


def test_a_training_file_with_records_beside_invocation_logs_is_refused(dev, tmp_path):
    record = {"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}

    (error,) = _errors(_check(dev, tmp_path, JOB, train=json.dumps(record) + "\n"))

    assert "job.json takes the prompts from invocationLogs, so this file must be empty" in error


def test_the_cost_is_unknown_never_0_and_bounded_by_15000_prompts(dev, tmp_path):
    cost = _check(dev, tmp_path, JOB).cost.as_dict()

    assert cost["trainingUsd"] is None and cost["promptsUnknown"] is True
    # 15,000 prompts x 256 tokens: Nova Pro's answers ($0.0032/1k) and Nova Micro's training ($0.001/1k).
    tokens = 15_000 * 256
    assert cost["upperBoundUsd"] == round(round(tokens / 1000 * 0.001, 2) + round(tokens / 1000 * 0.0032, 2), 2)
    assert any("15,000 prompts" in note for note in cost["notes"])


def test_the_bound_is_held_to_the_ceiling_at_validation_and_before_the_job(dev, tmp_path):
    result = _check(dev, tmp_path, {**JOB, "maxResponseLengthForInference": 4096})

    (error,) = _errors(result)
    assert "at most 15,000 prompts it may be $" in error and "above this environment's ceiling $25.00" in error
    with pytest.raises(CostCeilingExceeded):
        check_cost({"cost": result.cost.as_dict()}, 25)


ENV = JobEnvironment(
    environment="dev",
    role_arn="arn:aws:iam::123456789012:role/customization",
    output_bucket="out",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1b4e2c4e-1111-4a4a-9b9b-123456789012",
    teachers={"amazon.nova-pro-v1:0": "amazon.nova-pro-v1:0"},
    invocation_log_prefixes=(PREFIX,),
)


def _summary(logs: dict) -> dict:
    settings = {**JOB, "hyperParameters": {}, "invocationLogs": logs}
    return {"settings": settings, "prepared": {"trainUri": "s3://data/prepared/run/train.jsonl"}, "cost": {}}


def test_the_job_reads_the_logs_instead_of_a_file():
    bedrock = CapturingBedrock()
    logs = {**LOGS, "requestMetadataFilters": {"equals": {"project": "support"}}}

    start_job(bedrock, RunNames("dev", "replies", "replies", "0123456789abcdef"), _summary(logs), ENV)

    (request,) = bedrock.requests
    assert request["trainingDataConfig"] == {
        "invocationLogsConfig": {
            "invocationLogSource": {"s3Uri": LOGS["s3Uri"]},
            "usePromptResponse": False,
            "requestMetadataFilters": {"equals": {"project": "support"}},
        }
    }


def test_a_prefix_outside_the_environment_is_refused_before_bedrock_too():
    with pytest.raises(Exception, match="not under this environment's log prefixes"):
        start_job(
            CapturingBedrock(),
            RunNames("dev", "replies", "replies", "0123456789abcdef"),
            _summary({"s3Uri": "s3://other/logs/"}),
            ENV,
        )


@pytest.mark.parametrize(
    ("customization", "expected"),
    [
        ({"invocationLogPrefixes": ["s3://team-bedrock-logs/"]}, "at least one folder"),
        ({"invocationLogPrefixes": ["s3://team-bedrock-logs/logs"]}, "ending in '/'"),
        ({"invocationLogPrefixes": [PREFIX], "teacherModels": []}, "allows no teacher"),
        ({"invocationLogKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abcd-1234"}, "set invocationLogPrefixes too"),
        ({"invocationLogPrefixes": [PREFIX], "invocationLogKeyArn": "alias/logs"}, "invocationLogKeyArn"),
    ],
)
def test_the_environment_settings_are_checked_at_synth(customization, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("*", r"\*")):
        load_environments(_environment(**customization))


def test_a_log_key_of_another_account_is_refused_where_the_account_is_pinned():
    environments = json.loads(json.dumps(cdk_json_context()["environments"]))
    environments["prod"]["customization"].update(
        teacherModels=["amazon.nova-pro-v1:0"],
        invocationLogPrefixes=[PREFIX],
        invocationLogKeyArn="arn:aws:kms:us-east-1:444455556666:key/abcd-1234",
    )

    with pytest.raises(ConfigError, match="invocation logs are read from this account only"):
        load_environments(environments)


def test_filters_match_as_bedrock_applies_them():
    support = {"project": "support", "team": "a"}
    assert invocation_logs.matches(support, None)
    assert invocation_logs.matches(support, {"equals": {"project": "support"}})
    assert not invocation_logs.matches(support, {"notEquals": {"project": "support"}})
    assert invocation_logs.matches(
        support, {"andAll": [{"equals": {"project": "support"}}, {"notEquals": {"team": "b"}}]}
    )
    assert not invocation_logs.matches(
        support, {"andAll": [{"equals": {"project": "support"}}, {"equals": {"team": "b"}}]}
    )
    assert invocation_logs.matches(support, {"orAll": [{"equals": {"project": "x"}}, {"equals": {"team": "a"}}]})
