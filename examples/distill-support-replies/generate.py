"""Writes train.jsonl: support questions for distillation, deterministically (`python generate.py`).

Most records are prompts only: the teacher (Amazon Nova Pro) answers them during the job. A few
carry the answer we want ("golden examples", AWS's distillation guidance suggests about ten), in
the same bedrock-conversation-2024 records. All questions are fictional.
"""

import json
from pathlib import Path

SYSTEM = "You answer customer questions for an online shop in two short, friendly sentences."
TOPICS = {
    "shipping": ["When will order {n} arrive?", "Can I change the delivery address of order {n}?"],
    "returns": ["How do I return the shoes from order {n}?", "Is the return of order {n} free?"],
    "billing": ["Why was I charged twice for order {n}?", "Can I get an invoice for order {n}?"],
    "account": ["How do I reset my password?", "How can I delete my account?"],
}
GOLDEN = {
    "How do I reset my password?": "Choose 'Forgot password' on the sign-in page and follow the link we e-mail you. "
    "The link works for one hour.",
    "How can I delete my account?": "Open Settings, then Privacy, and choose 'Delete account'. "
    "We confirm by e-mail within a day.",
}


def records():
    number = 4100
    for round_ in range(5):
        for questions in TOPICS.values():
            for question in questions:
                number += 7
                text = question.format(n=number)
                if "{n}" not in question and round_:
                    text = f"{text} (I asked before, ticket {number}.)"
                record = {
                    "schemaVersion": "bedrock-conversation-2024",
                    "system": [{"text": SYSTEM}],
                    "messages": [{"role": "user", "content": [{"text": text}]}],
                }
                if text in GOLDEN:
                    record["messages"].append({"role": "assistant", "content": [{"text": GOLDEN[text]}]})
                yield record


if __name__ == "__main__":
    lines = [json.dumps(record) for record in records()]
    Path(__file__).with_name("train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
