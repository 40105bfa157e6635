"""StartRun: turns the S3 "Object Created" event of a training file into one execution.

The execution name is derived from the object version, so a duplicate event (EventBridge
delivers at least once) finds the execution already there and starts nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from customization import runtime
from customization.layout import UploadKeyError
from customization.naming import run_names
from customization.settings import TriggerSettings


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    detail = event["detail"]
    bucket, version_id = detail["bucket"]["name"], detail["object"].get("version-id")
    key = _existing_key(bucket, detail["object"]["key"], version_id)
    try:
        names = run_names(runtime.environment_name(), bucket, key, version_id)
    except UploadKeyError as error:
        runtime.log("upload ignored", reason=str(error), key=key)
        return {"started": False, "reason": str(error)}
    sfn = runtime.client("stepfunctions")
    run_input = {"upload": {"bucket": bucket, "key": key, "versionId": version_id}}
    try:
        execution_arn = sfn.start_execution(
            stateMachineArn=runtime.settings(TriggerSettings).state_machine_arn,
            name=names.execution_name,
            input=json.dumps(run_input, sort_keys=True),
        )["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        runtime.log("duplicate event: this upload already has its run", execution=names.execution_name, key=key)
        return {"started": False, "reason": "duplicate event", "executionName": names.execution_name}
    runtime.log("run started", executionArn=execution_arn, key=key, versionId=version_id)
    return {"started": True, "executionArn": execution_arn, "executionName": names.execution_name}


def _existing_key(bucket: str, key: str, version_id: str | None) -> str:
    """The key as S3 stores it: if the event's key is URL-encoded ("my+data"), the decoded one."""
    decoded = unquote_plus(key)
    if decoded == key:
        return key
    s3 = runtime.client("s3")
    extra = {"VersionId": version_id} if version_id else {}
    try:
        s3.head_object(Bucket=bucket, Key=key, **extra)
        return key
    except s3.exceptions.ClientError:
        return decoded
