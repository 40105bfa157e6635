"""The pipeline stack is wiring of capabilities, and grouping resources into capabilities
never renames (so never replaces) a deployed resource."""

from __future__ import annotations

import ast

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.capability import Capability, CapabilityStack, logical_id
from tests.conftest import ENVIRONMENTS, ROOT

# Retained in prod (the operations key, every log group), holding messages (the dead-letter
# queue), subscribed to by people who confirmed once (the topic and its subscriptions), or
# running executions (the state machine): a new logical ID would replace them.
PINNED_PIPELINE_IDS = {
    "OperationsKey2329F47A": "AWS::KMS::Key",
    "Notifications87298708": "AWS::SNS::Topic",
    "DeadLettersBBF8BAAB": "AWS::SQS::Queue",
    "WorkflowStateMachine8F1B1C15": "AWS::StepFunctions::StateMachine",
    "WorkflowExecutionLogsE67184FE": "AWS::Logs::LogGroup",
    "ValidateDatasetLogs6855977A": "AWS::Logs::LogGroup",
    "StartCustomizationJobLogsE20EBDA6": "AWS::Logs::LogGroup",
    # PollJob's log group left with the function when runs began to wait for Bedrock's job
    # event (WatchJob); in prod it is retained, not deleted.
    "WatchJobLogs7720746C": "AWS::Logs::LogGroup",
    # Who holds a run slot, and the task tokens of runs waiting for their job.
    "Coordination735ED56D": "AWS::DynamoDB::Table",
    "StopJobLogs8033C802": "AWS::Logs::LogGroup",
    "CreateServingLogs20504476": "AWS::Logs::LogGroup",
    "PollServingLogs7DF195C2": "AWS::Logs::LogGroup",
    "DeleteServingLogsDF985F7E": "AWS::Logs::LogGroup",
    "EvaluateModelLogs4D2A5488": "AWS::Logs::LogGroup",
    "NotifyLogsB4CE6B4B": "AWS::Logs::LogGroup",
    "StartRunLogs6C52FB89": "AWS::Logs::LogGroup",
}
PINNED_IN_DEV = {"SafetyNetLogsDE82FFC4": "AWS::Logs::LogGroup"}
PINNED_IN_PROD = {"Notificationsmlplatformexamplecom3B6A37DD": "AWS::SNS::Subscription"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_stateful_and_retained_pipeline_resources_keep_their_logical_ids(synthesized, environment):
    resources = synthesized.raw(environment, "Pipeline")["Resources"]
    pinned = {**PINNED_PIPELINE_IDS, **(PINNED_IN_DEV if environment == "dev" else PINNED_IN_PROD)}

    renamed = {logical_id for logical_id in pinned if logical_id not in resources}
    assert not renamed, f"CloudFormation would replace {sorted(renamed)}"
    assert {logical_id: resources[logical_id]["Type"] for logical_id in pinned} == pinned


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_logical_id_is_what_cdk_would_give_the_path_without_its_capabilities(synthesized, environment):
    stack = synthesized.environments[environment].pipeline
    for logical_id_found, resource in synthesized.raw(environment, "Pipeline")["Resources"].items():
        path = resource.get("Metadata", {}).get("aws:cdk:path")
        if path is None:
            continue
        element = stack.node.find_child(path.split("/")[1])
        for part in path.split("/")[2:]:
            element = element.node.find_child(part)
        below = [scope.node.id for scope in element.node.scopes[2:] if not isinstance(scope, Capability)]
        assert logical_id(below) == logical_id_found, path


def _plain_and_grouped(ids: list[list[str]]) -> tuple[dict, dict]:
    """The same queues in a plain Stack, and in a CapabilityStack under capabilities."""
    app = App()
    plain, grouped = Stack(app, "Plain"), CapabilityStack(app, "Grouped")
    for n, path in enumerate(ids):
        scope: Construct = plain
        for part in path[:-1]:
            scope = scope.node.try_find_child(part) or Construct(scope, part)
        sqs.Queue(scope, path[-1])
        capability = Capability(grouped, f"Capability{n}")
        scope = capability
        for part in path[:-1]:
            scope = scope.node.try_find_child(part) or Construct(scope, part)
        sqs.Queue(scope, path[-1])
    assembly = app.synth()
    return (
        assembly.get_stack_by_name("Plain").template["Resources"],
        assembly.get_stack_by_name("Grouped").template["Resources"],
    )


def test_a_resource_moved_into_a_capability_keeps_the_id_cdk_gave_it():
    # Top-level, nested, "Default" (hidden by CDK), repeated names, long and odd characters.
    ids = [
        ["DeadLetters"],
        ["Jobs", "Queue"],
        ["Outer", "Default"],
        ["Notifications", "Notifications"],
        ["a-b.c", "x" * 300],
    ]

    plain, grouped = _plain_and_grouped(ids)

    assert sorted(grouped) == sorted(plain)
    assert "DeadLettersBBF8BAAB" in plain  # CDK's own ID for a top-level queue, as deployed


def test_the_ported_naming_rule_matches_cdk_on_every_kind_of_path():
    ids = [["DeadLetters"], ["Jobs", "Queue"], ["Outer", "Default"], ["a-b.c", "x" * 300], ["ab", "b"]]
    plain, _ = _plain_and_grouped(ids)
    expected = sorted(logical_id([*path, "Resource"]) for path in ids)

    assert sorted(i for i in plain if i not in ("CDKMetadata",)) == expected


def _functions(path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text())
    return [
        (f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_the_pipeline_stack_is_only_wiring_and_no_function_in_stacks_is_long():
    stack = ROOT / "stacks" / "pipeline_stack.py"
    long_functions = [(name, length) for path in (ROOT / "stacks").rglob("*.py") for name, length in _functions(path)]

    assert len(stack.read_text().splitlines()) < 250
    assert [(name, length) for name, length in long_functions if length > 60] == []
