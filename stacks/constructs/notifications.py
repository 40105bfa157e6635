"""Telling people: the environment's topic and its e-mail subscriptions, the Notify step, the
dead-letter queue for whatever could not be delivered, and the operations key that encrypts
them and every log group of the pipeline."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from customization.settings import Deployment, TopicSettings
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
            settings=[self.topic_settings],
        )
        self.grant_publish(self.notify)

    @property
    def topic_settings(self) -> TopicSettings:
        return TopicSettings(topic_arn=self.topic.topic_arn)

    def grant_publish(self, function: PipelineFunction) -> None:
        """Publish to the topic, which is encrypted with the operations key."""
        function.grant(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]),
        )

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
