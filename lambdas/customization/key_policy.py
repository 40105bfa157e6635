"""What the data key's policy must say for Bedrock to use a custom model encrypted with it.

Bedrock itself (the service principal, not a role of ours) uses the key that encrypts a custom
Nova model when it optimizes the model for provisioned throughput, so the key policy must allow
it: kms:Decrypt and kms:GenerateDataKey, for the custom model's encryption context (Nova user
guide, "Encryption of custom models", statement PermissionsNovaProvisionedThroughput, checked
2026-11-29). The Storage stack writes that statement; `tools preflight` and the emulated
Bedrock check a key policy with `allows_bedrock_custom_models`.
"""

from __future__ import annotations

from typing import Any

BEDROCK_SERVICE = "bedrock.amazonaws.com"
CUSTOM_MODEL_CONTEXT = "aws:bedrock:custom-model"
ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def allows_bedrock_custom_models(policy: dict[str, Any] | None) -> bool:
    """Whether an Allow statement gives the Bedrock service principal both actions, limited to
    (or not limited beyond) the custom model's encryption context."""
    for statement in _listed((policy or {}).get("Statement")):
        if statement.get("Effect") != "Allow" or BEDROCK_SERVICE not in _principals(statement):
            continue
        actions = set(_listed(statement.get("Action")))
        if "kms:*" not in actions and not set(ACTIONS) <= actions:
            continue
        conditions = statement.get("Condition") or {}
        context = (conditions.get("ForAnyValue:StringEquals") or {}).get("kms:EncryptionContextKeys")
        if set(conditions) <= {"ForAnyValue:StringEquals"} and (
            context is None or CUSTOM_MODEL_CONTEXT in _listed(context)
        ):
            return True
    return False


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return [BEDROCK_SERVICE]
    return _listed(principal.get("Service")) if isinstance(principal, dict) else []


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
