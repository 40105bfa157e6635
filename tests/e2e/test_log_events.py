"""The dashboard's graphs are metric filters on the functions' JSON log lines. A local run of
the synthesized pipeline logs through the real handlers; every filter of the deployed
dashboard must match lines that run really wrote, with the field it reads."""

from __future__ import annotations

import logging
import re

import pytest

from customization.log_events import JOB_COMPLETED, MODEL_EVALUATED, NOTIFICATION_SENT
from customization.validation.upload import DatasetInvalidError
from tools.local_run.runner import assembly_for
from tools.local_run.runner import run as run_scenario
from tools.local_run.scenarios import BY_NAME

MESSAGE = re.compile(r'\$\.message = "([^"]+)"')


def _logged(caplog, scenario: str) -> list[logging.LogRecord]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="customization"):
        run_scenario(BY_NAME[scenario], environment="dev")
    return [record for record in caplog.records if record.name == "customization"]


def _filters() -> list[dict]:
    stack = assembly_for("dev", {}).stacks["BedrockCustomization-dev-Pipeline"]
    return [r["Properties"] for r in stack.resources.values() if r["Type"] == "AWS::Logs::MetricFilter"]


def test_every_dashboard_filter_matches_lines_the_pipeline_really_logs(caplog):
    records = _logged(caplog, "happy-path")
    messages = {record.getMessage() for record in records}
    checked = []
    for metric_filter in _filters():
        found = MESSAGE.search(metric_filter["FilterPattern"])
        if found is None:
            continue  # the rejected-datasets filter matches Lambda's own error line (below)
        message = found.group(1)
        value = metric_filter["MetricTransformations"][0]["MetricValue"]
        fields = [value.removeprefix("$.")] if value.startswith("$.") else []
        fields += re.findall(r"\$\.(\w+) [=>]", metric_filter["FilterPattern"])

        assert message in messages, f"no function logs {message!r}"
        lines = [record for record in records if record.getMessage() == message]
        for field in fields:
            if field != "message":
                assert all(hasattr(line, field) for line in lines), f"{message!r} lines lack {field}"
        checked.append(message)

    assert sorted(set(checked)) == sorted({JOB_COMPLETED.message, NOTIFICATION_SENT.message, MODEL_EVALUATED.message})


def test_a_rejected_dataset_raises_the_error_type_the_dashboard_counts():
    rejected = next(f for f in _filters() if "errorType" in f["FilterPattern"])
    report = run_scenario(BY_NAME["invalid-dataset"], environment="dev")

    assert f'"{DatasetInvalidError.__name__}"' in rejected["FilterPattern"]
    assert report.executions[0]["error"] == DatasetInvalidError.__name__


def test_a_dashboard_line_cannot_be_logged_without_its_fields():
    from customization import runtime

    with pytest.raises(ValueError, match="needs trainingHours"):
        runtime.log(JOB_COMPLETED, jobArn="a", customModelArn="m")
