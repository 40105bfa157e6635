"""Telling people: the environment's topic and its e-mail subscriptions, the Notify step, the
dead-letter queue for whatever could not be delivered, and the operations key that encrypts
them and every log group of the pipeline.

A second topic, Escalations, with its own key, carries the alarms about the notification
channel itself (the Notify function failing, dead letters waiting): when the first topic
cannot deliver, people still hear of it through a channel that does not depend on it.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from customization.settings import DeadLetterSettings, Deployment, TopicSettings
from stacks.config import EnvironmentConfig
from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction
from stacks.nag import acknowledge


class Notifications(Capability):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        # Logs, the topic and the dead-letter queue hold run details: encrypted with a key of
        # this stack, so the pipeline never needs a grant on the data key for them.
        self.key = kms.Key(
            self,
            "OperationsKey",
            description=f"Encrypts the {config.name} Bedrock customization logs, notifications and dead letters",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{region}.amazonaws.com"))
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            self.key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"Bedrock customization ({config.name})",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.dead_letters = self._dead_letter_queue()
        self.key.grant(iam.ServicePrincipal("sns.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        for email in config.notifications.emails:
            # Undeliverable notifications are kept in the dead-letter queue, which alarms.
            self.topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.dead_letters))
        self.escalations = self._escalations(config)
        for topic in (self.topic, self.escalations):
            _allow_alarms_to_publish(topic)
        self.function_defaults = FunctionDefaults(
            deployment=Deployment(config.name),
            log_key=self.key,
            log_retention=logs.RetentionDays.ONE_YEAR if config.retain_data else logs.RetentionDays.ONE_MONTH,
            removal_policy=removal,
            dead_letters=self.dead_letters,
        )
        self.notify = PipelineFunction(
            self,
            "Notify",
            handler_package="notify",
            description="Publishes the run's outcome to the notification topic",
            defaults=self.function_defaults,
            settings=[self.topic_settings, self.dead_letter_settings],
        )
        self.grant_publish(self.notify)
        # What it could not publish goes to the dead-letter queue (encrypted with the same key).
        self.notify.grant(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn]))

    @property
    def topic_settings(self) -> TopicSettings:
        return TopicSettings(topic_arn=self.topic.topic_arn)

    @property
    def dead_letter_settings(self) -> DeadLetterSettings:
        return DeadLetterSettings(queue_url=self.dead_letters.queue_url)

    def grant_publish(self, function: PipelineFunction) -> None:
        """Publish to the topic, which is encrypted with the operations key."""
        function.grant(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]),
        )

    def _escalations(self, config: EnvironmentConfig) -> sns.Topic:
        """The alarms' channel of last resort: its own topic and key, the same people."""
        key = kms.Key(
            self,
            "EscalationKey",
            description=f"Encrypts the {config.name} Bedrock customization escalation alarms",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        key.grant(iam.ServicePrincipal("sns.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(
            self,
            "Escalations",
            display_name=f"Bedrock customization ({config.name}): notifications failing",
            master_key=key,
            enforce_ssl=True,
        )
        for email in config.notifications.emails:
            topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.dead_letters))
        return topic

    def _dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                queue,
                rule,
                "This queue is the dead-letter queue of the upload trigger, the abort guard and the e-mail "
                "subscriptions; a DLQ of a DLQ would only move the same messages",
            )
        return queue


def _allow_alarms_to_publish(topic: sns.Topic) -> None:
    """CloudWatch alarms of this account and Region may publish to the topic (SNS developer
    guide, "Amazon SNS topic policies for CloudWatch alarms"; the key's policy lets
    cloudwatch.amazonaws.com use the key, as the SNS encryption page requires for alarms)."""
    stack = Stack.of(topic)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsOfThisAccount",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
            },
        )
    )
