"""The run's state: what the steps of the state machine pass to one another.

Step Functions keeps one JSON document per execution. Each step reads parts of it and
writes its result under one path (`ResultPath`). This module is the contract: the shape
of each part (camelCase keys, as JSON), the path it is written to, and small readers for
the values that more than one step needs, so nobody reads the document by hand.

The workflow construct (stacks/constructs/workflow.py) builds its states from the paths
here, and the handlers, the notification, `tools status` and the local run read through
the readers.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

# Where each step writes its result in the execution's state.
UPLOAD = "$.upload"  # the execution's input: which object version started the run
VALIDATION = "$.validation"  # ValidateDataset
JOB = "$.job"  # StartCustomizationJob
RESULT = "$.result"  # WaitForJob (WatchJob settles it): the trained model
SWEEP = "$.sweep"  # TrainVariants' outcomes, then SelectWinner's table of the sweep
CURVES = "$.curves"  # ReadTrainingCurves: the diagnosis of the job's loss curves (or {Error, Cause})
SERVING = "$.serving"  # CreateServing, then PollServing
EVALUATION = "$.evaluation"  # EvaluateModel
RETIRED = "$.retired"  # DeleteServingNotPromoted
CLEANUP = "$.cleanup"  # Compensate: the job stopped or not, and "serving": deleted or not
CLEANUP_ERROR = "$.cleanupError"
SLOT_ERROR = "$.slotError"  # ReleaseRunSlot*: the slot could not be given back
FAILURE = "$.failure"  # any Catch: {"Error": ..., "Cause": ...}
NOTIFICATION = "$.notification"  # Notify
NOTIFICATION_ERROR = "$.notificationError"


class Upload(TypedDict):
    bucket: str
    key: str
    versionId: str | None


class Dataset(TypedDict):
    name: str
    bucket: str
    key: str
    versionId: str | None


class RunSettings(TypedDict):
    """The environment's defaults with the dataset's job.json applied."""

    baseModel: str
    customizationType: str
    hyperParameters: dict[str, str]
    validationSplit: float | None
    servingMode: str | None
    baseRun: NotRequired[str]  # job.json: the run (or custom model ARN) it customizes further
    parentModel: NotRequired[str]  # that custom model's ARN: the job's baseModelIdentifier
    invocationLogs: NotRequired[dict]  # job.json: distillation prompts from invocation logs (s3Uri, ...)


class Cost(TypedDict):
    """Estimates from the catalog's prices (USD); None where the catalog has no price."""

    trainingTokens: int
    epochs: float
    trainingUsd: float | None
    storageUsdPerMonth: float | None
    servingMode: str
    servingUsdPerHour: float | None
    notes: list[str]
    promptsUnknown: NotRequired[bool]  # from invocation logs: the job counts the prompts
    upperBoundUsd: NotRequired[float | None]  # then: the bound the cost ceiling is checked against


class Prepared(TypedDict):
    trainUri: str
    validationUri: str | None


class Validation(TypedDict):
    """ValidateDataset's summary (the full report, with every problem, is at reportUri)."""

    dataset: Dataset
    settings: RunSettings
    valid: bool
    dataFormat: str | None
    records: dict[str, int]  # train, validation
    tokens: dict[str, int]  # train, validation, largestRecord
    cost: Cost | None
    reportUri: str
    prepared: NotRequired[Prepared]
    # Re-fine-tuning: parentRun, parentModel, parentDataset, parentDatasetVersion, parentBaseModel,
    # parentCustomizationType, parentHyperParameters (customization.lineage.Parent.lineage).
    lineage: NotRequired[dict[str, Any]]


class Job(TypedDict):
    jobArn: str
    jobName: str
    customModelName: str
    outputUri: str
    alreadyStarted: bool


class TrainedModel(TypedDict):
    jobArn: str
    status: str
    customModelArn: str
    trainingHours: float | None
    trainingLoss: float | None
    validationLoss: float | None
    endTime: str | None


class CurvesChange(TypedDict):
    hyperparameter: str  # as the model's catalog entry names it (epochCount, learningRate, ...)
    value: str  # to try, within the catalog's bounds
    current: str


class Curves(TypedDict):
    """ReadTrainingCurves' diagnosis (customization.curves); the curves are at reportUri."""

    verdict: str  # overfitting | unstable | underfitting | healthy | unavailable
    summary: str  # one line; "no curve available: <why>" when unavailable
    advice: str
    change: CurvesChange | None
    reportUri: str | None  # curves.json
    chartUri: str | None  # curves.svg
    reportError: NotRequired[str]


class Serving(TypedDict):
    mode: str
    arn: str
    modelUnits: int | None
    commitment: str | None
    deletable: bool
    status: NotRequired[str]


class Failure(TypedDict):
    Error: str
    Cause: str


def part(state: dict[str, Any] | None, path: str) -> dict[str, Any]:
    """The part of the state at a top-level path (`$.validation`), or {} when the run did not
    get that far (a failed run's notification still reads what exists)."""
    value = (state or {}).get(path.removeprefix("$."))
    return value if isinstance(value, dict) else {}


def training_cost_usd(state: dict[str, Any] | None) -> float | None:
    return (part(state, VALIDATION).get("cost") or {}).get("trainingUsd")


def run_settings(state: dict[str, Any] | None) -> dict[str, Any]:
    return part(state, VALIDATION).get("settings") or {}


def serving_deleted(state: dict[str, Any] | None) -> bool:
    """The run's serving was deleted by the run itself (not promoted, or by Compensate)."""
    compensated = part(state, CLEANUP).get("serving") or {}
    return bool(part(state, RETIRED).get("deleted") or compensated.get("deleted"))


def served_arn(state: dict[str, Any] | None) -> str | None:
    """The serving the run hands over: None where there is none, or it was deleted."""
    return None if serving_deleted(state) else part(state, SERVING).get("arn")


def curves_of(state: dict[str, Any] | None) -> dict[str, Any]:
    """The run's curve diagnosis; {} when the run did not get that far. A ReadTrainingCurves
    that failed outright (caught as {Error, Cause}) reads as "no curve available"."""
    curves = part(state, CURVES)
    if not curves or curves.get("verdict"):
        return curves
    return {
        "verdict": "unavailable",
        "summary": f"no curve available: ReadTrainingCurves failed ({curves.get('Error')}: "
        f"{str(curves.get('Cause'))[:200]})",
        "advice": "nothing to change from the curves: see the function's log (docs/runbook.md)",
        "change": None,
        "reportUri": None,
        "chartUri": None,
    }
