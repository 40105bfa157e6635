"""What each command of the README says when AWS says no, fails, throttles or cannot be
reached, and when the shell lacks a region or credentials: typed as users type them
(`tools.__main__.main(argv)`), against the account of test_readme_commands.py on 127.0.0.1,
with one service's endpoint pointed at a closed port or the Bedrock emulation answering an
error. Every one is a line on stderr and exit status 2, never a traceback; preflight, whose
output is one line per check, reports it as the failing check's line."""

from __future__ import annotations

import os

import pytest

from tests.aws_world import (
    PROMPT,
    REGION,
    DeployedWorld,
    closed_endpoint,
    endpoint_variable,
    one_line_error,
)
from tests.aws_world import (
    run_tools as run,
)

ENV = ["--env", "dev"]
DENIED = "User: arn:aws:iam::123456789012:user/operator is not authorized to perform: bedrock:{}"
COMMANDS = {
    "status": ["status", *ENV],
    "status RUN": ["status", *ENV, "email-classifier-38f4b4ba2e8f4a27"],
    "invoke --run": ["invoke", *ENV, "--run", "email-classifier-38f4b4ba2e8f4a27", PROMPT],
    "invoke --model": ["invoke", *ENV, "--model", "amazon.nova-micro-v1:0", PROMPT],
    "cleanup": ["cleanup", *ENV, "--older-than", "7"],
    "cleanup --yes": ["cleanup", *ENV, "--older-than", "7", "--yes"],
    "submit --wait": ["submit", "examples/email-classifier", *ENV, "--wait"],
}


def data_versions(deployed: DeployedWorld) -> int:
    return len(deployed.aws.client("s3").list_object_versions(Bucket="data-bucket").get("Versions", []))


# -- status ---------------------------------------------------------------------------------------


def test_status_when_bedrock_fails_with_a_5xx(deployed, capsys):
    deployed.aws.faults["GetModelCustomizationJob"] = (500, "InternalServerException", "Internal error")

    code, out, err = run(capsys, "status", *ENV)

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        "error: AWS failed while listing dev's runs: InternalServerException: Internal error "
        "(an error on AWS's side: try again in a few minutes)"
    )


def test_status_when_bedrock_still_throttles_after_the_sdks_retries(deployed, capsys, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    deployed.aws.faults["GetModelCustomizationJob"] = (400, "ThrottlingException", "Rate exceeded.")
    asked = len(deployed.aws.bedrock_requests)

    code, _, err = run(capsys, "status", *ENV)

    assert code == 2
    assert deployed.aws.bedrock_requests[asked:] == ["GetModelCustomizationJob"] * 2  # the SDK retried once
    assert one_line_error(err) == (
        "error: AWS refused listing dev's runs: ThrottlingException: Rate exceeded. (AWS is throttling the "
        "account's requests, still after 2 attempt(s): try again in a few minutes)"
    )


def test_status_of_a_run_when_step_functions_cannot_be_reached(deployed, capsys, monkeypatch):
    closed = closed_endpoint()
    assert endpoint_variable("stepfunctions") == "AWS_ENDPOINT_URL_SFN"  # botocore's name, from the service ID
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", closed)
    name = deployed.succeeded.execution_name

    code, out, err = run(capsys, "status", *ENV, name)

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        f'error: cannot reach AWS while reading run {name}: Could not connect to the endpoint URL: "{closed}/"; '
        "check the network, the region and any AWS_ENDPOINT_URL setting"
    )


# -- invoke ---------------------------------------------------------------------------------------


def test_invoke_when_the_runtime_denies_the_model(deployed, capsys):
    deployed.aws.faults["Converse"] = (403, "AccessDeniedException", DENIED.format("InvokeModel"))

    code, out, err = run(capsys, "invoke", *ENV, "--run", deployed.succeeded.execution_name, PROMPT)

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        f"error: {deployed.deployment_arn}: access denied ({DENIED.format('InvokeModel')}). Check that model "
        "access is enabled for it in the Bedrock console of this account and region, and that the caller may "
        "bedrock:InvokeModel it"
    )


def test_invoke_when_bedrock_denies_reading_the_deployment(deployed, capsys):
    deployed.aws.faults["GetCustomModelDeployment"] = (
        403,
        "AccessDeniedException",
        DENIED.format("GetCustomModelDeployment"),
    )

    code, out, err = run(capsys, "invoke", *ENV, "--model", deployed.deployment_arn, PROMPT)

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        "error: AWS refused finding the model to ask: AccessDeniedException: "
        f"{DENIED.format('GetCustomModelDeployment')} (your identity lacks a permission this needs)"
    )


def test_invoke_when_bedrock_cannot_be_reached(deployed, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", closed_endpoint())

    code, out, err = run(capsys, "invoke", *ENV, "--run", deployed.succeeded.execution_name, PROMPT)

    assert (code, out) == (2, "")
    assert one_line_error(err).startswith("error: cannot reach AWS while finding the model to ask: ")


# -- submit ---------------------------------------------------------------------------------------


def test_submit_when_s3_denies_the_upload(deployed, capsys):
    deployed.aws.refuse_uploads(403, "AccessDenied", "Access Denied")
    before = len(deployed.submitted)

    code, out, err = run(capsys, "submit", "examples/email-classifier", *ENV, "--wait")

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        "error: AWS refused uploading examples/email-classifier: AccessDenied: Access Denied "
        "(your identity lacks a permission this needs)"
    )
    assert len(deployed.submitted) == before


def test_submit_when_s3_cannot_be_reached_uploads_nothing(deployed, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", closed_endpoint())
    before = data_versions(deployed)

    code, out, err = run(capsys, "submit", "examples/email-classifier", *ENV)

    assert (code, out) == (2, "")
    assert one_line_error(err).startswith("error: cannot reach AWS while uploading examples/email-classifier: ")
    assert data_versions(deployed) == before


def test_submit_wait_when_bedrock_fails_while_following_the_run(deployed, capsys):
    deployed.aws.faults["GetModelCustomizationJob"] = (503, "ServiceUnavailableException", "Service unavailable")

    code, out, err = run(capsys, "submit", "examples/email-classifier", *ENV, "--wait")

    started = deployed.submitted[-1]
    assert code == 2
    assert out.splitlines()[-1] == (
        f"run {started.execution_name} starts from the upload event; its job will be {started.job_name}"
    )
    assert one_line_error(err) == (
        f"error: AWS failed while following run {started.execution_name}: ServiceUnavailableException: "
        "Service unavailable (an error on AWS's side: try again in a few minutes)"
    )


# -- cleanup --------------------------------------------------------------------------------------


def test_cleanup_when_bedrock_denies_listing(deployed, capsys):
    deployed.aws.faults["ListCustomModelDeployments"] = (
        403,
        "AccessDeniedException",
        DENIED.format("ListCustomModelDeployments"),
    )

    code, out, err = run(capsys, "cleanup", *ENV, "--older-than", "7", "--yes")

    assert (code, out) == (2, "")
    assert one_line_error(err) == (
        "error: AWS refused listing what dev's runs left: AccessDeniedException: "
        f"{DENIED.format('ListCustomModelDeployments')} (your identity lacks a permission this needs)"
    )
    assert not [operation for operation in deployed.aws.bedrock_requests if operation.startswith("Delete")]


def test_cleanup_when_bedrock_denies_reading_tags_is_an_error_not_nothing_left(deployed, capsys):
    """Which items are this environment's is told by their tags: without them, nothing may be
    reported as "nothing billable left"."""
    deployed.aws.faults["ListTagsForResource"] = (403, "AccessDeniedException", DENIED.format("ListTagsForResource"))

    code, out, err = run(capsys, "cleanup", *ENV, "--older-than", "7", "--yes")

    assert (code, out) == (2, "")
    assert "AccessDeniedException" in one_line_error(err) and "ListTagsForResource" in one_line_error(err)
    assert not [operation for operation in deployed.aws.bedrock_requests if operation.startswith("Delete")]


def test_cleanup_yes_when_a_deletion_is_denied_reports_it_and_exits_1(deployed, capsys):
    """One item AWS will not delete is that item's line (the others would still be deleted): the
    documented verdict of `cleanup`, exit status 1, not a usage error."""
    deployed.aws.faults["DeleteCustomModelDeployment"] = (
        403,
        "AccessDeniedException",
        DENIED.format("DeleteCustomModelDeployment"),
    )

    code, out, err = run(capsys, "cleanup", *ENV, "--older-than", "7", "--yes")

    assert (code, err) == (1, "")
    assert (
        f"-> NOT DELETED (AccessDeniedException: {DENIED.format('DeleteCustomModelDeployment')}): "
        "on-demand: no idle cost, but keeps the model invocable"
    ) in out
    listed = sum(line.lstrip().startswith("-> ") for line in out.splitlines())
    assert out.splitlines()[-2:] == [
        f"deleted 0 item(s), kept {listed - 1}",
        "1 item(s) could not be deleted: see NOT DELETED above",
    ]
    assert deployed.earlier_deployment_arn in deployed.aws.emulator.billed_servings()


# -- preflight ------------------------------------------------------------------------------------


def test_preflight_when_bedrock_fails_is_the_failing_checks_line_and_the_rest_still_run(deployed, capsys):
    deployed.aws.faults["ListFoundationModels"] = (500, "InternalServerException", "Internal error")

    code, out, err = run(capsys, "preflight", *ENV)

    assert (code, err) == (1, "")
    assert (
        "FAIL  models            AWS failed: InternalServerException: Internal error "
        "-> fix: an error on AWS's side: try again in a few minutes"
    ) in out.splitlines()
    assert "PASS  stacks" in out and "PASS  role permissions" in out
    assert out.splitlines()[-1] == "8 checks: 1 failed, 2 warnings"


def test_preflight_when_aws_cannot_be_reached(deployed, capsys, monkeypatch):
    closed = closed_endpoint()
    monkeypatch.setenv(endpoint_variable("sts"), closed)

    code, out, err = run(capsys, "preflight", *ENV)

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f'FAIL  credentials       cannot reach AWS: Could not connect to the endpoint URL: "{closed}/" '
        "-> fix: check the network, the region and any AWS_ENDPOINT_URL",
        "1 checks: 1 failed, 0 warnings",
    ]


# -- every command, whatever the service ------------------------------------------------------------


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_command_when_aws_cannot_be_reached_at_all(deployed, capsys, monkeypatch, argv):
    closed = closed_endpoint()
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.setenv(name, closed)

    code, out, err = run(capsys, *argv)

    assert code == 2
    assert "Traceback" not in out + err
    assert one_line_error(err).startswith(
        "error: cannot reach AWS while reading stack BedrockCustomization-dev-Storage: "
    )


# -- the region ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variables",
    [
        {"AWS_REGION": REGION},
        {"AWS_DEFAULT_REGION": REGION},
        {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": "eu-west-1"},  # as the AWS CLI: AWS_REGION wins
    ],
    ids=["AWS_REGION", "AWS_DEFAULT_REGION", "both"],
)
def test_the_region_comes_from_either_variable(deployed, capsys, monkeypatch, variables):
    monkeypatch.delenv("AWS_REGION")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    code, out, err = run(capsys, "status", *ENV)
    preflight, checked, _ = run(capsys, "preflight", *ENV)

    assert (code, err) == (0, "")
    assert deployed.succeeded.execution_name in out
    assert preflight == 0 and f"both stacks deployed in {REGION}" in checked


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_no_region_says_how_to_set_one(deployed, capsys, monkeypatch, argv):
    monkeypatch.delenv("AWS_REGION")

    code, out, err = run(capsys, *argv)

    assert code == 2
    assert "starts from the upload event" not in out  # submit validated, then uploaded nothing
    assert one_line_error(err) == (
        "error: no AWS region for dev: set AWS_REGION (for example export AWS_REGION=us-east-1) "
        "or pin region in cdk.json"
    )


def test_no_region_in_preflight_and_the_region_prod_pins(deployed, capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION")

    code, out, _ = run(capsys, "preflight", *ENV)
    pinned, _, err = run(capsys, "status", "--env", "prod")

    assert code == 1
    assert (
        out.splitlines()[0]
        == "FAIL  credentials       no AWS region -> fix: set AWS_REGION (or pin region in cdk.json)"
    )
    assert pinned == 2  # prod is not deployed in this account, but its region is known: cdk.json pins it
    assert one_line_error(err) == (
        "error: BedrockCustomization-prod-Storage is not deployed in us-east-1: run make deploy ENV=prod"
    )


# -- credentials ----------------------------------------------------------------------------------


def test_submit_checks_the_folder_before_it_needs_credentials(deployed, capsys, monkeypatch, tmp_path):
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)  # no credentials, no region, no endpoint: nothing at all
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (tmp_path / "train.jsonl").write_text("{'role': 'user'}\n")

    code, out, err = run(capsys, "submit", str(tmp_path), *ENV)

    assert (code, err) == (1, "")
    assert f"{tmp_path / 'train.jsonl'}:1: json: not valid JSON" in out
    assert out.splitlines()[-1] == "nothing was uploaded: fix the problems above and submit again"


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_no_credentials_is_one_line(deployed, capsys, monkeypatch, argv):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    code, _, err = run(capsys, *argv)

    assert code == 2
    assert one_line_error(err) == "error: no AWS credentials: set AWS_PROFILE or run aws sso login / aws configure"


@pytest.mark.parametrize("argv", [*COMMANDS.values(), ["preflight", *ENV]], ids=[*COMMANDS.keys(), "preflight"])
def test_a_profile_that_does_not_exist_is_one_line(deployed, capsys, monkeypatch, argv):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "operatr")  # misspelled

    code, out, err = run(capsys, *argv)

    assert code == 2
    assert "Traceback" not in out + err
    assert one_line_error(err) == (
        "error: the AWS profile 'operatr' (AWS_PROFILE) does not exist: fix AWS_PROFILE, "
        "or aws configure --profile operatr"
    )


@pytest.fixture
def expired_sign_in(monkeypatch, tmp_path) -> None:
    """A profile whose credential_process fails, as an expired sign-in does: the SDK fails when
    a client is made, before any request, with the process's message (and its line break)."""
    config = tmp_path / "config"
    config.write_text("[profile operator]\ncredential_process = sh -c 'echo \"the session expired\" >&2; exit 1'\n")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "operator")


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_credentials_that_cannot_be_had_are_one_line(deployed, capsys, expired_sign_in, argv):
    code, _, err = run(capsys, *argv)

    assert code == 2
    assert one_line_error(err) == (
        "error: AWS call failed while connecting to CloudFormation: "
        "Error when retrieving credentials from custom-process: the session expired"
    )


def test_credentials_that_cannot_be_had_fail_preflights_first_check_in_one_line(deployed, capsys, expired_sign_in):
    code, out, err = run(capsys, "preflight", *ENV)

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "FAIL  credentials       the credentials do not work: Error when retrieving credentials from "
        "custom-process: the session expired -> fix: sign in again",
        "1 checks: 1 failed, 0 warnings",
    ]
