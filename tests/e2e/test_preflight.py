"""`python -m tools preflight` through the real parser (`main(argv)`), against an emulated
account: STS and CloudFormation in moto, Bedrock in the local run's emulation, and Service
Quotas, IAM's simulator, the key policy and SNS subscriptions in the account emulation.

The account is what deploying prod would leave: the stacks' outputs, the data key with the
policy the Storage stack synthesizes, the customization role with the policy the Pipeline stack
synthesizes. Each check has a case that passes and one that fails."""

from __future__ import annotations

import copy
import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

# Imported before any test patches tools.deployed.new_session: a first import of tools.preflight
# under that patch would bind the patched function, and monkeypatch would "restore" it for every
# later test in the session (the README command tests then met this module's account).
import tools.preflight  # noqa: F401
from tools.__main__ import main
from tools.local_run.account import CONCURRENT_JOBS_QUOTA, CUSTOM_MODEL_UNITS_QUOTA, AccountEmulator
from tools.local_run.bedrock import BedrockEmulator, Behaviour, SimulatedClock
from tools.local_run.deployment import LocalDeployment
from tools.local_run.runner import assembly_for

REGION = "us-east-1"
PROD_ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{PROD_ACCOUNT}:role/BedrockCustomization-prod-Pipeline-CustomizationRole"


class World:
    """What `make deploy ENV=prod` leaves in the account, with knobs to break one thing."""

    def __init__(self) -> None:
        deployment = LocalDeployment(assembly_for("prod", {}), "prod", REGION, "BedrockCustomization")
        self.deployment = deployment
        self.key_arn = next(arn for arn, policy in deployment.key_policies().items() if "Bedrock" in json.dumps(policy))
        self.topic = f"arn:aws:sns:{REGION}:{PROD_ACCOUNT}:BedrockCustomization-prod-Notifications"
        self.escalations = f"arn:aws:sns:{REGION}:{PROD_ACCOUNT}:BedrockCustomization-prod-Escalations"
        self.outputs = {
            "Storage": {
                "DataBucketName": deployment.bucket("DataBucket"),
                "OutputBucketName": deployment.bucket("OutputBucket"),
                "DataKeyArn": self.key_arn,
            },
            "Pipeline": {
                "CustomizationRoleArn": ROLE_ARN,
                "StateMachineArn": f"arn:aws:states:{REGION}:{PROD_ACCOUNT}:stateMachine:Workflow",
                "NotificationTopicArn": self.topic,
                "EscalationTopicArn": self.escalations,
                "RunSlotsTableName": "BedrockCustomization-prod-Pipeline-Coordination",
                "DeadLetterQueueUrl": f"https://sqs.{REGION}.amazonaws.com/{PROD_ACCOUNT}/DeadLetters",
            },
        }
        self.account = AccountEmulator(
            region=REGION,
            account=PROD_ACCOUNT,
            role_policies={ROLE_ARN: [self._role_policy()]},
            key_policies=deployment.key_policies(),
            subscriptions={
                self.topic: [("ml-platform@example.com", True)],
                self.escalations: [("ml-platform@example.com", True)],
            },
        )
        self.bedrock = BedrockEmulator(
            clock=SimulatedClock(dt.datetime(2026, 11, 26, tzinfo=dt.UTC)), region=REGION, behaviour=Behaviour()
        )
        self.deployed = True

    def _role_policy(self) -> dict:
        pipeline = self.deployment.pipeline
        [policy] = [
            r
            for i, r in pipeline.resources.items()
            if r["Type"] == "AWS::IAM::ManagedPolicy"
            and pipeline.construct_path(i) == "CustomizationServiceRole/Policy"
        ]
        return self.deployment.resolve(policy["Properties"]["PolicyDocument"])

    def deploy(self) -> None:
        cfn = boto3.client("cloudformation", region_name=REGION)
        for part, outputs in self.outputs.items():
            template = {
                "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()},
            }
            cfn.create_stack(StackName=f"BedrockCustomization-prod-{part}", TemplateBody=json.dumps(template))

    def session(self):
        world = self

        class Session:
            region_name = REGION

            def client(self, service, **kwargs):
                if service in ("bedrock", "bedrock-runtime"):
                    return world.bedrock.client(service)
                if service in AccountEmulator.SERVICES:
                    return world.account.client(service)
                return boto3.client(service, region_name=REGION)

        return Session()


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", PROD_ACCOUNT)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        world = World()
        monkeypatch.setattr("tools.deployed.new_session", lambda region: world.session())
        monkeypatch.setattr("tools.preflight.new_session", lambda region: world.session())
        yield world


def _preflight(capsys, world, *extra) -> tuple[int, dict[str, dict]]:
    if world.deployed:
        world.deploy()
    code = main(["preflight", "--env", "prod", "--json", *extra])
    checks = json.loads(capsys.readouterr().out)
    return code, {check["name"]: check for check in checks}


def test_a_ready_account_passes_every_check(world, capsys):
    world.deploy()

    code = main(["preflight", "--env", "prod"])

    text = capsys.readouterr().out

    assert code == 0
    lines = text.splitlines()
    assert all(line.startswith("PASS") for line in lines[:-1]), text
    assert lines[-1] == f"{len(lines) - 1} checks: 0 failed, 0 warnings; ready for a first run"
    for name in (
        "credentials",
        "model Amazon Nova Micro",
        "job quota",
        "throughput quota",
        "stacks",
        "key policy",
        "notifications",
        "role permissions",
    ):
        assert any(line[6:].startswith(name) for line in lines), name


def test_credentials_of_another_account_fail_and_stop_the_other_checks(world, capsys, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "123456789012")

    code, checks = _preflight(capsys, world)

    assert code == 1
    assert checks["credentials"]["status"] == "FAIL"
    assert "for account 123456789012, but prod pins 111122223333" in checks["credentials"]["detail"]
    assert list(checks) == ["credentials"]


def test_a_model_the_region_does_not_offer_fails_with_where_it_is(world, capsys):
    world.bedrock.region = "us-west-2"  # this Bedrock lists us-west-2's models only

    code, checks = _preflight(capsys, world)

    check = checks["model Amazon Nova Micro"]
    assert code == 1 and check["status"] == "FAIL"
    assert "does not offer FINE_TUNING of amazon.nova-micro-v1:0:128k" in check["detail"]
    assert "us-east-1" in check["fix"]


def test_a_model_without_access_fails_with_how_to_enable_it(world, capsys):
    world.bedrock.behaviour = Behaviour(models_without_access=frozenset({"amazon.nova-micro-v1:0"}))

    code, checks = _preflight(capsys, world)

    check = checks["model Amazon Nova Micro"]
    assert code == 1 and check["status"] == "FAIL"
    assert "enable model access in the Bedrock console" in check["fix"]


@pytest.mark.parametrize(
    ("quotas", "name", "status"),
    [
        ({CONCURRENT_JOBS_QUOTA: 0, CUSTOM_MODEL_UNITS_QUOTA: 2}, "job quota", "FAIL"),
        ({CUSTOM_MODEL_UNITS_QUOTA: 2}, "job quota", "WARN"),
        ({CONCURRENT_JOBS_QUOTA: 2, CUSTOM_MODEL_UNITS_QUOTA: 0}, "throughput quota", "FAIL"),
    ],
)
def test_quotas_too_small_or_not_found(world, capsys, quotas, name, status):
    world.account.quotas = quotas

    code, checks = _preflight(capsys, world)

    assert checks[name]["status"] == status
    assert code == (1 if status == "FAIL" else 0)
    assert "Service Quotas" in checks[name]["fix"]


def test_stacks_not_deployed_fail_with_the_deploy_command(world, capsys):
    world.deployed = False

    code, checks = _preflight(capsys, world)

    assert code == 1
    assert checks["stacks"]["status"] == "FAIL" and checks["stacks"]["fix"] == "make deploy ENV=prod"
    assert "key policy" not in checks  # nothing to look at without the stacks


def test_a_stack_without_its_outputs_fails(world, capsys):
    del world.outputs["Pipeline"]["CustomizationRoleArn"]

    code, checks = _preflight(capsys, world)

    assert code == 1 and "outputs missing: CustomizationRoleArn" in checks["stacks"]["detail"]


def test_a_key_policy_without_bedrock_fails(world, capsys):
    policy = world.account.key_policies[world.key_arn]
    policy["Statement"] = [s for s in policy["Statement"] if "Sid" not in s]  # only the account root

    code, checks = _preflight(capsys, world)

    assert code == 1 and checks["key policy"]["status"] == "FAIL"
    assert "provisioned throughput of a trained Nova model would fail" in checks["key policy"]["detail"]


@pytest.mark.parametrize(
    ("subscriptions", "detail"),
    [
        ([("ml-platform@example.com", False)], "not confirmed yet: ml-platform@example.com"),
        ([], "nobody is subscribed"),
    ],
)
def test_unconfirmed_or_missing_subscriptions_warn(world, capsys, subscriptions, detail):
    world.account.subscriptions[world.topic] = subscriptions

    code, checks = _preflight(capsys, world)

    assert code == 0 and checks["notifications"]["status"] == "WARN"
    assert detail in checks["notifications"]["detail"]


def test_a_role_that_cannot_write_artifacts_fails_the_simulation(world, capsys):
    [policy] = world.account.role_policies[ROLE_ARN]
    broken = copy.deepcopy(policy)
    broken["Statement"] = [s for s in broken["Statement"] if s.get("Sid") != "WriteModelArtifacts"]
    world.account.role_policies[ROLE_ARN] = [broken]

    code, checks = _preflight(capsys, world)

    check = checks["role permissions"]
    assert code == 1 and check["status"] == "FAIL"
    assert "write model artifacts (s3:PutObject: implicitDeny)" in check["detail"]


def test_an_aws_error_in_one_check_is_its_fail_line_and_the_rest_still_run(world, capsys):
    world.account.key_policies = {}  # GetKeyPolicy: NotFoundException

    code, checks = _preflight(capsys, world)

    assert code == 1
    assert checks["key policy"]["detail"].startswith("AWS refused: NotFoundException")
    assert checks["role permissions"]["status"] == "PASS"


def test_an_unknown_environment_is_a_usage_error(capsys):
    assert main(["preflight", "--env", "nope"]) == 2
    assert "unknown environment 'nope'" in capsys.readouterr().err
