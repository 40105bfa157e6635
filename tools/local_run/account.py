"""The account-level services `tools preflight` asks, emulated where moto has no model of them
or is looser than AWS: Service Quotas' Bedrock quotas, IAM's policy simulator, KMS key policies
of the deployed keys, and SNS subscriptions (moto confirms an e-mail subscription at once; AWS
lists it as PendingConfirmation until the person clicks the link).

Both answer through real boto3 clients (`emulated_client`): botocore validates every request,
and every answer against the service model.

The simulator evaluates what this project's policies are made of (Allow and Deny statements,
`*` and `?` in actions and resources, and the condition operators the stacks write:
StringEquals, StringLike, ArnEquals, ArnLike, Bool, with the ForAnyValue/ForAllValues and
IfExists forms) against the request context given, as IAM does: an explicit Deny wins,
otherwise any Allow, otherwise an implicit deny. It is written by hand because moto does not
implement SimulatePrincipalPolicy and no library evaluates IAM conditions; it is an emulation
for tests, not a replacement for IAM.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.local_run.bedrock import emulated_client

# Names as the Service Quotas console lists them (Amazon Bedrock). The concurrent-jobs quota's
# exact name is not documented: preflight matches it by these words (tools/preflight.py).
CONCURRENT_JOBS_QUOTA = "Concurrent model customization jobs"
CUSTOM_MODEL_UNITS_QUOTA = "Model units no-commitment Provisioned Throughputs across custom models"


@dataclass
class AccountEmulator:
    region: str
    account: str
    quotas: dict[str, float] = field(
        default_factory=lambda: {CONCURRENT_JOBS_QUOTA: 2.0, CUSTOM_MODEL_UNITS_QUOTA: 2.0}
    )
    # The identity policies of each role, by role ARN (what SimulatePrincipalPolicy evaluates).
    role_policies: dict[str, list[dict]] = field(default_factory=dict)
    key_policies: dict[str, dict] = field(default_factory=dict)  # by key ARN
    # Topic ARN -> [(endpoint, confirmed)]
    subscriptions: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)

    SERVICES = ("service-quotas", "iam", "kms", "sns")

    def client(self, service: str):
        handlers = {"service-quotas": self._service_quotas, "iam": self._iam, "kms": self._kms, "sns": self._sns}
        return emulated_client(service, self.region, handlers[service])

    # -- KMS and SNS --------------------------------------------------------------------------

    def _kms(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation != "GetKeyPolicy":
            return 400, _error("ValidationException", f"{operation} is not emulated locally")
        policy = self.key_policies.get(params["KeyId"])
        if policy is None:
            return 400, _error("NotFoundException", f"Key '{params['KeyId']}' does not exist")
        return 200, {"Policy": json.dumps(policy), "PolicyName": "default"}

    def _sns(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation != "ListSubscriptionsByTopic":
            return 400, _error("InvalidParameter", f"{operation} is not emulated locally")
        topic = params["TopicArn"]
        if topic not in self.subscriptions:
            return 404, _error("NotFound", "Topic does not exist")
        listed = [
            {
                "SubscriptionArn": f"{topic}:{index:08d}-0000-4000-8000-000000000000"
                if confirmed
                else "PendingConfirmation",
                "Owner": self.account,
                "Protocol": "email",
                "Endpoint": endpoint,
                "TopicArn": topic,
            }
            for index, (endpoint, confirmed) in enumerate(self.subscriptions[topic])
        ]
        return 200, {"Subscriptions": listed}

    # -- Service Quotas ---------------------------------------------------------------------

    def _service_quotas(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation != "ListServiceQuotas":
            return 400, _error("ValidationException", f"{operation} is not emulated locally")
        if params["ServiceCode"] != "bedrock":
            return 200, {"Quotas": []}
        quotas = [
            {
                "ServiceCode": "bedrock",
                "ServiceName": "Amazon Bedrock",
                "QuotaCode": f"L-{index:08X}",
                "QuotaName": name,
                "Value": value,
                "Adjustable": True,
            }
            for index, (name, value) in enumerate(sorted(self.quotas.items()), start=1)
        ]
        return 200, {"Quotas": quotas}

    # -- IAM policy simulator -----------------------------------------------------------------

    def _iam(self, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation != "SimulatePrincipalPolicy":
            return 400, _error("InvalidInput", f"{operation} is not emulated locally")
        policies = self.role_policies.get(params["PolicySourceArn"])
        if policies is None:
            return 404, _error("NoSuchEntity", f"The role {params['PolicySourceArn']} cannot be found.")
        context = {
            entry["ContextKeyName"].lower(): entry["ContextKeyValues"] for entry in params.get("ContextEntries", [])
        }
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decide(policies, action, resource, context),
            }
            for action in params["ActionNames"]
            for resource in params.get("ResourceArns", ["*"])
        ]
        return 200, {"EvaluationResults": results, "IsTruncated": False}


def decide(policies: Iterable[dict], action: str, resource: str, context: dict[str, list[str]]) -> str:
    """IAM's decision for one action on one resource: explicitDeny, allowed or implicitDeny."""
    matching = [
        statement
        for policy in policies
        for statement in _listed(policy.get("Statement"))
        if _matches(statement, action, resource, context)
    ]
    if any(statement.get("Effect") == "Deny" for statement in matching):
        return "explicitDeny"
    if any(statement.get("Effect") == "Allow" for statement in matching):
        return "allowed"
    return "implicitDeny"


def _matches(statement: dict, action: str, resource: str, context: dict[str, list[str]]) -> bool:
    actions = _listed(statement.get("Action"))
    resources = _listed(statement.get("Resource", "*"))
    return (
        any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions)
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources)
        and all(_condition(operator, keys, context) for operator, keys in (statement.get("Condition") or {}).items())
    )


def _condition(operator: str, keys: dict[str, Any], context: dict[str, list[str]]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    for key, expected in keys.items():
        present = context.get(key.lower())
        if present is None:
            if if_exists:
                continue
            return False
        compare = _COMPARISONS.get(base)
        if compare is None:
            raise ValueError(f"the emulated simulator does not know condition operator {operator}")
        hits = [any(compare(value, pattern) for pattern in _listed(expected)) for value in present]
        if not (all(hits) if qualifier == "ForAllValues" else any(hits)):
            return False
    return True


_COMPARISONS = {
    "StringEquals": lambda value, pattern: value == pattern,
    "StringLike": lambda value, pattern: fnmatch.fnmatchcase(value, pattern),
    "ArnEquals": lambda value, pattern: fnmatch.fnmatchcase(value, pattern),
    "ArnLike": lambda value, pattern: fnmatch.fnmatchcase(value, pattern),
    "Bool": lambda value, pattern: str(value).lower() == str(pattern).lower(),
}


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}}
