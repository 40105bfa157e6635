"""The state machine as synthesized: every task retries and catches, every wait is bounded,
and the polling schedule meets the cost and latency targets."""

from __future__ import annotations

import json

import pytest

from stacks.config import cdk_json_context, load_environments
from stacks.constructs.workflow import execution_timeout, serving_poll_schedule
from tests.conftest import ENVIRONMENTS

LAMBDA_ERRORS = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def definition(synthesized, environment: str) -> dict:
    """The ASL document, with function ARNs replaced by the functions' logical IDs."""
    template = synthesized.raw(environment, "Pipeline")
    machine = next(r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else f"fn:{_referenced(part)}" for part in parts)
    return json.loads(text)


def _referenced(part: dict) -> str:
    return part["Fn::GetAtt"][0] if "Fn::GetAtt" in part else part["Ref"]


def states(synthesized, environment: str) -> dict[str, dict]:
    return definition(synthesized, environment)["States"]


def tasks(synthesized, environment: str) -> dict[str, dict]:
    return {name: state for name, state in states(synthesized, environment).items() if state["Type"] == "Task"}


def lambda_tasks(synthesized, environment: str) -> dict[str, dict]:
    return {
        name: state for name, state in tasks(synthesized, environment).items() if state["Resource"].startswith("fn:")
    }


def successors(state: dict) -> list[str]:
    """Every state this one can go to: Next, a Choice's branches and default, its catchers."""
    following = [state.get("Next"), state.get("Default")]
    following += [choice["Next"] for choice in state.get("Choices", [])]
    following += [catcher["Next"] for catcher in state.get("Catch", [])]
    return [name for name in following if name]


def paths_to_the_end(flow: dict[str, dict], start: str) -> list[list[str]]:
    """Every path from `start` to a terminal state (the workflow has no loops: retries are Retry)."""
    if flow[start]["Type"] in ("Fail", "Succeed"):
        return [[start]]
    return [[start, *rest] for following in successors(flow[start]) for rest in paths_to_the_end(flow, following)]


def retrier(state: dict, error: str) -> dict:
    matches = [r for r in state.get("Retry", []) if error in r["ErrorEquals"]]
    assert len(matches) == 1, f"{error} should have exactly one retrier"
    return matches[0]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_flow_is_validate_take_a_slot_start_poll_then_serve_and_notify(synthesized, environment):
    document = definition(synthesized, environment)
    flow = document["States"]
    serving = synthesized.environments[environment].config.serving.mode

    assert document["StartAt"] == "ValidateDataset"
    assert flow["ValidateDataset"]["Next"] == "AcquireRunSlot"
    assert flow["AcquireRunSlot"]["Next"] == "StartCustomizationJob"
    assert flow["StartCustomizationJob"]["Next"] == "WaitForJob"
    assert flow["WaitForJob"]["Next"] == "ReadTrainingCurves"
    after_curves = "ReleaseRunSlot" if serving == "none" else "ServeThisRun"
    # Curves never stop a run: a failed read goes on too, to the same state.
    assert flow["ReadTrainingCurves"]["Next"] == after_curves
    assert flow["ReadTrainingCurves"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.curves", "Next": "CurvesUnavailable"}
    ]
    assert flow["CurvesUnavailable"] == {"Type": "Pass", "Next": after_curves}
    if serving != "none":
        assert flow["ServeThisRun"]["Choices"] == [
            {"Variable": "$.validation.settings.servingMode", "StringEquals": "none", "Next": "ReleaseRunSlot"}
        ]
        assert flow["ServeThisRun"]["Default"] == "CreateServing"
        assert flow["CreateServing"]["Next"] == "PollServing"
        assert flow["PollServing"]["Next"] == "EvaluateModel"
    assert flow["ReleaseRunSlot"]["Next"] == "NotifySuccess"
    assert flow["NotifySuccess"]["Next"] == "RunSucceeded"
    assert flow["Compensate"]["Next"] == "ReleaseRunSlotAfterFailure"
    assert flow["ReleaseRunSlotAfterFailure"]["Next"] == "NotifyFailure"
    assert flow["NotifyFailure"]["Next"] == "RunFailed"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_lambda_task_retries_lambda_errors_with_backoff_and_has_a_timeout(synthesized, environment):
    for name, state in lambda_tasks(synthesized, environment).items():
        lambda_retry = retrier(state, "Lambda.ServiceException")
        assert set(lambda_retry["ErrorEquals"]) == LAMBDA_ERRORS, name
        assert lambda_retry["BackoffRate"] > 1 and lambda_retry["MaxAttempts"] >= 3, name
        throttled = retrier(state, "BedrockThrottled")
        assert throttled["BackoffRate"] > 1, name
        # Every step is bounded; only the evaluation (a 15-minute function) needs more than 15 minutes.
        assert 0 < state["TimeoutSeconds"] <= (960 if name == "EvaluateModel" else 900), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_slot_tasks_retry_dynamodbs_transient_errors(synthesized, environment):
    slot_tasks = {n: s for n, s in tasks(synthesized, environment).items() if "dynamodb:updateItem" in s["Resource"]}

    assert set(slot_tasks) == {"AcquireRunSlot", "ReleaseRunSlot", "ReleaseRunSlotAfterFailure"}
    for name, state in slot_tasks.items():
        transient = retrier(state, "DynamoDB.ThrottlingException")
        assert transient["BackoffRate"] > 1 and transient["MaxAttempts"] >= 3, name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_task_catches_everything_into_a_path_that_ends(synthesized, environment):
    flow = states(synthesized, environment)
    for name, state in tasks(synthesized, environment).items():
        catch_all = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert len(catch_all) == 1, name
        for path in paths_to_the_end(flow, catch_all[0]["Next"]):
            if name in ("NotifySuccess", "NotifyFailure"):
                # A notification that cannot be sent ends in its own state (and alarms elsewhere).
                assert path[-1] == "NotificationFailed", (name, path)
            elif name == "ReleaseRunSlot":
                assert path[-1] in ("RunSucceeded", "NotificationFailed"), (name, path)
            elif name == "ReadTrainingCurves":
                # Curves are advice: a failed read goes on as the successful one does.
                assert path[0] == "CurvesUnavailable" and flow["CurvesUnavailable"]["Next"] == state["Next"]
            else:
                assert path[-1] in ("RunFailed", "NotificationFailed"), (name, path)
                assert "NotifyFailure" in path, (name, path)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_path_after_a_job_may_exist_compensates_and_every_path_after_the_slot_gives_it_back(
    synthesized, environment
):
    """The property the whole failure design rests on, checked on the deployed definition:
    from the moment a job may exist, no path reaches RunFailed without Compensate (which stops
    the job and deletes the serving), and from the moment the slot is taken, no path ends
    without giving it back."""
    flow = states(synthesized, environment)
    job_may_exist = ["StartCustomizationJob", "WaitForJob", "CreateServing", "PollServing", "EvaluateModel"]
    job_may_exist += ["DeleteServingNotPromoted"] if "DeleteServingNotPromoted" in flow else []
    for start in job_may_exist:
        if start not in flow:
            continue
        for path in paths_to_the_end(flow, start):
            if path[-1] == "RunFailed":
                assert "Compensate" in path, path
            assert {"ReleaseRunSlot", "ReleaseRunSlotAfterFailure"} & set(path), path
    # Without a slot nothing started: that path only tells people.
    assert all(
        "Compensate" not in path and "StartCustomizationJob" not in path for path in paths_to_the_end(flow, "NoRunSlot")
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_failed_cleanup_is_recorded_and_the_run_still_frees_its_slot_and_tells_people(synthesized, environment):
    compensate = states(synthesized, environment)["Compensate"]
    [catch_all] = compensate["Catch"]

    assert compensate["Parameters"]["reason"] == "failure"
    assert compensate["ResultPath"] == "$.cleanup"
    assert catch_all == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.cleanupError",
        "Next": "ReleaseRunSlotAfterFailure",
    }
    # Throttling is ridden out for longer here than anywhere: this is the step that stops billing.
    assert retrier(compensate, "BedrockThrottled")["MaxAttempts"] >= 10


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_fail_states_carry_the_error_and_cause(synthesized, environment):
    flow = states(synthesized, environment)

    assert flow["RunFailed"] == {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"}
    assert flow["NotificationFailed"]["Error"] == "NotificationFailed"
    assert "dead-letter queue" in flow["NotificationFailed"]["Cause"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_run_waits_for_its_job_on_a_task_token_bounded_by_the_time_limit(synthesized, environment):
    config = synthesized.environments[environment].config
    flow = states(synthesized, environment)
    wait = flow["WaitForJob"]

    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert wait["Parameters"]["Payload"] == {
        "taskToken.$": "$$.Task.Token",
        "executionArn.$": "$$.Execution.Id",
        "jobName.$": "$.job.jobName",
    }
    assert wait["ResultPath"] == "$.result"
    # One state, however long the job trains; it times out at the job's time limit.
    assert wait["TimeoutSeconds"] == config.limits.max_job_hours * 3600
    assert "HeartbeatSeconds" not in wait
    [time_limit] = [c for c in wait["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
    assert time_limit["Next"] == "JobTimeLimitExceeded"
    exceeded = flow["JobTimeLimitExceeded"]
    assert exceeded["Parameters"]["Error"] == "JobTimeLimitExceeded"
    assert exceeded["Next"] == "Compensate"
    # Keeping the token may be retried (a retry replaces it); a job that failed may not.
    assert {error for retry in wait["Retry"] for error in retry["ErrorEquals"]} == LAMBDA_ERRORS


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_sweep_variant_at_the_time_limit_is_stopped_and_named_as_the_runs_job_would_be(synthesized, environment):
    """Inside the Map, a variant still training at limits.maxJobHours is stopped by its own
    iteration (the others go on), its failure named JobTimeLimitExceeded, not States.Timeout."""
    config = synthesized.environments[environment].config
    iteration = states(synthesized, environment)["TrainVariants"]["ItemProcessor"]["States"]
    wait = iteration["WaitForVariantJob"]

    assert wait["TimeoutSeconds"] == config.limits.max_job_hours * 3600
    [time_limit] = [c for c in wait["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
    assert wait["Catch"].index(time_limit) == 0  # ahead of States.ALL, which would take it otherwise
    exceeded = iteration[time_limit["Next"]]
    assert exceeded["Parameters"]["Error"] == "JobTimeLimitExceeded"
    assert f"limits.maxJobHours ({config.limits.max_job_hours:g} h)" in exceeded["Parameters"]["Cause"]
    assert exceeded["ResultPath"] == "$.failure"
    assert exceeded["Next"] == "StopVariantJob" and iteration["StopVariantJob"]["Next"] == "VariantFailed"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_runs_beyond_the_cap_wait_for_a_slot_then_fail_without_starting_anything(synthesized, environment):
    config = synthesized.environments[environment].config
    flow = states(synthesized, environment)
    acquire = flow["AcquireRunSlot"]
    taken = retrier(acquire, "DynamoDB.ConditionalCheckFailedException")
    waited = sum(
        min(taken["IntervalSeconds"] * taken["BackoffRate"] ** n, taken["MaxDelaySeconds"])
        for n in range(taken["MaxAttempts"])
    )

    assert config.limits.run_slot_wait_hours * 3600 <= waited <= (config.limits.run_slot_wait_hours + 1) * 3600
    values = acquire["Parameters"]["ExpressionAttributeValues"]
    assert values[":cap"] == {"N": str(config.limits.max_concurrent_runs)}
    assert "size(holders) < :cap" in acquire["Parameters"]["ConditionExpression"]
    assert acquire["Catch"][0]["Next"] == "NoRunSlot"
    assert flow["NoRunSlot"]["Parameters"]["Error"] == "NoRunSlot"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_full_quota_is_waited_out_not_failed(synthesized, environment):
    start = states(synthesized, environment)["StartCustomizationJob"]
    capacity = retrier(start, "CapacityUnavailable")

    assert capacity["IntervalSeconds"] == 300 and capacity["MaxDelaySeconds"] == 1800
    assert capacity["MaxAttempts"] >= 2


@pytest.mark.parametrize("environment", [e for e in ENVIRONMENTS if e != "none"])
def test_serving_failures_delete_what_the_run_created(synthesized, environment):
    flow = states(synthesized, environment)
    if "CreateServing" not in flow:
        pytest.skip("environment serves nothing")
    for name in ("CreateServing", "PollServing"):
        catch_all = [c for c in flow[name]["Catch"] if "States.ALL" in c["ErrorEquals"]]
        assert catch_all[0]["Next"] == "Compensate"
    assert retrier(flow["PollServing"], "ServingNotReady")["MaxAttempts"] >= 1


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_model_that_is_not_promoted_loses_its_serving_where_the_environment_asks(synthesized, environment):
    flow = states(synthesized, environment)
    config = synthesized.environments[environment].config
    assert config.evaluation.delete_serving_when_not_promoted  # both shipped environments ask for it

    evaluate = flow["EvaluateModel"]
    assert evaluate["ResultPath"] == "$.evaluation"
    assert set(evaluate["Parameters"]["state"]) == {"upload.$", "validation.$", "serving.$", "curves.$"}
    assert evaluate["Next"] == "PromotedOrNot"
    assert flow["PromotedOrNot"]["Choices"] == [
        {
            "And": [
                {"Variable": "$.evaluation.promoted", "IsBoolean": True},
                {"Variable": "$.evaluation.promoted", "BooleanEquals": False},
            ],
            "Next": "DeleteServingNotPromoted",
        }
    ]
    # Promoted, or not judged (nothing to compare): the serving stays.
    assert flow["PromotedOrNot"]["Default"] == "ReleaseRunSlot"
    assert flow["DeleteServingNotPromoted"]["Next"] == "ReleaseRunSlot"
    assert flow["DeleteServingNotPromoted"]["ResultPath"] == "$.retired"
    # A model that could not be evaluated is not promoted either: its serving goes, and the run fails.
    [catch_all] = [c for c in evaluate["Catch"] if "States.ALL" in c["ErrorEquals"]]
    assert catch_all["Next"] == "Compensate"


def test_an_environment_that_serves_nothing_still_reads_the_training_curves(tmp_path):
    from aws_cdk import Stack

    from tools.synth import build_app

    environments = cdk_json_context()["environments"]
    dev = {**environments["dev"], "serving": {"mode": "none"}}
    _app, [stacks] = build_app(
        tmp_path, environment="dev", nag=False, context_overrides={"environments": {**environments, "dev": dev}}
    )
    state = stacks.pipeline.workflow.state_machine
    flow = json.loads(json.dumps(Stack.of(state).resolve(state.node.default_child.definition_string)))
    text = "".join(part if isinstance(part, str) else "fn" for part in flow["Fn::Join"][1])
    document = json.loads(text)["States"]

    assert document["WaitForJob"]["Next"] == "ReadTrainingCurves"
    assert document["ReadTrainingCurves"]["Next"] == "ReleaseRunSlot"
    assert "EvaluateModel" not in document


def test_without_deletion_the_evaluation_goes_straight_to_the_notification(tmp_path):
    from aws_cdk import Stack

    from tools.synth import build_app

    environments = cdk_json_context()["environments"]
    dev = {**environments["dev"], "evaluation": {"deleteServingWhenNotPromoted": False}}
    _app, [stacks] = build_app(
        tmp_path, environment="dev", nag=False, context_overrides={"environments": {**environments, "dev": dev}}
    )
    state = stacks.pipeline.workflow.state_machine
    text = json.dumps(Stack.of(state).resolve(state.node.default_child.definition_string))

    assert "EvaluateModel" in text
    assert "PromotedOrNot" not in text and "DeleteServingNotPromoted" not in text


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_execution_has_an_overall_timeout(synthesized, environment):
    config = synthesized.environments[environment].config
    document = definition(synthesized, environment)
    limits = config.limits

    assert document["TimeoutSeconds"] == execution_timeout(config).to_seconds()
    # Longer than every bounded wait together, so that each wait ends in its own state first.
    waits = (
        limits.run_slot_wait_hours + limits.quota_wait_hours + limits.max_job_hours + 2 * limits.max_serving_setup_hours
    )
    assert document["TimeoutSeconds"] > waits * 3600


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_state_machine_is_standard_traced_and_logs_everything_encrypted(synthesized, environment):
    template = synthesized.template(environment, "Pipeline")
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))["Properties"]
    log_group_id = machine["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"][
        "Fn::GetAtt"
    ][0]
    log_group = synthesized.raw(environment, "Pipeline")["Resources"][log_group_id]["Properties"]

    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert "KmsKeyId" in log_group and log_group["RetentionInDays"] > 0


def test_each_environment_polls_serving_on_its_configured_schedule():
    for config in load_environments(cdk_json_context()["environments"]).values():
        schedule = serving_poll_schedule(config)
        polling = config.polling
        assert schedule.first.to_seconds() == polling.serving_first_poll_seconds, config.name
        assert max(schedule.delays()) <= polling.serving_max_poll_seconds, config.name
        assert sum(schedule.delays()) >= config.limits.max_serving_setup_hours * 3600, config.name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_step_receives_the_execution_arn_for_its_logs(synthesized, environment):
    for name, state in lambda_tasks(synthesized, environment).items():
        assert state["Parameters"]["executionArn.$"] == "$$.Execution.Id", name


def test_no_quota_wait_means_no_capacity_retry(tmp_path):
    from tools.synth import build_app

    environments = cdk_json_context()["environments"]
    dev = {**environments["dev"], "limits": {**environments["dev"]["limits"], "quotaWaitHours": 0}}
    _app, [stacks] = build_app(
        tmp_path, environment="dev", nag=False, context_overrides={"environments": {**environments, "dev": dev}}
    )
    state = stacks.pipeline.workflow.state_machine
    from aws_cdk import Stack

    definition = json.dumps(Stack.of(state).resolve(state.node.default_child.definition_string))

    assert "CapacityUnavailable" not in definition
    assert "waitForTaskToken" in definition


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alarms_watch_runs_dead_letters_and_only_the_functions_whose_errors_are_faults(synthesized, environment):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    alarms = {
        stack.construct_path(i).rsplit("/", 1)[-1]
        for i, r in stack.resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    serving = synthesized.environments[environment].config.serving.mode != "none"

    expected = {
        "RunsFailed",
        "RunsTimedOut",
        "DeadLettersWaiting",
        "StartRunErrors",
        "WatchJobErrors",
        "StopJobErrors",
        "NotifyErrors",
    }
    safety_net = synthesized.environments[environment].config.serving.time_to_live_hours is not None
    assert alarms == expected | ({"DeleteServingErrors"} if serving else set()) | (
        {"SafetyNetErrors"} if safety_net else set()
    )
    # PollServing raises ServingNotReady on every poll: an alarm on its errors would page all night.
    assert "PollServingErrors" not in alarms


def test_the_schedule_exists_only_where_a_time_to_live_is_set(synthesized):
    for environment, expected in (("dev", 1), ("prod", 0)):
        stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
        rules = [r for i, r in stack.resources.items() if stack.construct_path(i).endswith("/SafetyNetSchedule")]
        assert len(rules) == expected
        if expected:
            assert rules[0]["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    assert json.dumps(synthesized.raw("dev", "Pipeline")).count('"SERVING_TTL_HOURS": "24.0"') == 1
