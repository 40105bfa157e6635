"""Starting, following and stopping a Bedrock model customization job.

Each outcome the state machine must route differently is a named exception: Step Functions
sees the class name as the error name, so Retry and Catch can key on it (Bedrock's own
errors are sorted in `customization.bedrock_errors`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from customization import invocation_logs
from customization.bedrock_errors import (
    BedrockRequestRejected,
    error_code,
    error_message,
    translated_error,
)
from customization.catalog import DISTILLATION, REINFORCEMENT_FINE_TUNING, load_catalog
from customization.naming import RunNames
from customization.settings import SettingsError, as_json, json_value, required
from customization.validation.hyperparameters import typed_hyperparameters

RUNNING = ("InProgress", "Stopping")


class JobStillRunning(Exception):
    """Polled before the end: the state machine retries with backoff up to the time limit."""


class JobFailed(Exception):
    """Bedrock reports the job Failed; the message is Bedrock's failureMessage."""


class JobStopped(Exception):
    """Someone (or the pipeline's time limit) stopped the job."""


class CostCeilingExceeded(Exception):
    """The run's estimated training cost is above the environment's ceiling: no job started."""


@dataclass(frozen=True)
class JobEnvironment:
    """What a job needs from the deployed environment: the role Bedrock assumes, where the
    artifacts go, the key that encrypts the model, the cost ceiling and the job's VPC."""

    environment: str
    role_arn: str
    output_bucket: str
    kms_key_arn: str
    cost_ceiling_usd: float | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    # Distillation: catalog teacher ID -> what the job names as teacherModelIdentifier (the
    # model ID, or the inference profile's ARN for a teacher reached only through one).
    teachers: Mapping[str, str] = field(default_factory=dict)
    # Reinforcement fine-tuning: deployed grader name -> its function's ARN.
    graders: Mapping[str, str] = field(default_factory=dict)
    # Distillation from invocation logs: the prefixes the customization role may read.
    invocation_log_prefixes: tuple[str, ...] = ()

    def to_environment(self) -> dict[str, str]:
        variables = {
            "ENVIRONMENT": self.environment,
            "CUSTOMIZATION_ROLE_ARN": self.role_arn,
            "OUTPUT_BUCKET": self.output_bucket,
            "DATA_KEY_ARN": self.kms_key_arn,
        }
        if self.cost_ceiling_usd is not None:
            variables["COST_CEILING_USD"] = str(self.cost_ceiling_usd)
        if self.teachers:
            variables["TEACHER_IDENTIFIERS"] = as_json(dict(self.teachers))
        if self.graders:
            variables["GRADER_ARNS"] = as_json(dict(self.graders))
        if self.invocation_log_prefixes:
            variables["INVOCATION_LOG_PREFIXES"] = as_json(list(self.invocation_log_prefixes))
        if self.subnet_ids:
            variables["JOB_VPC"] = as_json(
                {"subnetIds": list(self.subnet_ids), "securityGroupIds": list(self.security_group_ids)}
            )
        return variables

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> JobEnvironment:
        vpc = json_value(environ, "JOB_VPC", {})
        ceiling = environ.get("COST_CEILING_USD")
        return cls(
            environment=required(environ, "ENVIRONMENT"),
            role_arn=required(environ, "CUSTOMIZATION_ROLE_ARN"),
            output_bucket=required(environ, "OUTPUT_BUCKET"),
            kms_key_arn=required(environ, "DATA_KEY_ARN"),
            cost_ceiling_usd=float(ceiling) if ceiling else None,
            subnet_ids=tuple(vpc.get("subnetIds", ())),
            security_group_ids=tuple(vpc.get("securityGroupIds", ())),
            teachers=json_value(environ, "TEACHER_IDENTIFIERS", {}),
            graders=json_value(environ, "GRADER_ARNS", {}),
            invocation_log_prefixes=tuple(json_value(environ, "INVOCATION_LOG_PREFIXES", [])),
        )


def check_cost(summary: dict[str, Any], ceiling_usd: float | None) -> None:
    """Refuse a run whose training estimate is above the ceiling, before anything is spent."""
    cost = summary.get("cost") or {}
    estimate = cost.get("trainingUsd")
    if estimate is not None and cost.get("teacherUsd") is not None:
        estimate += cost["teacherUsd"]  # distillation: the teacher's answers are billed to the run too
    if cost.get("promptsUnknown"):
        estimate = cost.get("upperBoundUsd")  # from invocation logs: the bound, as validation stated it
    if ceiling_usd is not None and estimate is not None and estimate > ceiling_usd:
        raise CostCeilingExceeded(
            f"estimated training cost ${estimate:,.2f} is above this environment's ceiling ${ceiling_usd:,.2f}: "
            "reduce records or epochs, or raise limits.costCeilingUsd in cdk.json"
        )


def start_job(bedrock: Any, names: RunNames, summary: dict[str, Any], env: JobEnvironment) -> dict[str, Any]:
    """Create the job (idempotent for this run); returns its ARN and where its outputs go."""
    check_cost(summary, env.cost_ceiling_usd)
    settings, prepared = summary["settings"], summary["prepared"]
    lineage = summary.get("lineage") or {}
    parent = lineage.get("parentRun") or lineage.get("parentModel")
    dataset_version = (summary.get("dataset") or {}).get("versionId")
    model_tags = names.model_tags(dataset_version=dataset_version, parent=parent)
    tags = [{"key": key, "value": value} for key, value in model_tags.items()]
    output_uri = f"s3://{env.output_bucket}/jobs/{names.job_name}/"
    request: dict[str, Any] = {
        "jobName": names.job_name,
        "customModelName": names.custom_model_name,
        "roleArn": env.role_arn,
        "clientRequestToken": names.client_token("job"),
        # Re-fine-tuning: the parent custom model, resolved and checked by ValidateDataset (the
        # submit page: baseModelIdentifier may be a "previously customized model"); else the base.
        "baseModelIdentifier": settings.get("parentModel") or settings["baseModel"],
        "customizationType": settings["customizationType"],
        "customModelKmsKeyId": env.kms_key_arn,
        "jobTags": tags,
        "customModelTags": tags,
        "trainingDataConfig": training_data(settings, prepared, env),
        "outputDataConfig": {"s3Uri": output_uri},
        **method_request(settings, env),
    }
    if prepared.get("validationUri"):
        request["validationDataConfig"] = {"validators": [{"s3Uri": prepared["validationUri"]}]}
    if env.subnet_ids:
        request["vpcConfig"] = {"subnetIds": list(env.subnet_ids), "securityGroupIds": list(env.security_group_ids)}
    try:
        job_arn = bedrock.create_model_customization_job(**request)["jobArn"]
        already_started = False
    except ClientError as error:
        job_arn = _existing_job_of_this_run(bedrock, names, error)
        already_started = True
    return {
        "jobArn": job_arn,
        "jobName": names.job_name,
        "customModelName": names.custom_model_name,
        "outputUri": output_uri,
        "alreadyStarted": already_started,
    }


def training_data(settings: dict[str, Any], prepared: dict[str, Any], env: JobEnvironment) -> dict[str, Any]:
    """trainingDataConfig: the run's prepared file, or for distillation from invocation logs the
    logs (refused here too when not under a prefix the environment allows, as for a teacher)."""
    logs = settings.get(invocation_logs.KEY)
    if not logs:
        return {"s3Uri": prepared["trainUri"]}
    if invocation_logs.allowed_prefix(logs.get("s3Uri", ""), env.invocation_log_prefixes) is None:
        raise SettingsError(
            f"invocationLogs.s3Uri {logs.get('s3Uri')!r} is not under this environment's log prefixes "
            f"({', '.join(env.invocation_log_prefixes) or 'none'})"
        )
    return {"invocationLogsConfig": invocation_logs.request_config(logs)}


def method_request(settings: dict[str, Any], env: JobEnvironment) -> dict[str, Any]:
    """The part of CreateModelCustomizationJob that differs by method.

    Fine-tuning (and continued pre-training): `hyperParameters`, a map of strings.
    Distillation: `customizationConfig.distillationConfig.teacherModelConfig` and no
    hyperparameters (AWS documents none). Reinforcement fine-tuning:
    `customizationConfig.rftConfig` with the deployed grader's ARN and the hyperparameters
    typed (botocore RFTHyperParameters: integers, a float, a string), not `hyperParameters`.
    A teacher or grader the environment does not deploy is refused here too, before Bedrock
    would refuse it, in case the run's settings were edited after validation.
    """
    kind = settings["customizationType"]
    if kind == DISTILLATION:
        teacher = settings.get("teacherModel")
        if teacher not in env.teachers:
            raise SettingsError(
                f"teacherModel {teacher!r} is not one of this environment's teachers ({', '.join(env.teachers) or 'none'})"
            )
        config: dict[str, Any] = {"teacherModelIdentifier": env.teachers[teacher]}
        if settings.get("maxResponseLengthForInference") is not None:
            config["maxResponseLengthForInference"] = int(settings["maxResponseLengthForInference"])
        return {"customizationConfig": {"distillationConfig": {"teacherModelConfig": config}}}
    if kind == REINFORCEMENT_FINE_TUNING:
        grader = settings.get("grader")
        if grader not in env.graders:
            raise SettingsError(
                f"grader {grader!r} is not deployed in this environment ({', '.join(env.graders) or 'none'})"
            )
        rft: dict[str, Any] = {"graderConfig": {"lambdaGrader": {"lambdaArn": env.graders[grader]}}}
        model = load_catalog().model(settings["baseModel"])
        if settings.get("hyperParameters"):
            rft["hyperParameters"] = typed_hyperparameters(settings["hyperParameters"], model, kind)
        return {"customizationConfig": {"rftConfig": rft}}
    return {"hyperParameters": settings["hyperParameters"]}


def _existing_job_of_this_run(bedrock: Any, names: RunNames, error: ClientError) -> str:
    code, message = error_code(error), error_message(error)
    if code in ("ConflictException", "ResourceInUseException"):
        # A retry of this very run (same deterministic name and token) is not a conflict.
        existing = bedrock.get_model_customization_job(jobIdentifier=names.job_name)
        if existing.get("clientRequestToken") in (None, names.client_token("job")):
            return existing["jobArn"]
        raise BedrockRequestRejected(f"job name {names.job_name} is taken by another request: {message}") from None
    raise translated_error(error) from None


def poll_job(bedrock: Any, job_name: str) -> dict[str, Any]:
    """The job's outcome once it ended; raises JobStillRunning while it runs."""
    try:
        job = bedrock.get_model_customization_job(jobIdentifier=job_name)
    except ClientError as error:
        raise translated_error(error) from None
    status = job["status"]
    if status in RUNNING:
        raise JobStillRunning(f"{job_name} is {status}{_stage(job)}")
    if status == "Failed":
        raise JobFailed(f"{job_name} failed: {job.get('failureMessage') or 'Bedrock gave no reason'}")
    if status == "Stopped":
        raise JobStopped(f"{job_name} was stopped before it completed")
    validation_losses = [m.get("validationLoss") for m in job.get("validationMetrics") or []]
    hours = (job["endTime"] - job["creationTime"]).total_seconds() / 3600 if job.get("endTime") else None
    return {
        "trainingHours": round(hours, 3) if hours is not None else None,
        "jobArn": job["jobArn"],
        "status": status,
        "customModelArn": job["outputModelArn"],
        "trainingLoss": (job.get("trainingMetrics") or {}).get("trainingLoss"),
        "validationLoss": validation_losses[-1] if validation_losses else None,
        "endTime": job["endTime"].isoformat() if job.get("endTime") else None,
    }


def find_job(bedrock: Any, job_name: str) -> dict[str, Any] | None:
    """The run's job as Bedrock lists it, or None when it was never created.

    Listed rather than fetched: the pipeline may Get only jobs tagged as this environment's,
    and IAM refuses a Get of a job that does not exist (it has no tags) instead of Bedrock
    answering "not found". Listing takes no resource, and the name is the run's own.
    """
    try:
        pages = bedrock.get_paginator("list_model_customization_jobs").paginate(nameContains=job_name)
        for page in pages:
            for summary in page["modelCustomizationJobSummaries"]:
                if summary["jobName"] == job_name:
                    return summary
    except ClientError as error:
        raise translated_error(error) from None
    return None


def stop_job(bedrock: Any, job_name: str, listed: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Stop the job if it still runs; a job that already ended is left as it is. `listed`: the
    run's jobs as already listed (a sweep's: one List call finds them all)."""
    job = find_job(bedrock, job_name) if listed is None else next((j for j in listed if j["jobName"] == job_name), None)
    if job is None:
        return {"jobName": job_name, "stopped": False, "reason": "no job was started"}
    if job["status"] != "InProgress":
        return {"jobName": job_name, "stopped": False, "reason": f"job is {job['status']}"}
    try:
        bedrock.stop_model_customization_job(jobIdentifier=job["jobArn"])
    except ClientError as error:
        # The job ended between the two calls: Bedrock answers with a conflict (or a validation
        # error) for a job that can no longer be stopped. Confirm it really ended.
        if error_code(error) not in ("ConflictException", "ValidationException"):
            raise translated_error(error) from None
        status = _status(bedrock, job["jobArn"])
        if status == "InProgress":
            raise BedrockRequestRejected(
                f"{job_name} is still {status} but could not be stopped: {error_message(error)}"
            ) from None
        return {"jobName": job_name, "stopped": False, "reason": f"job is {status} ({error_message(error)})"}
    return {"jobName": job_name, "jobArn": job["jobArn"], "stopped": True}


def _status(bedrock: Any, job_arn: str) -> str:
    try:
        return bedrock.get_model_customization_job(jobIdentifier=job_arn)["status"]
    except ClientError as error:
        raise translated_error(error) from None


def _stage(job: dict[str, Any]) -> str:
    details = job.get("statusDetails") or {}
    stages = [
        name
        for name in ("validationDetails", "dataProcessingDetails", "trainingDetails")
        if (details.get(name) or {}).get("status") == "InProgress"
    ]
    return f" ({stages[-1].removesuffix('Details')})" if stages else ""
