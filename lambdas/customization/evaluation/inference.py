"""Asking a model through the Bedrock runtime's Converse API, with retries on throttling.

The retry loop is written here rather than left to botocore: the runtime client is made
with SDK retries off, so each throttled attempt is counted (the report says how many
there were) and the wait goes through an injected `sleep` (the local run compresses time).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from customization.bedrock_errors import BedrockThrottled, error_code, error_message

# Worth another attempt: the request was fine, the service was busy or warming up.
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
    }
)
# Refusals of one request (its input, or the model failing on it): recorded as a wrong
# answer with the reason, not a reason to throw away the other answers.
REJECTED_REQUEST = frozenset({"ValidationException", "ModelErrorException"})
MAX_ATTEMPTS = 6
FIRST_BACKOFF_SECONDS = 1.0
LARGEST_BACKOFF_SECONDS = 20.0


class InvocationRejected(Exception):
    """The runtime refused the model for a reason waiting will not fix (access, model ID)."""


class OutOfTime(Exception):
    """The answers would not all arrive before the caller's deadline."""


@dataclass(frozen=True)
class Answer:
    text: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    retries: int  # throttled or busy attempts before this answer
    error: str | None = None  # the runtime refused this one request: no answer, and why


@dataclass(frozen=True)
class Request:
    model_id: str
    system: Sequence[dict]
    messages: Sequence[dict]
    max_tokens: int


def converse(
    runtime: Any,
    request: Request,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
    max_attempts: int = MAX_ATTEMPTS,
    deadline: float | None = None,
) -> Answer:
    """One answer, at temperature 0 so that a rerun of the evaluation asks the same thing.

    `deadline` (on `clock`'s scale): no wait between attempts may end after it.
    """
    arguments: dict[str, Any] = {
        "modelId": request.model_id,
        "messages": list(request.messages),
        "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": 0.0},
    }
    if request.system:
        arguments["system"] = list(request.system)
    for attempt in range(max_attempts):
        started = clock()
        try:
            response = runtime.converse(**arguments)
        except ClientError as error:
            code = error_code(error)
            if code in REJECTED_REQUEST:
                return Answer("", (clock() - started) * 1000, 0, 0, attempt, error=f"{code}: {error_message(error)}")
            if code not in RETRYABLE:
                raise InvocationRejected(_rejection(request.model_id, code, error_message(error))) from None
            last = f"{code}: {error_message(error)}"
        except (ConnectionError, ReadTimeoutError) as error:
            last = f"{type(error).__name__}: {error}"
        else:
            return _answer(response, (clock() - started) * 1000, retries=attempt)
        if attempt + 1 < max_attempts:
            wait = backoff(attempt)
            if deadline is not None and clock() + wait > deadline:
                raise OutOfTime(f"{request.model_id}: no time left to retry ({last})")
            sleep(wait)
    # Step Functions retries BedrockThrottled with its own, longer backoff.
    raise BedrockThrottled(f"{request.model_id}: still failing after {max_attempts} attempts ({last})")


def backoff(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential with jitter ("equal jitter"): between half and all of 1, 2, 4 ... 20 s."""
    ceiling = min(LARGEST_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**attempt)
    return ceiling / 2 + rng() * ceiling / 2


def converse_all(
    runtime: Any,
    requests: Sequence[Request],
    *,
    concurrency: int,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> list[Answer]:
    """Answers in the order of `requests`, at most `concurrency` in flight (boto3 clients are
    thread-safe). The first failure stops the rest: a partial comparison is not reported.

    `deadline` is on `time.perf_counter`'s scale: a request that has not started by then is
    not sent, and no retry waits past it (OutOfTime)."""

    def ask(request: Request) -> Answer:
        if deadline is not None and time.perf_counter() > deadline:
            raise OutOfTime(f"{request.model_id}: not asked, no time left")
        return converse(runtime, request, sleep=sleep, deadline=deadline)

    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        futures = [pool.submit(ask, request) for request in requests]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            raise failed.exception()
        return [future.result() for future in futures]
    finally:
        # On failure, what has not started is dropped; what is in flight ends on its own.
        pool.shutdown(wait=True, cancel_futures=True)


def _answer(response: dict[str, Any], measured_ms: float, retries: int) -> Answer:
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    usage = response.get("usage", {})
    # The service's own latency, without this function's network time; measured if absent.
    latency = response.get("metrics", {}).get("latencyMs", measured_ms)
    return Answer(
        text="".join(block.get("text", "") for block in blocks),
        latency_ms=float(latency),
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        retries=retries,
    )


def _rejection(model_id: str, code: str, message: str) -> str:
    if code == "AccessDeniedException":
        return (
            f"{model_id}: access denied ({message}). Check that model access is enabled for it in the "
            "Bedrock console of this account and region, and that the caller may bedrock:InvokeModel it"
        )
    if code == "ResourceNotFoundException":
        return f"{model_id}: not found ({message}); is it in this region, and not deleted?"
    return f"{model_id}: {code}: {message}"
