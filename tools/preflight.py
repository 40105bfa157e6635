"""`python -m tools preflight --env NAME [--json]`: before the first run, check that the AWS
account can run this environment's pipeline, one line per check, with the fix.

    PASS  credentials   account 111122223333, the account prod pins
    FAIL  key policy    the data key does not let Bedrock use it ... -> fix: make deploy ENV=prod

Every check reads; none changes anything. Exit status: 0 when nothing FAILs (WARN is allowed),
1 when a check FAILs, 2 on a usage error (an unknown environment). What a real account would
refuse is what these checks look for: the model access, quotas and key policy that a first
run otherwise discovers hours in.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from customization.bedrock_errors import error_code, error_message
from customization.catalog import load_catalog
from customization.key_policy import allows_bedrock_custom_models
from customization.serving import NO_COMMITMENT, PROVISIONED
from tools.deployed import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    DeployedEnvironment,
    UsageError,
    environment_config,
    new_session,
    one_line,
    region_of,
)

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
STACK_OUTPUTS = (
    "DataBucketName",
    "OutputBucketName",
    "DataKeyArn",
    "CustomizationRoleArn",
    "StateMachineArn",
    "NotificationTopicArn",
    "EscalationTopicArn",
    "RunSlotsTableName",
    "DeadLetterQueueUrl",
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -> fix: {self.fix}" if self.fix and self.status != PASS else ""
        return f"{self.status}  {self.name:<17} {self.detail}{fix}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment from cdk.json")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    try:
        config = environment_config(args.env)
        session = new_session(region_of(config))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    checks = list(checks_of(config, session))
    if args.json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        print("\n".join(check.line() for check in checks))
        failed = sum(check.status == FAIL for check in checks)
        warned = sum(check.status == WARN for check in checks)
        print(
            f"{len(checks)} checks: {failed} failed, {warned} warnings" + ("" if failed else "; ready for a first run")
        )
    return EXIT_FAILED if any(check.status == FAIL for check in checks) else EXIT_OK


def checks_of(config, session) -> Iterator[Check]:
    """Each check in turn; the ones that need what an earlier one found stop where it failed."""
    identity = _credentials(config, session)
    yield identity
    if identity.status == FAIL:
        return
    yield from _guarded("models", lambda: list(_models(config, session)))
    yield from _guarded("quotas", lambda: list(_quotas(config, session)))
    try:
        environment = DeployedEnvironment.lookup(config.name, session)
    except UsageError as error:
        yield Check("stacks", FAIL, str(error).split(": run ")[0], f"make deploy ENV={config.name}")
        return
    missing = [key for key in STACK_OUTPUTS if key not in environment.outputs]
    if missing:
        yield Check("stacks", FAIL, f"outputs missing: {', '.join(missing)}", f"make deploy ENV={config.name}")
        return
    yield Check("stacks", PASS, f"both stacks deployed in {environment.region}, with their outputs")
    yield from _guarded("key policy", lambda: [_key_policy(environment, session)])
    yield from _guarded("notifications", lambda: [_subscriptions(config, environment, session)])
    yield from _guarded(
        "escalations",
        lambda: [_subscriptions(config, environment, session, output="EscalationTopicArn", check="escalations")],
    )
    yield from _guarded("role permissions", lambda: list(_role_permissions(environment, session)))


def _guarded(name: str, check: Callable[[], list[Check]]) -> Iterator[Check]:
    """One check's lines; an AWS error it meets is its FAIL line, and the others still run."""
    try:
        yield from check()
    except ClientError as error:
        server_side = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        answer = f"{error_code(error)}: {one_line(error_message(error))}"
        yield Check(name, FAIL, f"AWS {'failed' if server_side else 'refused'}: {answer}", _fix(error, server_side))
    except BotoCoreError as error:
        yield Check(name, FAIL, f"AWS call failed: {one_line(error)}", "check the network and the region")


def _fix(error: ClientError, server_side: bool) -> str:
    if "AccessDenied" in error_code(error):
        return "run preflight with credentials that may read this (e.g. ReadOnlyAccess)"
    if server_side or "Throttl" in error_code(error):
        return "an error on AWS's side: try again in a few minutes"
    return "see the message"


def _credentials(config, session) -> Check:
    if session.region_name is None:
        return Check("credentials", FAIL, "no AWS region", "set AWS_REGION (or pin region in cdk.json)")
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except NoCredentialsError:
        return Check("credentials", FAIL, "no AWS credentials", "set AWS_PROFILE or run aws sso login")
    except EndpointConnectionError as error:
        return Check(
            "credentials",
            FAIL,
            f"cannot reach AWS: {one_line(error)}",
            "check the network, the region and any AWS_ENDPOINT_URL",
        )
    except (ClientError, BotoCoreError) as error:
        return Check("credentials", FAIL, f"the credentials do not work: {one_line(error)}", "sign in again")
    if config.account and account != config.account:
        return Check(
            "credentials",
            FAIL,
            f"the credentials are for account {account}, but {config.name} pins {config.account}",
            f"use a profile of account {config.account}",
        )
    pinned = f", the account {config.name} pins" if config.account else f" (region {session.region_name})"
    return Check("credentials", PASS, f"account {account}{pinned}")


def _models(config, session) -> Iterator[Check]:
    """Each allowed base model: customizable in the Region, and the account has access to it."""
    bedrock = session.client("bedrock")
    catalog = load_catalog()
    offered_by_type: dict[str, set[str]] = {}
    for model_id in config.customization.allowed_base_models:
        model = catalog.model(model_id)
        kind = config.customization.customization_type if model_id == config.customization.base_model else "FINE_TUNING"
        if kind not in offered_by_type:
            summaries = bedrock.list_foundation_models(byCustomizationType=kind)["modelSummaries"]
            offered_by_type[kind] = {summary["modelId"] for summary in summaries}
        if model_id not in offered_by_type[kind]:
            yield Check(
                f"model {model.name}",
                FAIL,
                f"{session.region_name} does not offer {kind} of {model_id}",
                f"deploy to one of {', '.join(model.regions)}, or pick another model in cdk.json",
            )
            continue
        availability = bedrock.get_foundation_model_availability(modelId=model.invocation.base_model_id)
        yield _access(model, availability)


def _access(model, availability: dict[str, Any]) -> Check:
    name = f"model {model.name}"
    agreement = (availability.get("agreementAvailability") or {}).get("status")
    if availability.get("authorizationStatus") != "AUTHORIZED" or availability.get("entitlementAvailability") != (
        "AVAILABLE"
    ):
        return Check(
            name,
            FAIL,
            "the account has no access to it",
            "enable model access in the Bedrock console (Model access), and allow aws-marketplace:Subscribe",
        )
    if agreement == "PENDING":
        return Check(name, WARN, "its agreement is pending", "wait for the Marketplace agreement, then run again")
    if agreement not in ("AVAILABLE", None):
        return Check(name, FAIL, f"its agreement is {agreement}", "accept the model's agreement in the Bedrock console")
    return Check(name, PASS, "customizable here, and the account has access")


def _quotas(config, session) -> Iterator[Check]:
    quotas = {}
    paginator = session.client("service-quotas").get_paginator("list_service_quotas")
    for page in paginator.paginate(ServiceCode="bedrock"):
        quotas.update({quota["QuotaName"]: quota["Value"] for quota in page["Quotas"]})
    # AWS documents no exact name for this quota (checked 2026-11-29): matched by its words.
    jobs = next((v for n, v in quotas.items() if "customization job" in n.lower() and "concurrent" in n.lower()), None)
    if jobs is None:
        yield Check(
            "job quota",
            WARN,
            "no concurrent model customization jobs quota found",
            "check Amazon Bedrock's quotas in the Service Quotas console",
        )
    else:
        yield Check("job quota", PASS if jobs >= 1 else FAIL, f"{jobs:g} concurrent customization job(s)", _raise_quota)
    if config.serving.mode == PROVISIONED:
        yield _units_quota(config, quotas)


_raise_quota = "request an increase in the Service Quotas console (Amazon Bedrock)"


def _units_quota(config, quotas: dict[str, float]) -> Check:
    wanted = config.serving.model_units
    if config.serving.commitment != NO_COMMITMENT:
        return Check(
            "throughput quota",
            WARN,
            f"{config.serving.commitment} throughput needs committed model units, which start at 0",
            "ask AWS Support for model units before the first run",
        )
    name = "model units no-commitment provisioned throughputs across custom models"
    units = next((value for quota, value in quotas.items() if quota.lower() == name), None)
    if units is None:
        return Check("throughput quota", WARN, "no-commitment model units quota not found", _raise_quota)
    status = PASS if units >= wanted else FAIL
    return Check("throughput quota", status, f"{units:g} no-commitment model unit(s), {wanted} needed", _raise_quota)


def _key_policy(environment: DeployedEnvironment, session) -> Check:
    key = environment.outputs["DataKeyArn"]
    policy = json.loads(session.client("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    if allows_bedrock_custom_models(policy):
        return Check("key policy", PASS, "Bedrock may use the data key for the custom models it encrypts")
    return Check(
        "key policy",
        FAIL,
        "the data key's policy does not let bedrock.amazonaws.com use it for custom models: provisioned "
        "throughput of a trained Nova model would fail",
        f"make deploy ENV={environment.name} (the Storage stack adds the statement)",
    )


def _subscriptions(
    config,
    environment: DeployedEnvironment,
    session,
    *,
    output: str = "NotificationTopicArn",
    check: str = "notifications",
) -> Check:
    """Who gets the topic's e-mails: the run notifications, or the escalations (the alarms about
    the notification channel itself, which must reach people when the first topic cannot)."""
    sns = session.client("sns")
    topic = environment.outputs[output]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    pending = [s["Endpoint"] for s in subscriptions if s["SubscriptionArn"] == "PendingConfirmation"]
    confirmed = [s["Endpoint"] for s in subscriptions if s["SubscriptionArn"] != "PendingConfirmation"]
    if pending:
        return Check(
            check,
            WARN,
            f"not confirmed yet: {', '.join(pending)} (they get no e-mails)",
            "open the AWS Notification e-mail each address received and confirm",
        )
    if not confirmed:
        return Check(
            check,
            WARN,
            "nobody is subscribed: failures reach no one",
            f"add notifications.emails for {config.name} in cdk.json and deploy",
        )
    return Check(check, PASS, f"{len(confirmed)} confirmed subscription(s)")


def _role_permissions(environment: DeployedEnvironment, session) -> Iterator[Check]:
    """What a job does with the customization role, simulated by IAM on the real bucket and key."""
    outputs, region = environment.outputs, environment.region
    data, output, key = outputs["DataBucketName"], outputs["OutputBucketName"], outputs["DataKeyArn"]
    cases = [
        ("read the training data", "s3:GetObject", f"arn:aws:s3:::{data}/prepared/preflight/train.jsonl", "s3"),
        ("list the training data", "s3:ListBucket", f"arn:aws:s3:::{data}", "s3"),
        ("write model artifacts", "s3:PutObject", f"arn:aws:s3:::{output}/jobs/preflight/model.tar", "s3"),
        ("decrypt with the data key", "kms:Decrypt", key, "s3"),
        ("encrypt the custom model", "kms:GenerateDataKey", key, "bedrock"),
    ]
    iam = session.client("iam")
    failed = []
    for purpose, action, resource, via in cases:
        context = [
            {
                "ContextKeyName": "kms:ViaService",
                "ContextKeyValues": [f"{via}.{region}.amazonaws.com"],
                "ContextKeyType": "string",
            },
            {"ContextKeyName": "s3:prefix", "ContextKeyValues": ["prepared/"], "ContextKeyType": "string"},
        ]
        [result] = iam.simulate_principal_policy(
            PolicySourceArn=outputs["CustomizationRoleArn"],
            ActionNames=[action],
            ResourceArns=[resource],
            ContextEntries=context,
        )["EvaluationResults"]
        if result["EvalDecision"] != "allowed":
            failed.append(f"{purpose} ({action}: {result['EvalDecision']})")
    if failed:
        yield Check(
            "role permissions",
            FAIL,
            f"the customization role may not {'; '.join(failed)}",
            f"make deploy ENV={environment.name}; if it persists, look for a deny in an SCP or permissions boundary",
        )
    else:
        yield Check("role permissions", PASS, f"the customization role may do all {len(cases)} things a job does")
