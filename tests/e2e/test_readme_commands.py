"""Every command of the README's "Day to day" and "Deploying to a real account", typed as the
README shows it: through the real parser (`tools.__main__.main(argv)`, and `python -m tools`
in a subprocess), against an account on 127.0.0.1 that the commands reach only through the
variables the SDK honours (tests/aws_world.py `AwsOverHttp`): moto's server for
CloudFormation, S3, Step Functions, STS, KMS and SNS, the Bedrock emulation over HTTP, and
the account emulation for Service Quotas and IAM's simulator.

The account is `make deploy ENV=dev` and its runs (`deployed_world`): a run that succeeded,
its model promoted and served on demand; one the cost ceiling refused; an earlier run's
model and deployment, nine days old; another team's deployment. The commands here only read
it, so the module shares one; those that change it are in test_cli_changes.py, AWS's errors
in test_cli_aws_errors.py."""

from __future__ import annotations

import json

import pytest

from customization.notifications import compose
from tests.aws_world import (
    ANSWER,
    COST_CEILING_CAUSE,
    PROMPT,
    REGION,
    one_line_error,
    python_m_tools,
)
from tests.aws_world import (
    run_tools as run,
)
from tools.__main__ import main
from tools.status import render_runs

ENV = ["--env", "dev"]


# -- status ---------------------------------------------------------------------------------------


def test_status_lists_each_run_by_the_name_the_other_commands_take(deployed, capsys):
    code, out, err = run(capsys, "status", *ENV)

    assert (code, err) == (0, "")
    header, _, *rows = out.splitlines()
    assert header.split() == ["RUN", "AGE", "STATE", "JOB", "SERVING", "COST"]
    assert all(len(line) < 80 for line in out.splitlines()), out
    by_run = {row.split()[0]: row.split()[1:] for row in rows}
    assert by_run[deployed.succeeded.execution_name][1:] == ["SUCCEEDED", "Completed", "yes", "~$0.05"]
    assert by_run[deployed.failed.execution_name][1:] == ["FAILED", "-", "-", "-"]
    # The name as listed is what `status RUN` and `invoke --run` take: copied, it works.
    for name in by_run:
        assert main(["status", *ENV, name]) == 0
    [served] = [row.split()[0] for row in rows if " yes " in row]
    assert main(["invoke", *ENV, "--run", served, PROMPT]) == 0


def test_status_json_lists_the_runs_with_their_dataset_model_and_cost(deployed, capsys):
    code, out, _ = run(capsys, "status", *ENV, "--json")

    rows = {row["run"]: row for row in json.loads(out)}
    succeeded, failed = rows[deployed.succeeded.execution_name], rows[deployed.failed.execution_name]
    assert code == 0
    assert (succeeded["dataset"], succeeded["state"], succeeded["job"]) == (
        "email-classifier",
        "SUCCEEDED",
        "Completed",
    )
    assert (succeeded["model"], succeeded["serving"]) == (deployed.model_arn, deployed.deployment_arn)
    assert (succeeded["promoted"], succeeded["cost"]) == (True, 0.05)
    assert (failed["dataset"], failed["state"], failed["job"], failed["error"]) == (
        "support-tickets",
        "FAILED",
        None,
        "CostCeilingExceeded",
    )


def test_status_of_one_run_shows_its_timeline_job_evaluation_serving_and_links(deployed, capsys):
    name = deployed.succeeded.execution_name

    code, out, err = run(capsys, "status", *ENV, name)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"run {name}: SUCCEEDED (dataset email-classifier, started ")
    assert [line.split()[-1] for line in lines[1:5]] == [
        "ValidateDataset",
        "EvaluateModel",
        "NotifySuccess",
        "RunSucceeded",
    ]
    assert f"job {deployed.succeeded.job_name}: Completed" in lines
    assert "  training loss 0.1132" in lines
    assert "estimated cost: training ~$0.05" in lines
    assert "evaluation: PROMOTED: exact match 0.92 (custom) vs 0.38 (base), +0.54, gate +0.05" in lines
    assert f"serving: {deployed.deployment_arn} (ask it: python -m tools invoke --run {name} ...)" in lines
    assert (
        f"execution: https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/" in out
    )
    assert f"evaluation report: s3://data-bucket/reports/{deployed.succeeded.folder}evaluation.md" in lines


def test_status_of_a_failed_run_says_why_and_the_json_has_everything(deployed, capsys):
    name = deployed.failed.execution_name

    code, out, _ = run(capsys, "status", *ENV, name)
    assert main(["status", *ENV, name, "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)

    assert code == 0
    assert f"failed with CostCeilingExceeded: {COST_CEILING_CAUSE}" in out.splitlines()
    assert "job " not in out  # the run started none
    assert [entry["state"] for entry in detail["timeline"]] == ["ValidateDataset", "NotifyFailure", "RunFailed"]
    assert (detail["state"], detail["error"], detail["cause"]) == ("FAILED", "CostCeilingExceeded", COST_CEILING_CAUSE)
    assert detail["bedrockJob"]["jobName"] is None and detail["bedrockJob"]["status"] is None


def test_status_of_a_run_that_does_not_exist_is_one_line(deployed, capsys):
    code, out, err = run(capsys, "status", *ENV, "email-classifier-0000000000000000")

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        "error: no run 'email-classifier-0000000000000000' in dev: see python -m tools status --env dev"
    )


# -- costs: every command rounds and writes them as the notifications do ------------------------------------


def test_status_writes_costs_as_the_notification_of_the_same_run_does(deployed, capsys):
    sfn = deployed.aws.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=deployed.execution_arn(deployed.succeeded.execution_name))
    notification = compose("succeeded", json.loads(execution["output"]), execution["executionArn"], "dev", REGION)

    code, listed, _ = run(capsys, "status", *ENV)
    main(["status", *ENV, deployed.succeeded.execution_name])
    detail = capsys.readouterr().out

    assert code == 0
    assert "Estimated cost: training ~$0.05, model storage ~$1.95/month" in notification["message"]
    assert "~$0.05" in listed and "estimated cost: training ~$0.05" in detail
    # Thousands too (prod has no cost ceiling): the same digits, separators and sign.
    costly = {"validation": {"cost": {"trainingUsd": 1234.567}}}
    row = {"run": "r-1", "started": execution["startDate"].isoformat(), "state": "SUCCEEDED", "job": None}
    assert "training ~$1,234.57" in compose("succeeded", costly, execution["executionArn"], "dev", REGION)["message"]
    assert render_runs([{**row, "serving": None, "cost": 1234.567}]).splitlines()[-1].endswith(" ~$1,234.57")


# -- invoke ---------------------------------------------------------------------------------------


def test_invoke_a_runs_served_model_as_the_readme_shows(deployed, capsys):
    name = deployed.succeeded.execution_name

    code, out, err = run(capsys, "invoke", *ENV, "--run", name, PROMPT)

    assert (code, err) == (0, "")
    answer, rule, model, latency = out.splitlines()
    assert (answer, rule) == (ANSWER, "--")
    assert model == f"model {deployed.deployment_arn} (run {name})"
    assert latency.startswith("latency ") and latency.endswith(" out")
    converse = [call for call in deployed.aws.emulator.calls if call["operation"] == "Converse"][-1]
    assert converse["summary"] == f"Converse {deployed.deployment_arn}"


def test_invoke_a_model_by_its_arn_or_id(deployed, capsys):
    asked = {}
    for model in (deployed.deployment_arn, deployed.model_arn, "amazon.nova-micro-v1:0"):
        assert main(["invoke", *ENV, "--model", model, PROMPT, "--json"]) == 0
        asked[model] = json.loads(capsys.readouterr().out)

    assert asked[deployed.deployment_arn]["model"] == deployed.deployment_arn
    # A custom model answers through the deployment that serves it.
    assert asked[deployed.model_arn]["model"] == deployed.deployment_arn
    assert asked["amazon.nova-micro-v1:0"]["model"] == "amazon.nova-micro-v1:0"
    for result in asked.values():
        assert ANSWER in result["answer"].lower() and result["run"] is None
        assert result["inputTokens"] > 0 and result["outputTokens"] > 0 and result["latencyMs"] > 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            ["--run", "email-classifier-0000000000000000"],
            "error: no run 'email-classifier-0000000000000000' in dev: see python -m tools status --env dev",
        ),
        (["--run", "FAILED"], "has no served model: the run ended FAILED (CostCeilingExceeded)"),
    ],
    ids=["no-such-run", "failed-run"],
)
def test_invoke_without_a_model_to_ask_says_why_in_one_line(deployed, capsys, target, message):
    target = [deployed.failed.execution_name if part == "FAILED" else part for part in target]
    asked = deployed.aws.bedrock_requests.count("Converse")

    code, out, err = run(capsys, "invoke", *ENV, *target, PROMPT)

    assert (code, out) == (2, "")
    assert message in one_line_error(err)
    assert deployed.aws.bedrock_requests.count("Converse") == asked, "nothing was asked"


# -- cleanup --------------------------------------------------------------------------------------


def test_cleanup_dry_run_lists_what_costs_money_and_deletes_nothing(deployed, capsys):
    asked = len(deployed.aws.bedrock_requests)

    code, out, err = run(capsys, "cleanup", *ENV, "--older-than", "7")

    assert (code, err) == (0, "")
    assert all(len(line) < 80 for line in out.splitlines()), out
    verdicts = [line.strip() for line in out.splitlines() if line.strip().startswith("->")]
    assert verdicts.count("-> delete: on-demand: no idle cost, but keeps the model invocable") == 1
    assert verdicts.count("-> keep: on-demand: no idle cost, but keeps the model invocable") == 1
    assert verdicts.count("-> keep: serving uses it") == 2
    # Two runs of one dataset: the names keep the run ids that tell them apart.
    assert f"…{deployed.earlier.run_id}" in out and f"…{deployed.succeeded.run_id}" in out
    assert "search-team" not in out, "another team's deployment is not this environment's"
    assert out.splitlines()[-1] == "dry run: nothing was deleted; add --yes to delete the items marked delete"
    assert not [operation for operation in deployed.aws.bedrock_requests[asked:] if operation.startswith("Delete")]
    assert len(deployed.aws.emulator.billed_servings()) == 3
    assert main(["cleanup", *ENV, "--older-than", "7", "--json"]) == 0
    listed = {item["arn"]: item for item in json.loads(capsys.readouterr().out)}
    assert set(listed) == {
        deployed.deployment_arn,
        deployed.model_arn,
        deployed.earlier_deployment_arn,
        deployed.earlier_model_arn,
    }
    assert [item["result"] for item in listed.values()] == [None] * 4  # a dry run did nothing
    assert listed[deployed.earlier_deployment_arn]["deletable"] is True
    assert listed[deployed.model_arn]["deletable"] is False


# -- preflight ------------------------------------------------------------------------------------


def test_preflight_of_the_deployed_environment(deployed, capsys):
    code, out, err = run(capsys, "preflight", *ENV)

    assert (code, err) == (0, ""), out
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["PASS"] * 6 + ["WARN", "WARN", "PASS"]
    assert lines[0] == f"PASS  credentials       account 123456789012 (region {REGION})"
    # dev lists no e-mails: neither the notifications nor the escalations reach anyone.
    assert "WARN  notifications     nobody is subscribed: failures reach no one" in out
    assert "WARN  escalations       nobody is subscribed: failures reach no one" in out
    assert lines[-1] == "9 checks: 0 failed, 2 warnings; ready for a first run"


def test_preflight_json(deployed, capsys):
    code, out, _ = run(capsys, "preflight", *ENV, "--json")

    checks = {check["name"]: check for check in json.loads(out)}
    assert code == 0
    assert checks["stacks"] == {
        "name": "stacks",
        "status": "PASS",
        "detail": f"both stacks deployed in {REGION}, with their outputs",
        "fix": "",
    }
    assert checks["role permissions"]["status"] == "PASS"
    assert checks["job quota"]["detail"] == "2 concurrent customization job(s)"


# -- the module entry point, in a process of its own ------------------------------------------------------


def test_python_m_tools_in_a_subprocess(deployed):
    name = deployed.succeeded.execution_name

    listed = python_m_tools(deployed.aws, "status", *ENV)
    asked = python_m_tools(deployed.aws, "invoke", *ENV, "--run", name, PROMPT)
    missing = python_m_tools(deployed.aws, "status", *ENV, "nope")

    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout.splitlines()[0].startswith("RUN ")
    assert name in listed.stdout and deployed.failed.execution_name in listed.stdout
    assert (asked.returncode, asked.stderr) == (0, "")
    assert asked.stdout.splitlines()[:3] == [ANSWER, "--", f"model {deployed.deployment_arn} (run {name})"]
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == "error: no run 'nope' in dev: see python -m tools status --env dev\n"
