"""`python -m tools serve RUN --env NAME [--yes]`, typed as a user does (`main(argv)` and a
subprocess) against the deployed account over HTTP (tests/aws_world.py): a run that trained a
model but serves nothing is served again under its own name, once, and then answers."""

from __future__ import annotations

import json

from tests.aws_world import (
    ANSWER,
    BASE_MODEL,
    PROMPT,
    one_line_error,
    python_m_tools,
    run_tags,
    run_tools,
    trained_model,
)
from tools.local_run.strict import strict_validation, validate

ENV = ["--env", "dev"]


def _unserved_run(deployed, version: str):
    """A run whose job completed and whose serving failed: its model exists, nothing serves it."""
    upload = {"bucket": "data-bucket", "key": "datasets/email-classifier/train.jsonl", "versionId": version}
    names = deployed.start_run(upload, {"validation": {"valid": True}})
    model = trained_model(deployed.aws.emulator, names, BASE_MODEL, run_tags(names))
    return names, model


def test_without_yes_it_says_what_it_would_serve_and_creates_nothing(deployed, capsys):
    names, model = _unserved_run(deployed, "serve-1")
    servings_before = dict(deployed.aws.emulator.servings)

    code, out, err = run_tools(capsys, "serve", *ENV, names.execution_name)

    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"would serve {model}"
    assert "on-demand (an on-demand deployment: billed per token when invoked, nothing while idle)" in out
    assert "--yes" in out
    assert deployed.aws.emulator.servings == servings_before


def test_with_yes_it_serves_under_the_runs_name_once_and_the_run_answers(deployed, capsys):
    names, model = _unserved_run(deployed, "serve-2")

    # Every request checked as AWS checks it (patterns, lengths), the new token included.
    with strict_validation():
        code, out, err = run_tools(capsys, "serve", *ENV, names.execution_name, "--yes")
        again_code, again, _ = run_tools(capsys, "serve", *ENV, names.execution_name, "--yes")

    assert (code, err) == (0, "")
    serving = deployed.aws.emulator.servings[names.deployment_name]
    assert out.startswith(f"serving requested: {serving.arn} (on-demand)")
    assert serving.request["modelArn"] == model
    # The run's tags: cleanup, the safety net and IAM's conditions see it as the run's own.
    assert {tag["key"]: tag["value"] for tag in serving.request["tags"]} == names.tags
    # A token of its own: Bedrock must not take it for a repeat of the run's own request.
    assert validate("bedrock", "CreateCustomModelDeployment", serving.request) == []
    token = serving.request["clientRequestToken"]
    assert token.startswith(names.client_token("deploy") + "-serve") and token != names.client_token("deploy")
    assert again_code == 0 and again.startswith(f"already served: {serving.arn}")
    assert [s.name for s in deployed.aws.emulator.servings.values()].count(names.deployment_name) == 1
    deployed.aws.emulator.clock.sleep(3600)  # the deployment becomes Active
    asked, answer, _ = run_tools(capsys, "invoke", *ENV, "--run", names.execution_name, PROMPT)
    assert (asked, answer.splitlines()[0]) == (0, ANSWER)
    assert f"model {serving.arn} (run {names.execution_name})" in answer


def test_a_run_without_a_model_or_unknown_is_one_line(deployed, capsys):
    failed = deployed.failed.execution_name  # refused by the cost ceiling: trained nothing

    code, out, err = run_tools(capsys, "serve", *ENV, failed, "--yes")
    unknown_code, _, unknown = run_tools(capsys, "serve", *ENV, "no-such-run-0123456789abcdef")

    assert (code, out) == (2, "")
    assert one_line_error(err).startswith(f"error: run {failed} has no custom model")
    assert unknown_code == 2
    assert (
        one_line_error(unknown)
        == "error: no run 'no-such-run-0123456789abcdef' in dev: see python -m tools status --env dev"
    )


def test_python_m_tools_serve_in_a_subprocess(deployed):
    names, model = _unserved_run(deployed, "serve-3")

    result = python_m_tools(deployed.aws, "serve", *ENV, names.execution_name)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"would serve {model}"


def test_a_sweep_that_kept_several_models_asks_which_and_serves_the_one_named(deployed, capsys):
    upload = {"bucket": "data-bucket", "key": "datasets/email-classifier/train.jsonl", "versionId": "serve-4"}
    names = deployed.start_run(upload, {"validation": {"valid": True}})
    models = [trained_model(deployed.aws.emulator, names.for_variant(n), BASE_MODEL, run_tags(names)) for n in (1, 2)]

    code, _, err = run_tools(capsys, "serve", *ENV, names.execution_name)
    chosen_code, chosen, _ = run_tools(capsys, "serve", *ENV, names.execution_name, "--model", models[1])
    wrong_code, _, wrong = run_tools(capsys, "serve", *ENV, names.execution_name, "--model", deployed.model_arn)

    assert code == 2
    assert one_line_error(err) == (
        f"error: run {names.execution_name} kept 2 custom models ({', '.join(sorted(models))}): "
        "pick one with --model ARN"
    )
    assert chosen_code == 0 and chosen.splitlines()[0] == f"would serve {models[1]}"
    assert wrong_code == 2 and f"--model {deployed.model_arn} is not a custom model of run" in wrong


def test_what_bedrock_refuses_is_one_line_and_nothing_is_created(deployed, capsys):
    names, _ = _unserved_run(deployed, "serve-5")
    deployed.aws.faults["CreateCustomModelDeployment"] = (
        400,
        "ServiceQuotaExceededException",
        "You have reached the maximum number of custom model deployments.",
    )
    code, out, err = run_tools(capsys, "serve", *ENV, names.execution_name, "--yes")
    deployed.aws.faults.clear()
    deployed.aws.faults["GetCustomModel"] = (403, "AccessDeniedException", "User is not authorized")
    denied_code, _, denied = run_tools(capsys, "serve", *ENV, names.execution_name, "--yes")

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        "error: Bedrock refused serving: You have reached the maximum number of custom model deployments. "
        "(a quota: python -m tools preflight shows it)"
    )
    assert denied_code == 2
    assert one_line_error(denied) == "error: Bedrock refused serving: AccessDeniedException: User is not authorized"
    assert names.deployment_name not in deployed.aws.emulator.servings


def test_json_says_what_was_served(deployed, capsys):
    names, model = _unserved_run(deployed, "serve-6")

    code, out, _ = run_tools(capsys, "serve", *ENV, names.execution_name, "--json")

    assert code == 0
    assert json.loads(out) == {
        "run": names.execution_name,
        "model": model,
        "mode": "on-demand",
        "serving": None,
        "created": False,
    }
