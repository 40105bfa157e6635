"""The pipeline's Lambda functions: one asset, one role each, traced, JSON-logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from customization.settings import Deployment, Settings, environment_of
from stacks.nag import acknowledge, acknowledge_wildcard_resource
from tools.sdk_layer import layer_dir, pinned

# The whole lambdas/ folder is one asset: the handlers share the runtime package. boto3 is
# not the Lambda runtime's (months behind the pinned one) but the stack's SDK layer, which
# `make install` builds (tools/sdk_layer.py): nothing is bundled at synth, no Docker needed.
LAMBDA_CODE = Path(__file__).resolve().parent.parent.parent / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
SDK_LAYER_ID = "SdkLayer"
DEFAULT_TIMEOUT = Duration.seconds(60)
XRAY_REASON = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions "
    "(Service Authorization Reference, AWS X-Ray): tracing needs Resource '*'"
)


SYNCHRONOUS_DLQ_REASON = (
    "Invoked synchronously by the state machine, which retries it and routes every failure to "
    "NotifyFailure; a DLQ only applies to asynchronous invocations"
)


def sdk_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one layer holding the SDK the tests ran (lambdas/requirements.txt), created
    at the stack's root by its first function: one asset and one layer version per stack."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(SDK_LAYER_ID)
    if isinstance(existing, lambda_.LayerVersion):
        return existing
    sdk = pinned()
    return lambda_.LayerVersion(
        stack,
        SDK_LAYER_ID,
        code=lambda_.Code.from_asset(str(layer_dir())),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description=f"boto3 {sdk['boto3']} and botocore {sdk['botocore']}: the SDK the tests ran",
    )


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of one environment shares: its logs' key, retention and removal
    policy, and the dead-letter queue of the asynchronously invoked ones."""

    deployment: Deployment
    log_key: kms.IKey
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    dead_letters: sqs.IQueue


class PipelineFunction(Construct):
    """A function whose role can write its own log group and X-Ray traces, and nothing else
    until its capability grants it what its step needs.

    Its environment variables are the `settings` groups it reads (customization.settings),
    so the names are never typed twice. `asynchronous` functions (invoked by EventBridge)
    send events they fail on to the dead-letter queue; the others are invoked synchronously
    by the state machine, which retries and catches.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_package: str,
        description: str,
        defaults: FunctionDefaults,
        settings: Sequence[Settings] = (),
        timeout: Duration = DEFAULT_TIMEOUT,
        memory_mib: int = 256,
        ephemeral_storage_mib: int = 512,
        asynchronous: bool = False,
        star_resource_reason: str = XRAY_REASON,
        handler: str | None = None,
        caller: str | None = None,
    ) -> None:
        """`handler`: the Lambda handler, when it is not `<handler_package>.handler.lambda_handler`
        (a grader's is its module's `handler`). `caller`: who invokes a synchronous function and
        bounds its concurrency, when it is not the state machine (the acknowledgments say so)."""
        super().__init__(scope, construct_id)
        dead_letter_queue = defaults.dead_letters if asynchronous else None
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=defaults.log_retention,
            encryption_key=defaults.log_key,
            removal_policy=defaults.removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{construct_id}: {description}",
        )
        self.policy = self._policy(description, dead_letter_queue, star_resource_reason)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            # requirements.txt describes the layer, not the code: an SDK bump changes the layer only.
            code=lambda_.Code.from_asset(str(LAMBDA_CODE), exclude=["**/__pycache__", "**/*.pyc", "requirements.txt"]),
            handler=handler or f"{handler_package}.handler.lambda_handler",
            layers=[sdk_layer(self)],
            # The function may not add to its role behind our back: the policy above is complete.
            role=self.role.without_policy_updates(),
            timeout=timeout,
            memory_size=memory_mib,
            ephemeral_storage_size=Size.mebibytes(ephemeral_storage_mib),
            environment=environment_of(defaults.deployment, *settings),
            tracing=lambda_.Tracing.ACTIVE,
            dead_letter_queue=dead_letter_queue,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
        )
        self._acknowledge_function_findings(asynchronous, caller)

    def _policy(
        self, description: str, dead_letter_queue: sqs.IQueue | None, star_resource_reason: str
    ) -> iam.ManagedPolicy:
        """One customer-managed policy per function, holding everything it may do: logs to its
        own group (not AWSLambdaBasicExecutionRole's any group), traces, its dead letters, and
        what its capability grants for its step. No inline policy (NIST 800-53 IAMNoInlinePolicy)."""
        policy = iam.ManagedPolicy(self, "Policy", roles=[self.role], description=description)
        policy.add_statements(
            iam.PolicyStatement(
                sid="OwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="Traces", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            ),
        )
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", star_resource_reason)
        if dead_letter_queue is not None:
            policy.add_statements(
                iam.PolicyStatement(
                    sid="DeadLetters", actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]
                )
            )
            if dead_letter_queue.encryption_master_key is not None:
                policy.add_statements(
                    iam.PolicyStatement(
                        sid="DeadLettersKey",
                        actions=["kms:GenerateDataKey", "kms:Decrypt"],
                        resources=[dead_letter_queue.encryption_master_key.key_arn],
                    )
                )
        return policy

    def _acknowledge_function_findings(self, asynchronous: bool, caller: str | None) -> None:
        acknowledge(
            self.function,
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function calls only AWS APIs (S3, Bedrock, Step Functions, SNS) over TLS with IAM auth; a "
            "VPC would need NAT or five interface endpoints per environment and adds no control here",
        )
        acknowledge(
            self.function,
            "NIST.800.53.R5-LambdaConcurrency",
            f"Concurrency is bounded by its caller ({caller}); reserving concurrency would take capacity from "
            "other functions"
            if caller
            else "Concurrency is bounded by its callers (one execution per uploaded file version and one task at "
            "a time, or one scheduled sweep an hour); reserving concurrency would take capacity from other functions",
        )
        if not asynchronous:
            reason = (
                f"Invoked synchronously by {caller}, which receives every error; a DLQ only applies to "
                "asynchronous invocations"
                if caller
                else SYNCHRONOUS_DLQ_REASON
            )
            for rule in ("NIST.800.53.R5-LambdaDLQ", "Serverless-LambdaDLQ"):
                acknowledge(self.function, rule, reason)

    def grant(self, *statements: iam.PolicyStatement) -> None:
        self.policy.add_statements(*statements)

    def acknowledge_wildcards(self, resources: list, reason: str) -> None:
        """AwsSolutions-IAM5, one finding per resource pattern that ends in a wildcard."""
        for resource in resources:
            acknowledge_wildcard_resource(self.policy, resource, reason)
