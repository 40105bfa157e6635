"""Run slots: at most `limits.maxConcurrentRuns` runs of the environment train at once.

A burst of uploads validates at once, but its jobs start one slot at a time: the state machine
takes a slot with a DynamoDB conditional update before StartCustomizationJob, retrying while
all are taken (up to limits.runSlotWaitHours), and gives it back on every way the run ends; the
abort guard gives it back once more when the execution ends, whatever the way
(customization/slots.py), in case the state machine could not.

DynamoDB rather than a Lambda counting running executions: the conditional update is atomic,
so two runs can never take the last slot together, and Step Functions calls it directly.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from customization.slots import HOLDERS, SLOTS_KEY, SlotSettings
from stacks.constructs.capability import Capability
from stacks.constructs.functions import PipelineFunction
from stacks.nag import acknowledge

DYNAMODB_TRANSIENT_ERRORS = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.RequestLimitExceeded",
]
SLOT_TAKEN = "DynamoDB.ConditionalCheckFailedException"
# This execution's name as a one-element list: a string set's value must be a list, which
# States.Array builds right in the task's parameters (no Pass state, so no state transition:
# a run's transitions are what Step Functions bills).
HOLDER = sfn.JsonPath.list_at(sfn.JsonPath.array(sfn.JsonPath.execution_name))


class RunSlots(Capability):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, max_runs: int) -> None:
        super().__init__(scope, construct_id)
        self.max_runs = max_runs
        self.key = key
        self.table = dynamodb.Table(
            self,
            "Coordination",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The task tokens of runs waiting for their job expire with DynamoDB's TTL.
            time_to_live_attribute="expiresAt",
            # Only who holds a slot right now: nothing to keep once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.table,
            "NIST.800.53.R5-DynamoDBInBackupPlan",
            "Holds only which executions hold a run slot and the task tokens of runs waiting for their job: "
            "transient coordination, given back by the runs themselves and by the abort guard, tokens "
            "expiring by TTL; point-in-time recovery is on",
        )

    @property
    def settings(self) -> SlotSettings:
        return SlotSettings(table_name=self.table.table_name)

    def acquire(self, scope: Construct, name: str) -> tasks.DynamoUpdateItem:
        """Take a slot for this execution, or fail with SLOT_TAKEN while all are taken."""
        return tasks.DynamoUpdateItem(
            scope,
            name,
            table=self.table,
            key={"pk": tasks.DynamoAttributeValue.from_string(SLOTS_KEY)},
            update_expression=f"ADD {HOLDERS} :me",
            condition_expression=(
                f"attribute_not_exists({HOLDERS}) OR size({HOLDERS}) < :cap OR contains({HOLDERS}, :id)"
            ),
            expression_attribute_values={
                ":me": tasks.DynamoAttributeValue.from_string_set(HOLDER),
                ":cap": tasks.DynamoAttributeValue.from_number(self.max_runs),
                ":id": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.execution_name),
            },
            result_path=sfn.JsonPath.DISCARD,
        )

    def release(self, scope: Construct, name: str) -> tasks.DynamoUpdateItem:
        """Give back this execution's slot (harmless when it holds none)."""
        task = tasks.DynamoUpdateItem(
            scope,
            name,
            table=self.table,
            key={"pk": tasks.DynamoAttributeValue.from_string(SLOTS_KEY)},
            update_expression=f"DELETE {HOLDERS} :me",
            expression_attribute_values={
                ":me": tasks.DynamoAttributeValue.from_string_set(HOLDER),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        task.add_retry(errors=DYNAMODB_TRANSIENT_ERRORS, interval=Duration.seconds(2), backoff_rate=2, max_attempts=6)
        return task

    def update_statements(self) -> list[iam.PolicyStatement]:
        """What the state machine (or the abort guard) needs to take and give back slots: the
        one action on the one table, and the key that encrypts it, through DynamoDB only."""
        return [
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[self.table.table_arn]),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"}},
            ),
        ]

    def grant_release(self, function: PipelineFunction) -> None:
        """Give back a slot, and drop a task token nobody waits on any more (the abort guard)."""
        function.grant(
            *self.update_statements(),
            iam.PolicyStatement(actions=["dynamodb:DeleteItem"], resources=[self.table.table_arn]),
        )

    def grant_tokens(self, function: PipelineFunction) -> None:
        """Keep, read, list and drop the task tokens of runs waiting for their job."""
        function.grant(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
                resources=[self.table.table_arn],
            ),
            *self.update_statements()[1:],
        )
