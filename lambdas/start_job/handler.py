"""StartCustomizationJob: the cost guard, then the Bedrock job, idempotent per upload.

A sweep's run (validation.variants) is not started here: the state machine's catch on
SweepRun sends it to its Map, whose iterations call this function with their variant. Routing
by this catch rather than a Choice keeps a run without a sweep at its 20 state transitions.
"""

from __future__ import annotations

from typing import Any

from customization import runtime
from customization.training import JobEnvironment, start_job


class SweepRun(Exception):
    """The run sweeps hyperparameters: its variants train in the state machine's Map."""


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    runtime.bind(event)
    upload, validation, variant = event["upload"], event["validation"], event.get("variant")
    names = runtime.names_of(upload)
    if variant is None and validation.get("variants"):
        raise SweepRun(f"{len(validation['variants'])} variants to train, in the sweep's Map")
    if variant is not None:
        # The variant's own names (job, custom model, token: `-v<n>`) and hyperparameters.
        names = names.for_variant(variant["index"])
        validation = {
            **validation,
            "settings": {**validation["settings"], "hyperParameters": variant["hyperParameters"]},
        }
    job = start_job(runtime.client("bedrock"), names, validation, runtime.settings(JobEnvironment))
    if variant is not None:
        job["variant"] = variant["index"]
    runtime.log("customization job started", jobArn=job["jobArn"], alreadyStarted=job["alreadyStarted"])
    return job
