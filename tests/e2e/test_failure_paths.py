"""Whatever step fails, nothing is left running or billing, and people are told.

One fault at a time, at every Lambda task the happy path runs through (taken from the deployed
definition and a real happy-path run, not listed by hand): the function does its work, then
fails, as a crash or a Lambda timeout would after a create call Bedrock accepted. The run must
end with no job training, no serving billing except the one a successful run hands over, and
one notification.
"""

from __future__ import annotations

import json

import pytest

from tools.local_run.bedrock import Behaviour
from tools.local_run.deployment import LocalDeployment
from tools.local_run.runner import REGION, assembly_for, run
from tools.local_run.scenarios import BY_NAME, Scenario

FAULTS = ("InjectedFault", "Sandbox.Timedout")


def _happy_path_functions(environment: str) -> list[str]:
    """The functions of the Lambda tasks a successful run enters, in order."""
    deployment = LocalDeployment(assembly_for(environment, {}), environment, REGION, "BedrockCustomization")
    states = json.loads(deployment.definition())["States"]
    by_arn = {
        deployment._physical(deployment.pipeline, logical_id): f.name for logical_id, f in deployment.functions.items()
    }
    [execution] = run(BY_NAME["happy-path"], environment=environment).executions
    assert execution["status"] == "SUCCEEDED", f"the happy path itself ended {execution['status']}"
    entered = [states[name] for name in execution["states"] if states[name]["Type"] == "Task"]
    # A Lambda task names its function as its resource, or (waiting for a task token) in FunctionName.
    invoked = [state.get("Parameters", {}).get("FunctionName", state["Resource"]) for state in entered]
    return [by_arn[arn] for arn in invoked if arn in by_arn]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for environment in ("dev", "prod"):
        for function in _happy_path_functions(environment):
            cases += [(environment, function, fault) for fault in FAULTS]
    return cases


CASES = _cases()


def test_the_happy_path_runs_through_every_step_the_faults_are_injected_at():
    functions = {function for _, function, _ in CASES}

    assert functions == {
        "ValidateDataset",
        "StartCustomizationJob",
        "WatchJob",
        "ReadTrainingCurves",
        "CreateServing",
        "PollServing",
        "EvaluateModel",
        "Notify",
    }


@pytest.mark.parametrize(("environment", "function", "fault"), CASES, ids=lambda value: str(value))
def test_a_fault_at_any_step_leaves_nothing_running_or_billing(environment, function, fault):
    scenario = Scenario(
        f"fault-{function}", f"{function} fails ({fault})", behaviour=Behaviour(faults={function: fault})
    )

    report = run(scenario, environment=environment)
    [execution] = report.executions

    assert report.left_running == [], "a Bedrock job is still training"
    assert report.left_billed == [], "serving bills after a run that did not hand it over"
    assert len(report.notifications) >= 1, "nobody was told"
    if function == "Notify":
        # The run worked; only telling people failed: the distinct end state, the serving kept.
        assert execution["error"] == "NotificationFailed"
        assert report.kept_serving == [execution["servingArn"]]
    elif function == "ReadTrainingCurves":
        # Curves are advice, never a gate: the run goes on and says why there is no curve.
        assert execution["status"] == "SUCCEEDED" and "CurvesUnavailable" in execution["states"]
        assert execution["curves"]["verdict"] == "unavailable"
        assert execution["curves"]["summary"].startswith(f"no curve available: ReadTrainingCurves failed ({fault}:")
        assert "Training curves: no curve available: ReadTrainingCurves failed" in report.notifications[0]["message"]
    else:
        assert execution["status"] == "FAILED" and execution["error"] == fault
        assert report.kept_serving == []
        [notification] = report.notifications
        assert "FAILED" in notification["subject"]
        if report.jobs_created:
            assert "Compensate" in execution["states"]
            assert "Cleanup: " in notification["message"]
