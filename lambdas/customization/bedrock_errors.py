"""Bedrock's errors, sorted by what the pipeline does about them.

Each outcome the state machine must route differently is a named exception: Step Functions
sees the class name as the error name, so Retry and Catch key on it. Shared by every step
that calls Bedrock (training, serving, evaluation) and by the operator tools.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

# Worth another attempt later: the request was fine, the service was busy.
TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServerException", "ServiceUnavailableException"})


class CapacityUnavailable(Exception):
    """ServiceQuotaExceeded: too many jobs in the account and region. Retried while capacity frees up."""


class BedrockThrottled(Exception):
    """Throttling or a transient Bedrock error: retried with backoff."""


class BedrockRequestRejected(Exception):
    """Validation, AccessDenied and the like: retrying cannot help. The message is Bedrock's."""


def translated_error(error: ClientError) -> Exception:
    """The pipeline's exception for a Bedrock ClientError (see the classes above)."""
    code, message = error_code(error), error_message(error)
    if code == "ServiceQuotaExceededException":
        return CapacityUnavailable(message)
    if code in TRANSIENT_CODES:
        return BedrockThrottled(f"{code}: {message}")
    return BedrockRequestRejected(f"{code}: {message}")


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def error_message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", str(error))
