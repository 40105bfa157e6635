"""Run slots: at most `limits.maxConcurrentRuns` runs of an environment train at once.

The slots are one DynamoDB item holding the names of the executions that hold one. The state
machine takes a slot with a conditional update before its job starts (and waits, retrying, while
the item is full) and gives it back on every way a run ends; an execution that is aborted or
times out never reaches those states, so the abort guard gives its slot back here. Both
operations are idempotent: taking a slot twice or giving back one never taken changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from customization.settings import required

SLOTS_KEY = "run-slots"  # the item's partition key value
HOLDERS = "holders"  # its string set of execution names


@dataclass(frozen=True)
class SlotSettings:
    table_name: str

    def to_environment(self) -> dict[str, str]:
        return {"SLOTS_TABLE": self.table_name}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SlotSettings:
        return cls(table_name=required(environ, "SLOTS_TABLE"))


def release(dynamodb: Any, table_name: str, execution_name: str) -> dict[str, Any]:
    """Give back the slot this execution holds, if it holds one."""
    dynamodb.update_item(
        TableName=table_name,
        Key={"pk": {"S": SLOTS_KEY}},
        UpdateExpression=f"DELETE {HOLDERS} :me",
        ExpressionAttributeValues={":me": {"SS": [execution_name]}},
    )
    return {"released": execution_name}
