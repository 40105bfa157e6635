"""The dev safety net: serving past its time to live is deleted, an hour before it is
announced, and nothing committed, untagged or of another environment is touched."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from customization import runtime
from tests.aws_world import REGION
from tests.aws_world import world as _world


@pytest.fixture
def environment(monkeypatch):
    for name, value in {
        "ENVIRONMENT": "dev",
        "SERVING_TTL_HOURS": "24",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:t",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/dead-letters",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield
    runtime.reset()


def _run(monkeypatch, bedrock, now):
    from safety_net import handler

    sns = boto3.client("sns", region_name=REGION)
    published = []
    stubber = Stubber(sns)
    stubber.add_response("publish", {"MessageId": "1"})
    stubber.activate()
    sqs = boto3.client("sqs", region_name=REGION)
    monkeypatch.setattr(runtime, "client", lambda service: {"bedrock": bedrock, "sns": sns, "sqs": sqs}[service])
    original = sns.publish
    monkeypatch.setattr(sns, "publish", lambda **kwargs: published.append(kwargs) or original(**kwargs))
    return handler.lambda_handler({}, None, now=now), published


def test_serving_past_its_time_to_live_is_deleted_and_announced(environment, monkeypatch):
    with mock_aws():
        emulator, bedrock = _world()  # the run's throughput is about 2.7 days old
        outcome, published = _run(monkeypatch, bedrock, dt.datetime.now(dt.UTC))

    assert len(outcome["deleted"]) == 1 and "email-classifier-dev-pt-" in outcome["deleted"][0]
    assert len(emulator.billed_servings()) == 2  # someone else's, and the committed one
    [message] = published
    assert message["Subject"] == "[dev] Bedrock safety net: 1 deleted, 0 due"
    assert "serving lives at most 24 h" in message["Message"]


def test_serving_close_to_its_time_to_live_is_announced_not_deleted(environment, monkeypatch):
    with mock_aws():
        emulator, bedrock = _world()
        created = next(s for s in emulator.servings.values() if s.name.startswith("email-classifier")).created
        outcome, published = _run(monkeypatch, bedrock, created + dt.timedelta(hours=23.5))

    assert outcome["deleted"] == [] and len(outcome["warned"]) == 1
    assert "Will be deleted within the hour" in published[0]["Message"]
    assert len(emulator.billed_servings()) == 3
