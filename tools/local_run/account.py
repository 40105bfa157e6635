"""The account-level services `tools preflight` asks, emulated where moto has no model of them
or is looser than AWS: Service Quotas' Bedrock quotas, IAM's policy simulator, KMS key policies
of the deployed keys, and SNS subscriptions (moto confirms an e-mail subscription at once; AWS
lists it as PendingConfirmation until the person clicks the link).

Both answer through real boto3 clients (`emulated_client`): botocore validates every request,
and every answer against the service model.

The simulator's decisions come from tools.local_run.iam, which the emulated Bedrock also uses
to hold each function to its own policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tools.local_run.bedrock import emulated_client
from tools.local_run.iam import decide

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


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}}
