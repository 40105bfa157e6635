"""People are told through two channels: alarms may publish to both encrypted topics, and the
alarms about the notification channel itself go to the second one, so they arrive when the
first cannot deliver."""

from __future__ import annotations

import pytest

from tests.conftest import ENVIRONMENTS
from tools.local_run.deployment import ACCOUNT, LocalDeployment
from tools.local_run.iam import decide

REGION = "us-east-1"
ABOUT_THE_CHANNEL = {"NotifyErrors", "DeadLettersWaiting"}


def _deployment(synthesized, environment: str) -> LocalDeployment:
    return LocalDeployment(synthesized.assembly, environment, REGION, "BedrockCustomization")


def _named(deployment: LocalDeployment, kind: str) -> dict[str, tuple[str, dict]]:
    stack = deployment.pipeline
    return {
        stack.construct_path(logical_id): (logical_id, resource)
        for logical_id, resource in stack.resources.items()
        if resource["Type"] == kind
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("topic", ["Notifications/Notifications", "Notifications/Escalations"])
def test_alarms_of_this_account_may_publish_to_each_topic_and_nobody_elses_may(synthesized, environment, topic):
    deployment = _deployment(synthesized, environment)
    topic_id, _ = _named(deployment, "AWS::SNS::Topic")[topic]
    [document] = [
        deployment.resolve(resource["Properties"]["PolicyDocument"])
        for _, (_, resource) in _named(deployment, "AWS::SNS::TopicPolicy").items()
        if {"Ref": topic_id} in resource["Properties"]["Topics"]
    ]
    topic_arn = deployment.resolve({"Ref": topic_id})

    def publish(account: str) -> str:
        context = {
            "aws:sourceaccount": [account],
            "aws:sourcearn": [f"arn:aws:cloudwatch:{REGION}:{account}:alarm:RunsFailed"],
            "aws:securetransport": ["true"],
        }
        return decide([document], "sns:Publish", topic_arn, context)

    [statement] = [s for s in document["Statement"] if s.get("Sid") == "CloudWatchAlarmsOfThisAccount"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish(ACCOUNT) == "allowed"
    assert publish("999999999999") == "implicitDeny"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("key", ["Notifications/OperationsKey", "Notifications/EscalationKey"])
def test_cloudwatch_may_use_each_topics_key(synthesized, environment, key):
    deployment = _deployment(synthesized, environment)
    _, resource = _named(deployment, "AWS::KMS::Key")[key]
    statements = resource["Properties"]["KeyPolicy"]["Statement"]

    granted = [
        s for s in statements if "cloudwatch.amazonaws.com" in str(s.get("Principal")) and s["Effect"] == "Allow"
    ]
    assert granted and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(granted[0]["Action"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_alarms_about_notifying_go_to_the_escalations_topic_and_the_rest_to_the_notifications(
    synthesized, environment
):
    deployment = _deployment(synthesized, environment)
    topics = {path: logical_id for path, (logical_id, _) in _named(deployment, "AWS::SNS::Topic").items()}
    alarms = {
        path.rsplit("/", 1)[-1]: resource
        for path, (_, resource) in _named(deployment, "AWS::CloudWatch::Alarm").items()
    }

    assert set(alarms) >= ABOUT_THE_CHANNEL
    for name, alarm in alarms.items():
        expected = "Notifications/Escalations" if name in ABOUT_THE_CHANNEL else "Notifications/Notifications"
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topics[expected]}], name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_escalations_reach_the_same_people(synthesized, environment):
    deployment = _deployment(synthesized, environment)
    topics = {logical_id: path for path, (logical_id, _) in _named(deployment, "AWS::SNS::Topic").items()}
    subscribers: dict[str, set[str]] = {}
    for _, (_, resource) in _named(deployment, "AWS::SNS::Subscription").items():
        properties = resource["Properties"]
        subscribers.setdefault(topics[properties["TopicArn"]["Ref"]], set()).add(properties["Endpoint"])

    emails = set(synthesized.environments[environment].config.notifications.emails)
    assert subscribers.get("Notifications/Notifications", set()) == emails
    assert subscribers.get("Notifications/Escalations", set()) == emails
