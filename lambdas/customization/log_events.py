"""The log lines that the dashboard turns into metrics, written once for both sides.

A function logs `runtime.log(JOB_COMPLETED, trainingHours=...)`; the dashboard's metric
filter matches `JOB_COMPLETED.message` and reads the same field names. A test runs the
pipeline and checks that each line is really logged with its fields, so renaming a message
or a field cannot silently flatten a graph.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogEvent:
    message: str
    fields: tuple[str, ...]  # JSON fields every such line carries (null where unknown)


# WatchJob: a job ended well; the dashboard graphs its duration.
JOB_COMPLETED = LogEvent("customization job completed", ("jobArn", "customModelArn", "trainingHours"))
# Notify: a run ended and people were told; the dashboard sums the estimated training spend.
NOTIFICATION_SENT = LogEvent("notification sent", ("outcome", "estimatedTrainingUsd"))
# EvaluateModel: a trained model was judged; the dashboard counts promoted and not promoted.
MODEL_EVALUATED = LogEvent("model evaluated", ("status", "promoted", "headline"))
