"""Distillation from Bedrock invocation logs: the prompts come from the logs Bedrock wrote of
the account's own model invocations (`trainingDataConfig.invocationLogsConfig`), not from an
uploaded file.

An environment allows log prefixes (cdk.json `customization.invocationLogPrefixes`); the
customization role may read exactly those. A run picks one with job.json `invocationLogs`:

    {"s3Uri": "s3://bucket/prefix/", "usePromptResponse": false,
     "requestMetadataFilters": {"equals": {"project": "support"}}}

The shapes are botocore's (bedrock 2023-04-20: InvocationLogsConfig, RequestMetadataFilters,
a union of `equals` / `notEquals`, maps of exactly one entry, and `andAll` / `orAll`, lists of
1 to 16 base filters; keys 1-256 and values 0-256 characters of `[a-zA-Z0-9\\s._:/=+$@-]`).
Each problem is one line, worded for the person who edits job.json or cdk.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from customization.validation.records import show as _shown

KEY = "invocationLogs"
# "A maximum of 15K prompts or prompt-response pairs" (Bedrock user guide, distillation from
# invocation logs, checked 2026-11-29): how many prompts the job can read, whatever the logs hold.
MAX_PROMPTS = 15_000
# Recommended with usePromptResponse (the same page): at least 100 prompt-response pairs.
RECOMMENDED_PAIRS = 100

# botocore's S3Uri pattern, with the two things a prefix an IAM policy is built from must also
# be: a folder (ending in "/", so "logs/" never grants "logs-private/") and free of `*` and `?`,
# which IAM would read as wildcards.
_S3_PREFIX = re.compile(r"s3://([a-z0-9][-.a-z0-9]{1,61}[a-z0-9])/((?:[-!_'().a-zA-Z0-9]+/)+)")
_METADATA_KEY = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]{1,256}")
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]{0,256}")
_BASE = ("equals", "notEquals")
_LISTS = ("andAll", "orAll")
MAX_BASE_FILTERS = 16
_OPTIONS = ("s3Uri", "usePromptResponse", "requestMetadataFilters")


def prefix_problem(uri: object) -> str | None:
    """Why `uri` cannot be a log prefix an environment allows, or None."""
    if not isinstance(uri, str) or not _S3_PREFIX.fullmatch(uri):
        return (
            f"got {uri!r}; allowed: an S3 folder such as s3://my-logs-bucket/bedrock/AWSLogs/ (a bucket name, at "
            "least one folder, ending in '/', no '*' or '?')"
        )
    return None


def bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def allowed_prefix(uri: str, prefixes: Iterable[str]) -> str | None:
    """The environment's prefix `uri` lies under, or None."""
    return next((prefix for prefix in prefixes if uri.startswith(prefix)), None)


def settings_problems(value: object, allowed: Iterable[str] | None) -> list[str]:
    """What is wrong with a job.json `invocationLogs` object, one message each; `allowed` is the
    environment's prefixes (None outside an environment: any well-formed prefix)."""
    if not isinstance(value, Mapping):
        return [
            f'{KEY} must be an object like {{"s3Uri": "s3://my-logs-bucket/bedrock/", "usePromptResponse": false}}, '
            f"got {_shown(value)}"
        ]
    problems = [
        f"{KEY}: unknown key {_shown(key)}; allowed: {', '.join(_OPTIONS)}" for key in value if key not in _OPTIONS
    ]
    uri = value.get("s3Uri")
    if uri is None:
        problems.append(f"{KEY}.s3Uri is required: the S3 folder Bedrock wrote the invocation logs to")
    elif (problem := prefix_problem(uri)) is not None:
        problems.append(f"{KEY}.s3Uri: {problem}")
    elif allowed is not None and allowed_prefix(uri, allowed) is None:
        listed = list(allowed)
        where = f"allowed: {', '.join(listed)}" if listed else "it allows none"
        problems.append(
            f"{KEY}.s3Uri {uri} is not under a log prefix this environment allows ({where}): add it to "
            "customization.invocationLogPrefixes in cdk.json (the customization role may read exactly those)"
        )
    use = value.get("usePromptResponse", False)
    if not isinstance(use, bool):
        problems.append(f"{KEY}.usePromptResponse must be true or false, got {_shown(use)}")
    if "requestMetadataFilters" in value:
        problems += [f"{KEY}.requestMetadataFilters{p}" for p in filter_problems(value["requestMetadataFilters"])]
    return problems


def filter_problems(filters: object) -> list[str]:
    """botocore's RequestMetadataFilters: exactly one of equals, notEquals, andAll, orAll."""
    if not isinstance(filters, Mapping) or len(filters) != 1 or next(iter(filters)) not in (*_BASE, *_LISTS):
        return [
            f": must be an object with exactly one of {', '.join((*_BASE, *_LISTS))} (AND and OR cannot be combined), "
            f'e.g. {{"equals": {{"project": "support"}}}}, got {_shown(filters)}'
        ]
    ((kind, body),) = filters.items()
    if kind in _BASE:
        return [f".{kind}{p}" for p in _map_problems(body)]
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BASE_FILTERS:
        return [f".{kind}: must be a list of 1 to {MAX_BASE_FILTERS} base filters, got {_shown(body)}"]
    problems = []
    for index, base in enumerate(body):
        where = f".{kind}[{index}]"
        if not isinstance(base, Mapping) or not base or any(key not in _BASE for key in base):
            problems.append(f'{where}: must be {{"equals": {{...}}}} or {{"notEquals": {{...}}}}, got {_shown(base)}')
            continue
        problems += [f"{where}.{key}{p}" for key, value in base.items() for p in _map_problems(value)]
    return problems


def _map_problems(mapping: object) -> list[str]:
    if not isinstance(mapping, Mapping) or len(mapping) != 1:
        return [
            f': must map exactly one metadata key to its value, e.g. {{"project": "support"}}, got {_shown(mapping)}'
        ]
    ((key, value),) = mapping.items()
    if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
        return [f": key {_shown(key)} must be 1 to 256 letters, digits, spaces or ._:/=+$@-"]
    if not isinstance(value, str) or not _METADATA_VALUE.fullmatch(value):
        return [f": value {_shown(value)} of {key!r} must be a string of 0 to 256 letters, digits, spaces or ._:/=+$@-"]
    return []


def request_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """trainingDataConfig.invocationLogsConfig as CreateModelCustomizationJob takes it."""
    config: dict[str, Any] = {
        "invocationLogSource": {"s3Uri": settings["s3Uri"]},
        "usePromptResponse": bool(settings.get("usePromptResponse", False)),
    }
    if settings.get("requestMetadataFilters"):
        config["requestMetadataFilters"] = settings["requestMetadataFilters"]
    return config


def matches(metadata: Mapping[str, str], filters: Mapping[str, Any] | None) -> bool:
    """Whether a log record with `metadata` (its requestMetadata) passes the filters."""
    if not filters:
        return True
    ((kind, body),) = filters.items()
    if kind in _BASE:
        return _base_matches(metadata, {kind: body})
    results = (_base_matches(metadata, base) for base in body)
    return all(results) if kind == "andAll" else any(results)


def _base_matches(metadata: Mapping[str, str], base: Mapping[str, Mapping[str, str]]) -> bool:
    for kind, mapping in base.items():
        for key, value in mapping.items():
            if (metadata.get(key) == value) != (kind == "equals"):
                return False
    return True
