"""Graders deployed as infrastructure (cdk.json `graders`): one function, role and log group each,
invocable by this environment's customization role and nothing else. Enabled here with context
overrides: the shipped cdk.json deploys none, so its snapshots stay as they are."""

from __future__ import annotations

import copy
import json

import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from stacks.config import ConfigError, cdk_json_context, load_environments
from tools.synth import build_app

GRADERS = {"builtIn": ["exact-match", "json-schema", "regex"], "modules": {"strict-label": "graders.exact_match"}}
HANDLERS = {
    "graders.exact_match.handler": 2,  # the built-in and the environment's own name for it
    "graders.json_schema.handler": 1,
    "graders.regex.handler": 1,
}


def _environments(graders: dict) -> dict:
    environments = copy.deepcopy(cdk_json_context()["environments"])
    environments["dev"]["graders"] = graders
    return environments


@pytest.fixture(scope="module")
def app_with_graders(tmp_path_factory):
    app, environments = build_app(
        tmp_path_factory.mktemp("graders"),
        environment="dev",
        context_overrides={"environments": _environments(GRADERS)},
        nag=False,
    )
    app.synth()
    [dev] = environments
    return app, dev.pipeline


@pytest.fixture(scope="module")
def template(app_with_graders) -> Template:
    return Template.from_stack(app_with_graders[1])


def _graders(template: Template) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in template.find_resources("AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"].startswith("graders.")
    }


def test_each_grader_is_a_function_with_its_own_role_and_log_group(template):
    graders = _graders(template)

    handlers = [resource["Properties"]["Handler"] for resource in graders.values()]
    assert {handler: handlers.count(handler) for handler in handlers} == HANDLERS
    roles = {resource["Properties"]["Role"]["Fn::GetAtt"][0] for resource in graders.values()}
    log_groups = {resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for resource in graders.values()}
    assert len(roles) == len(log_groups) == 4
    assert {resource["Properties"]["Timeout"] for resource in graders.values()} == {60}


def test_the_customization_role_may_invoke_exactly_the_graders(template):
    graders = set(_graders(template))
    invoking = [
        statement
        for policy in template.find_resources("AWS::IAM::ManagedPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in statement["Action"]
        and any(_is_grader(resource, graders) for resource in statement["Resource"])
    ]

    assert len(invoking) == 1
    [statement] = invoking
    assert statement["Sid"] == "InvokeTheGraders" and statement["Effect"] == "Allow"
    assert {resource["Fn::GetAtt"][0] for resource in statement["Resource"]} == graders
    assert {resource["Fn::GetAtt"][1] for resource in statement["Resource"]} == {"Arn"}


def _is_grader(resource, graders: set[str]) -> bool:
    return isinstance(resource, dict) and resource.get("Fn::GetAtt", [None])[0] in graders


def test_the_invoking_policy_is_the_customization_role_s(template):
    [policy] = [
        policy
        for policy in template.find_resources("AWS::IAM::ManagedPolicy").values()
        if any(s.get("Sid") == "InvokeTheGraders" for s in policy["Properties"]["PolicyDocument"]["Statement"])
    ]

    [role] = policy["Properties"]["Roles"]
    trust = template.find_resources("AWS::IAM::Role")[role["Ref"]]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "bedrock.amazonaws.com"}


def test_no_resource_policy_opens_a_grader_to_a_service_principal(template):
    # The job's role invokes the grader (AWS's RFT access page and AWS's RFT sample); a
    # permission for bedrock.amazonaws.com would let jobs of any role in the account call it too.
    assert (
        template.find_resources("AWS::Lambda::Permission", {"Properties": {"Principal": "bedrock.amazonaws.com"}}) == {}
    )
    graders = set(_graders(template))
    targets = [
        (permission["Properties"]["FunctionName"].get("Fn::GetAtt") or [None])[0]
        for permission in template.find_resources("AWS::Lambda::Permission").values()
    ]
    # The template has permissions (EventBridge's rules invoke functions), none for a grader.
    assert len(graders) == 4 and [target for target in targets if target]
    assert graders.isdisjoint(targets)


def test_without_graders_nothing_is_deployed_and_the_job_role_may_invoke_nothing(synthesized):
    # prod deploys no grader (cdk.json); dev deploys the three built-in ones (see above).
    for name, stack in synthesized.assembly.stacks.items():
        if not name.endswith("-prod-Pipeline"):
            continue
        resources = stack.template["Resources"]
        handlers = [r["Properties"]["Handler"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
        assert not [handler for handler in handlers if handler.startswith("graders.")]
        job_role_policies = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::IAM::ManagedPolicy"
            and any("CustomizationServiceRole" in role.get("Ref", "") for role in r["Properties"].get("Roles", []))
        ]
        assert job_role_policies, name
        assert "lambda:" not in json.dumps(job_role_policies)


@pytest.mark.parametrize("pack", [AwsSolutionsChecks, ServerlessChecks, NIST80053R5Checks], ids=lambda p: p.__name__)
def test_the_graders_pass_the_nag_packs(app_with_graders, pack):
    app, pipeline = app_with_graders

    report = pack(app).validate_scope(pipeline)

    assert [(v.rule_name, v.resource) for v in report.violations] == []


@pytest.mark.parametrize(
    ("graders", "message"),
    [
        (
            {"builtIn": ["exact"]},
            "environments.dev.graders.builtIn.0: got 'exact' (str); allowed: 'exact-match', 'json-schema' or 'regex'",
        ),
        (
            {"modules": {"exact-match": "graders.exact_match"}},
            "grader name 'exact-match' is built in; give the environment's module another name",
        ),
        ({"modules": {"mine": "graders.no_such_module"}}, "cannot import module 'graders.no_such_module'"),
        ({"modules": {"mine": "os.path"}}, "environments.dev.graders.modules.mine"),
        ({"modules": {"Mine!": "graders.exact_match"}}, "environments.dev.graders.modules"),
    ],
)
def test_a_wrong_graders_setting_names_the_key(graders, message):
    with pytest.raises(ConfigError) as error:
        load_environments(_environments(graders))

    assert message in str(error.value)
