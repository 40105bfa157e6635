"""`python -m tools serve`: what it says a serving will bill before --yes creates it, and a run it
leaves alone."""

from __future__ import annotations

import json

import pytest

from customization.bedrock_errors import BedrockThrottled
from customization.serving import CustomModelFailed, CustomModelNotReady, ServingPlan
from tools.deployed import DeployedEnvironment, UsageError
from tools.serve import _names_of_run, _refused, _require_usable, _what_it_bills


def test_throughput_says_it_bills_by_the_hour():
    assert _what_it_bills(ServingPlan("provisioned", 1, "none")) == (
        "(1 model unit(s), no commitment: billed every hour until deleted; see python -m tools cost)"
    )
    assert _what_it_bills(ServingPlan("provisioned", 2, "SixMonths")).startswith(
        "(2 model unit(s), a SixMonths commitment: billed for the whole term, which cannot be ended early"
    )


class _Sfn:
    def describe_execution(self, executionArn):
        return {
            "status": "RUNNING",
            "input": json.dumps({"upload": {"bucket": "b", "key": "datasets/mail/train.jsonl"}}),
        }


class _Session:
    def client(self, service):
        assert service == "stepfunctions", "nothing is asked of Bedrock for a run that is still running"
        return _Sfn()


def test_a_run_still_running_is_left_to_its_own_serving_step():
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:BedrockCustomization-dev-Workflow"
    environment = DeployedEnvironment("dev", "us-east-1", {"StateMachineArn": machine}, config=None)

    with pytest.raises(UsageError) as refused:
        _names_of_run(_Session(), environment, "mail-0123456789abcdef")

    assert str(refused.value) == (
        "run mail-0123456789abcdef is still running: it serves its model itself if it can; follow it with "
        "python -m tools status --env dev mail-0123456789abcdef, and serve it once it has ended"
    )


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (CustomModelNotReady("arn:m is Creating: serving waits until it is Active"), "once the model is Active"),
        (CustomModelFailed("arn:m failed (bad data); nothing was served"), "a failed model cannot be served"),
        (BedrockThrottled("ThrottlingException: Rate exceeded"), "Bedrock refused serving: ThrottlingException"),
    ],
)
def test_what_bedrock_refuses_becomes_one_usage_line(raised, expected):
    with pytest.raises(UsageError) as refused, _refused("serving"):
        raise raised

    assert expected in str(refused.value) and "\n" not in str(refused.value)


def test_a_failed_serving_names_the_one_command_that_deletes_it():
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123"
    with pytest.raises(UsageError) as failed:
        _require_usable({"arn": arn, "status": "Failed"}, ServingPlan("on-demand"))
    committed = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
    with pytest.raises(UsageError) as stuck:
        _require_usable(
            {"arn": committed, "status": "Failed", "commitmentDuration": "OneMonth"}, ServingPlan("provisioned")
        )

    assert f"(aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {arn})" in str(
        failed.value
    )
    assert "cleanup" not in str(failed.value)  # which would delete more than this one serving
    assert "OneMonth commitment, which cannot be deleted before its term ends" in str(stuck.value)
    _require_usable({"arn": arn, "status": "Creating"}, ServingPlan("on-demand"))  # usable: no error
