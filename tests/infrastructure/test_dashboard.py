"""The dashboard shows runs, job durations, rejected datasets, dead letters and spend, from
metrics the pipeline really emits (the log lines the filters match are tested here too)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ENVIRONMENTS


def _resources(synthesized, environment, kind):
    stack = synthesized.assembly.stacks[f"BedrockCustomization-{environment}-Pipeline"]
    return {stack.construct_path(i): r["Properties"] for i, r in stack.resources.items() if r["Type"] == kind}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_dashboard_has_the_six_graphs(synthesized, environment):
    [body] = _resources(synthesized, environment, "AWS::CloudWatch::Dashboard").values()
    text = json.dumps(body["DashboardBody"])

    for title in (
        "Runs",
        "Job duration (hours)",
        "Rejected datasets",
        "Dead letters waiting",
        "Estimated training spend (USD, estimates)",
        "Trained models: promoted / not promoted",
    ):
        assert title in text


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_metric_filters_match_the_fields_the_functions_log(synthesized, environment):
    filters = {
        path.split("/")[-1]: props
        for path, props in _resources(synthesized, environment, "AWS::Logs::MetricFilter").items()
    }

    assert filters["JobHoursFilter"]["FilterPattern"] == (
        '{ ($.message = "customization job completed") && ($.trainingHours >= 0) }'
    )
    assert filters["JobHoursFilter"]["MetricTransformations"][0]["MetricValue"] == "$.trainingHours"
    assert filters["EstimatedTrainingUsdFilter"]["MetricTransformations"][0]["MetricValue"] == "$.estimatedTrainingUsd"
    assert filters["RejectedDatasetsFilter"]["FilterPattern"] == '{ $.errorType = "DatasetInvalidError" }'
    for name, verdict in (("ModelsPromoted", "TRUE"), ("ModelsNotPromoted", "FALSE")):
        assert filters[f"{name}Filter"]["FilterPattern"] == (
            f'{{ ($.message = "model evaluated") && ($.promoted IS {verdict}) }}'
        )
    assert {f["MetricTransformations"][0]["MetricNamespace"] for f in filters.values()} == {
        f"BedrockCustomization/{environment}"
    }
