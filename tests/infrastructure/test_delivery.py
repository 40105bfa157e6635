"""The optional Delivery stack: who may assume its role (one repository's one GitHub environment,
through GitHub's OIDC provider) and what the role may do (assume the CDK bootstrap roles of its
account and Region, nothing else). Enabled here with context overrides, as `-c environments=`
would: the shipped cdk.json has no `delivery` key, so its snapshots stay as they are."""

from __future__ import annotations

import copy

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from stacks.config import ConfigError, cdk_json_context, load_environments
from stacks.delivery_stack import DeliveryStack, github_subject
from tools.synth import build_app

REPOSITORY = "octo-org/bedrock-customization"
DELIVERY = {
    "dev": {"githubRepository": REPOSITORY, "githubEnvironment": "dev", "oidcProvider": "create"},
    "prod": {"githubRepository": REPOSITORY, "githubEnvironment": "production", "oidcProvider": "import"},
}
PACKS = [AwsSolutionsChecks, ServerlessChecks, NIST80053R5Checks]


def _environments(**delivery) -> dict:
    environments = copy.deepcopy(cdk_json_context()["environments"])
    for name, settings in delivery.items():
        environments[name]["delivery"] = settings
    return environments


@pytest.fixture(scope="module")
def app_with_delivery(tmp_path_factory):
    """Every environment with delivery on: dev creates GitHub's OIDC provider, prod imports it.
    Without the nag plugins, so that each pack can be run on its own below."""
    app, environments = build_app(
        tmp_path_factory.mktemp("delivery"), context_overrides={"environments": _environments(**DELIVERY)}, nag=False
    )
    app.synth()
    return app, {stacks.config.name: stacks.delivery for stacks in environments}


@pytest.fixture(scope="module")
def templates(app_with_delivery):
    _, delivery = app_with_delivery
    return {name: Template.from_stack(stack) for name, stack in delivery.items()}


def _trust_statement(template: Template) -> dict:
    [role] = template.find_resources("AWS::IAM::Role").values()
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return statement


@pytest.mark.parametrize(("environment", "github_environment"), [("dev", "dev"), ("prod", "production")])
def test_only_the_repository_s_github_environment_may_assume_the_role(templates, environment, github_environment):
    statement = _trust_statement(templates[environment])

    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Effect"] == "Allow"
    # Exactly these two keys, compared exactly: no StringLike, no wildcard, no other operator.
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:{github_environment}",
        }
    }


def test_the_created_provider_is_github_s_for_sts_and_outlives_the_stack(templates):
    template = templates["dev"]
    [(provider_id, provider)] = template.find_resources("AWS::IAM::OIDCProvider").items()

    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert "ThumbprintList" not in provider["Properties"]
    assert provider["DeletionPolicy"] == provider["UpdateReplacePolicy"] == "Retain"
    assert _trust_statement(template)["Principal"] == {"Federated": {"Ref": provider_id}}


def test_the_imported_provider_is_the_account_s_github_provider(templates):
    template = templates["prod"]

    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    assert _trust_statement(template)["Principal"] == {
        "Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
    }


def test_the_role_may_only_assume_the_bootstrap_roles_of_its_account_and_region(templates):
    template = templates["prod"]
    [policy] = template.find_resources("AWS::IAM::ManagedPolicy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Resource"] == [
        f"arn:aws:iam::111122223333:role/cdk-hnb659fds-{kind}-role-111122223333-us-east-1"
        for kind in ("deploy", "file-publishing", "lookup")
    ]
    assert "Condition" not in statement
    # Nothing else grants the role anything: no inline policy, no AWS managed policy, one policy.
    template.resource_count_is("AWS::IAM::Policy", 0)
    template.has_resource_properties(
        "AWS::IAM::Role", {"Policies": Match.absent(), "ManagedPolicyArns": Match.absent(), "MaxSessionDuration": 3600}
    )


def test_an_unpinned_environment_resolves_account_and_region_at_deployment(templates):
    [policy] = templates["dev"].find_resources("AWS::IAM::ManagedPolicy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]

    deploy_role = statement["Resource"][0]["Fn::Join"][1]
    assert deploy_role[3:] == [
        {"Ref": "AWS::AccountId"},
        ":role/cdk-hnb659fds-deploy-role-",
        {"Ref": "AWS::AccountId"},
        "-",
        {"Ref": "AWS::Region"},
    ]


def test_the_bootstrap_qualifier_comes_from_the_cdk_context():
    app = App(context={**cdk_json_context(), "@aws-cdk/core:bootstrapQualifier": "team42"})
    config = load_environments(_environments(prod=DELIVERY["prod"]))["prod"]
    stack = DeliveryStack(
        app,
        "Delivery",
        config=config,
        delivery=config.delivery,
        env=Environment(account="111122223333", region="eu-west-1"),
    )

    [policy] = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()

    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"][0] == (
        "arn:aws:iam::111122223333:role/cdk-team42-deploy-role-111122223333-eu-west-1"
    )


def test_the_stack_is_named_tagged_and_gives_the_role_arn(app_with_delivery, templates):
    _, delivery = app_with_delivery

    assert delivery["dev"].stack_name == "BedrockCustomization-dev-Delivery"
    templates["dev"].has_output(
        "DeployRoleArn", {"Value": {"Fn::GetAtt": [Match.string_like_regexp("DeployRole"), "Arn"]}}
    )
    templates["dev"].has_resource_properties(
        "AWS::IAM::Role",
        {
            "Tags": Match.array_with(
                [{"Key": "environment", "Value": "dev"}, {"Key": "project", "Value": "BedrockCustomization"}]
            )
        },
    )


def test_without_a_delivery_key_there_is_no_delivery_stack(synthesized):
    assert not [name for name in synthesized.assembly.stacks if name.endswith("-Delivery")]


@pytest.mark.parametrize("environment", ["dev", "prod"])
@pytest.mark.parametrize("pack", PACKS, ids=lambda pack: pack.__name__)
def test_no_nag_findings_and_nothing_acknowledged(app_with_delivery, environment, pack):
    app, delivery = app_with_delivery

    report = pack(app).validate_scope(delivery[environment])

    assert [violation.rule_name for violation in report.violations] == []
    acknowledged = [
        construct.node.path
        for construct in delivery[environment].node.find_all()
        if any(entry.type == "aws:cdk:acknowledged-rules" for entry in construct.node.metadata)
    ]
    assert acknowledged == []


# --- the settings ----------------------------------------------------------------------------------


def test_the_subject_of_a_repository_with_immutable_ids():
    config = load_environments(
        _environments(dev={**DELIVERY["dev"], "githubRepository": "octo-org@123456/bedrock-customization@456789"})
    )["dev"]

    assert github_subject(config.delivery) == "repo:octo-org@123456/bedrock-customization@456789:environment:dev"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"githubRepository": "bedrock-customization"},
            "environments.dev.delivery: githubRepository is 'bedrock-customization'; allowed: OWNER/REPOSITORY",
        ),
        (
            {"githubEnvironment": "prod:*"},
            "environments.dev.delivery: githubEnvironment is 'prod:*'; allowed: the GitHub environment's name",
        ),
        ({"oidcProvider": None}, "environments.dev.delivery.oidcProvider: required key is missing"),
        (
            {"oidcProvider": "reuse"},
            "environments.dev.delivery.oidcProvider: got 'reuse' (str); allowed: 'create' or 'import'",
        ),
        ({"githubRepo": REPOSITORY}, "environments.dev.delivery.githubRepo: unknown key"),
    ],
)
def test_a_wrong_delivery_setting_names_the_key(change, message):
    delivery = {key: value for key, value in {**DELIVERY["dev"], **change}.items() if value is not None}

    with pytest.raises(ConfigError) as error:
        load_environments(_environments(dev=delivery))

    assert message in str(error.value)
