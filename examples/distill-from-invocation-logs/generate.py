"""Writes logs/: Bedrock model invocation logs of a support assistant, deterministically
(`python generate.py`), as Bedrock's invocation logging writes them to S3 (one JSON record a
line, gzipped, under AWSLogs/<account>/BedrockModelInvocationLogs/<region>/<yyyy>/<mm>/<dd>/<hh>/).

Two applications share the account's logging: the support assistant (requestMetadata
project=support-replies) and an internal tool (project=internal-search). job.json's filter keeps
the first. All questions are fictional.
"""

import gzip
import json
from pathlib import Path

ACCOUNT = "123456789012"  # the local run's emulated account
SYSTEM = "You answer customer questions for an online shop in two short, friendly sentences."
QUESTIONS = {
    "support-replies": [
        "When will order {n} arrive?",
        "Can I change the delivery address of order {n}?",
        "How do I return the shoes from order {n}?",
        "Why was I charged twice for order {n}?",
    ],
    "internal-search": ["Summarize the open tickets about warehouse {n}."],
}


def record(project: str, question: str, index: int) -> dict:
    return {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": f"2026-11-20T10:{index:02d}:00Z",
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "requestId": f"00000000-0000-4000-8000-{index:012d}",
        "operation": "Converse",
        "modelId": "amazon.nova-pro-v1:0",
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {
                "system": [{"text": SYSTEM}],
                "messages": [{"role": "user", "content": [{"text": question}]}],
            },
        },
        "output": {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {
                    "message": {"role": "assistant", "content": [{"text": "Thanks for asking: here is what to do."}]}
                },
                "stopReason": "end_turn",
            },
        },
        "requestMetadata": {"project": project},
    }


def main() -> None:
    records, index, number = [], 0, 4100
    for round_ in range(6):
        for project, questions in QUESTIONS.items():
            for question in questions:
                records.append(record(project, question.format(n=number + round_), index))
                index += 1
    folder = Path(__file__).parent / "logs" / "AWSLogs" / ACCOUNT / "BedrockModelInvocationLogs" / "us-east-1"
    for hour, part in ((10, records[: len(records) // 2]), (11, records[len(records) // 2 :])):
        path = (
            folder / "2026" / "11" / "20" / f"{hour:02d}" / f"{ACCOUNT}_BedrockModelInvocationLogs_{hour:02d}00.json.gz"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(item, sort_keys=True) + "\n" for item in part).encode()
        path.write_bytes(gzip.compress(lines, mtime=0))


if __name__ == "__main__":
    main()
