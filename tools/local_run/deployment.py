"""The synthesized templates, "deployed" into moto: buckets, topic, queue, rules, the state
machine with its real definition, and the functions, whose invocations run the real
handlers in this process with the environment variables the template gives them.

Nothing here is a copy of the pipeline: every name, pattern, variable and state comes from
the cloud assembly, so a change to the CDK code changes what runs locally.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tools.assembly import CloudAssembly, StackTemplate

ROOT = Path(__file__).resolve().parent.parent.parent
LAMBDAS = ROOT / "lambdas"
ACCOUNT = "123456789012"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


@dataclass
class DeployedFunction:
    logical_id: str
    name: str  # the function's construct ID, e.g. "WatchJob"
    handler: str  # e.g. "watch_job.handler.lambda_handler"
    variables: dict[str, Any]  # as in the template, resolved on each call

    @property
    def arn_suffix(self) -> str:
        return f"function:{self.logical_id}"


class LocalDeployment:
    """One environment's two stacks, created in moto and wired to the local handlers."""

    def __init__(self, assembly: CloudAssembly, environment: str, region: str, stack_prefix: str) -> None:
        self.assembly = assembly
        self.environment = environment
        self.region = region
        self.storage = assembly.stacks[f"{stack_prefix}-{environment}-Storage"]
        self.pipeline = assembly.stacks[f"{stack_prefix}-{environment}-Pipeline"]
        self.state_machine_arn: str | None = None
        self.pinned_account = self.pipeline.account
        self.functions = {
            logical_id: self._deployed_function(logical_id, resource)
            for logical_id, resource in self.pipeline.resources.items()
            if resource["Type"] == "AWS::Lambda::Function"
            and "Handler" in resource["Properties"]
            and resource["Properties"]["Handler"].endswith(".lambda_handler")
        }
        # Reward functions (handler "graders.<module>.handler"), by the ARN a job names them with.
        self.graders = {
            self._physical(self.pipeline, logical_id): self._deployed_function(logical_id, resource)
            for logical_id, resource in self.pipeline.resources.items()
            if resource["Type"] == "AWS::Lambda::Function"
            and str(resource["Properties"].get("Handler", "")).startswith("graders.")
        }

    def _deployed_function(self, logical_id: str, resource: dict[str, Any]) -> DeployedFunction:
        """A function of the template as the local run invokes it: its handler, its variables, and
        the name its construct path gives it (`.../ValidateDataset/Function` -> ValidateDataset)."""
        return DeployedFunction(
            logical_id=logical_id,
            name=self.pipeline.construct_path(logical_id).removesuffix("/Function").rsplit("/", 1)[-1],
            handler=resource["Properties"]["Handler"],
            variables=resource["Properties"].get("Environment", {}).get("Variables", {}),
        )

    # -- names of emulated resources ------------------------------------------------------------

    def _physical(self, stack: StackTemplate, logical_id: str, attribute: str | None = None) -> str:
        resource = stack.resources[logical_id]
        kind, path = resource["Type"], stack.construct_path(logical_id)
        name = f"local-{self.environment}-{path.replace('/', '-').lower()}"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}" if attribute == "Arn" else name
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{logical_id}"
        if kind == "AWS::StepFunctions::StateMachine":
            return self.state_machine_arn or f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{ACCOUNT}:{name}"
        if kind == "AWS::SQS::Queue":
            if attribute == "Arn":
                return f"arn:aws:sqs:{self.region}:{ACCOUNT}:{name}"
            return f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::KMS::Key":
            # Key IDs are UUIDs, and AWS checks the pattern: a made-up name would be refused.
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
            return f"arn:aws:kms:{self.region}:{ACCOUNT}:key/{key_id}" if attribute == "Arn" else key_id
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{name}"
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}" if attribute == "Arn" else name
        return f"arn:aws:local:{self.region}:{ACCOUNT}:{name}" if attribute == "Arn" else name

    def resolve(self, value: Any, stack: StackTemplate | None = None) -> Any:
        """A template value as the deployed stack would see it, with emulated names."""
        stack = stack or self.pipeline
        if isinstance(value, list):
            return [self.resolve(item, stack) for item in value]
        if isinstance(value, str) and self.pinned_account:
            # A pinned environment's template writes its account into ARNs: the emulated account
            # stands in for it, as for the account the others deploy to.
            return (
                ACCOUNT if value == self.pinned_account else value.replace(f":{self.pinned_account}:", f":{ACCOUNT}:")
            )
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item, stack) for key, item in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument == "AWS::Region":
                return self.region
            if argument in PSEUDO:
                return PSEUDO[argument]
            return self._physical(stack, argument)
        if function == "Fn::GetAtt":
            return self._physical(stack, argument[0], argument[1])
        if function == "Fn::Join":
            delimiter, parts = argument
            return delimiter.join(str(self.resolve(part, stack)) for part in parts)
        if function == "Fn::GetStackOutput":
            producer = self.assembly.stacks[argument["StackName"]]
            return self.resolve(producer.template["Outputs"][argument["OutputName"]]["Value"], producer)
        return {key: self.resolve(item, stack) for key, item in value.items()}

    def key_policies(self) -> dict[str, dict]:
        """The deployed KMS keys' policies, by key ARN, as the account would hold them."""
        return {
            self._physical(stack, logical_id, "Arn"): self.resolve(resource["Properties"]["KeyPolicy"], stack)
            for stack in (self.storage, self.pipeline)
            for logical_id, resource in stack.resources.items()
            if resource["Type"] == "AWS::KMS::Key"
        }

    def function_policies(self) -> dict[str, list[dict]]:
        """Each function's identity policies as deployed, by its name: the managed and inline
        policies of its role (what IAM evaluates when the function calls AWS)."""
        policies: dict[str, list[dict]] = {}
        for function in self.functions.values():
            role_ref = self.pipeline.resources[function.logical_id]["Properties"]["Role"]
            role_id = role_ref["Fn::GetAtt"][0]
            attached = [
                resource["Properties"]["PolicyDocument"]
                for resource in self.pipeline.resources.values()
                if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
                and {"Ref": role_id} in resource["Properties"].get("Roles", [])
            ]
            inline = [p["PolicyDocument"] for p in self.pipeline.resources[role_id]["Properties"].get("Policies", [])]
            policies[function.name] = [self.resolve(document) for document in (*attached, *inline)]
        return policies

    def role_policies(self) -> dict[str, list[dict]]:
        """Each role's identity policies as deployed, by its ARN (what IAM evaluates when a
        service acts as the role, e.g. Bedrock reading a job's data as the customization role)."""
        return {
            self._physical(self.pipeline, role_id, "Arn"): [
                self.resolve(resource["Properties"]["PolicyDocument"])
                for resource in self.pipeline.resources.values()
                if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
                and {"Ref": role_id} in resource["Properties"].get("Roles", [])
            ]
            for role_id, role in self.pipeline.resources.items()
            if role["Type"] == "AWS::IAM::Role"
        }

    def bucket(self, construct_path: str) -> str:
        logical_id, _ = self.storage.named(construct_path)
        return self._physical(self.storage, logical_id)

    def rule_pattern(self, construct_path: str) -> dict[str, Any]:
        _, rule = self.pipeline.named(construct_path)
        return self.resolve(copy.deepcopy(rule["Properties"]["EventPattern"]))

    def definition(self) -> str:
        [machine] = [r for r in self.pipeline.resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
        return self.resolve(machine["Properties"]["DefinitionString"])

    # -- creating it in moto ----------------------------------------------------------------------

    def create(self, capture_queue: str) -> None:
        s3 = boto3.client("s3", region_name=self.region)
        for logical_id, resource in self.storage.resources.items():
            if resource["Type"] != "AWS::S3::Bucket":
                continue
            name = self._physical(self.storage, logical_id)
            s3.create_bucket(Bucket=name)
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if "EventBridgeConfiguration" in resource["Properties"].get("NotificationConfiguration", {}):
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )
        sqs = boto3.client("sqs", region_name=self.region)
        sns = boto3.client("sns", region_name=self.region)
        dynamodb = boto3.client("dynamodb", region_name=self.region)
        for logical_id, resource in self.pipeline.resources.items():
            name = self._physical(self.pipeline, logical_id).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            if resource["Type"] == "AWS::DynamoDB::Table":
                properties = resource["Properties"]
                dynamodb.create_table(
                    TableName=self._physical(self.pipeline, logical_id),
                    KeySchema=properties["KeySchema"],
                    AttributeDefinitions=properties["AttributeDefinitions"],
                    BillingMode=properties["BillingMode"],
                )
            elif resource["Type"] == "AWS::SQS::Queue":
                sqs.create_queue(QueueName=name)
            elif resource["Type"] == "AWS::SNS::Topic":
                topic_arn = sns.create_topic(Name=name)["TopicArn"]
                # Every notification the pipeline sends lands in the capture queue, as e-mail would.
                queue_url = sqs.create_queue(QueueName=f"{capture_queue}-notifications")["QueueUrl"]
                queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                    "QueueArn"
                ]
                sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        # The upload rule, with its real pattern, on the default bus: S3 (moto) sends it events.
        events = boto3.client("events", region_name=self.region)
        queue_url = sqs.create_queue(QueueName=f"{capture_queue}-uploads")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="TrainingFileUploaded", EventPattern=json.dumps(self.rule_pattern("TrainingFileUploaded")))
        events.put_targets(Rule="TrainingFileUploaded", Targets=[{"Id": "capture", "Arn": queue_arn}])
        sfn = boto3.client("stepfunctions", region_name=self.region)
        self.state_machine_arn = sfn.create_state_machine(
            name=f"local-{self.environment}-workflow",
            definition=self.definition(),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/local-workflow",
            type="STANDARD",
        )["stateMachineArn"]


# Held while a handler runs with its function's variables in os.environ, and while anything
# else in the process creates an SDK client (runner.py patches boto3.client): botocore reads the
# environment as a whole when it builds a client (its proxy settings iterate os.environ), and a
# handler's variables being removed at that moment made the read fail with KeyError('ENVIRONMENT')
# under load. Reentrant: a handler creates its own clients while it holds it.
ENVIRONMENT_LOCK = threading.RLock()


class HandlerInvoker:
    """Runs a deployed function's handler in-process, as the Lambda runtime would."""

    def __init__(
        self,
        deployment: LocalDeployment,
        clients: Callable[[str, str], Any],
        sleep: Callable[[float], None] | None = None,
        busy: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> None:
        self.deployment = deployment
        self.clients = clients
        self.sleep = sleep
        self.busy = busy
        self.by_arn = {
            deployment._physical(deployment.pipeline, logical_id): function
            for logical_id, function in deployment.functions.items()
        }
        self._lock = ENVIRONMENT_LOCK
        self.invocations: list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]] = []
        if str(LAMBDAS) not in sys.path:
            sys.path.insert(0, str(LAMBDAS))

    def function(self, name: str) -> DeployedFunction:
        return next(function for function in self.deployment.functions.values() if function.name == name)

    def call(self, function: DeployedFunction, event: dict[str, Any]) -> tuple[dict[str, Any] | None, Exception | None]:
        """(result, None) or (None, the exception the handler raised)."""
        runtime = importlib.import_module("customization.runtime")
        module_name, _, attribute = function.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        variables = {key: str(self.deployment.resolve(value)) for key, value in function.variables.items()}
        with self.busy(), self._lock:
            saved = dict(os.environ)
            os.environ.update(variables, AWS_REGION=self.deployment.region, AWS_DEFAULT_REGION=self.deployment.region)
            runtime.reset()
            # Each function gets clients of its own, as each has its own role: the emulation can
            # refuse one function what it grants another (a scenario's denied permission).
            original_client = runtime.client
            runtime.client = lambda service: self.clients(service, function.name)
            original_sleep = runtime.sleep
            if self.sleep is not None:
                runtime.sleep = self.sleep
            try:
                result, error = handler(copy.deepcopy(event), None), None
            except Exception as raised:  # the Lambda runtime reports any exception the same way
                result, error = None, raised
            finally:
                runtime.client = original_client
                runtime.sleep = original_sleep
                runtime.reset()
                os.environ.clear()
                os.environ.update(saved)
        self.invocations.append((function.name, event, result, type(error).__name__ if error else None))
        return result, error

    def grade(self, function_arn: str, batch: list[dict[str, Any]], fault: Callable[[str], Exception | None]) -> Any:
        """Bedrock's call of a reward function: the handler the template names, imported from
        lambdas/ and called with the batch; its exception (or the scenario's fault) is the call's."""
        function = self.deployment.graders[function_arn]
        module_name, _, attribute = function.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        quiet: list[dict[str, Any]] = []  # the function's log lines, which Lambda would keep
        response = handler(copy.deepcopy(batch), None, quiet.append) if _takes_log(handler) else handler(batch, None)
        self.invocations.append((function.name, {"items": len(batch)}, {"results": len(response)}, None))
        failure = fault(function.name)
        if failure is not None:
            raise failure
        return response

    def lambda_invoke(self, function_name: str, body: bytes | str, response_headers: dict[str, str]) -> bytes:
        """moto's Lambda `invoke`, answered by the handler (FunctionError when it raises)."""
        function = self.by_arn.get(function_name) or next(
            f for f in self.deployment.functions.values() if function_name.endswith(f.arn_suffix)
        )
        result, error = self.call(function, json.loads(body or "{}"))
        if error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
            # Lambda's own failures (a timeout) have names no Python class can have.
            error_type = getattr(error, "error_type", type(error).__name__)
            return json.dumps({"errorType": error_type, "errorMessage": str(error)}).encode()
        return json.dumps(result).encode()


def _takes_log(handler: Callable[..., Any]) -> bool:
    """Whether a grader handler takes the log seam (graders.handler_for's do)."""
    import inspect

    try:
        return len(inspect.signature(handler).parameters) >= 3
    except (TypeError, ValueError):
        return False
