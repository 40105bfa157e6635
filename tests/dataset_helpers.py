"""Small builders for dataset tests: records in each format, and files made from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from customization.catalog import CATALOG_FILE, Catalog
from customization.validation.dataset import R_LIFECYCLE, DatasetCheck, LocalFile, check_dataset
from customization.validation.jobspec import JobSettings

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
TITAN_EXPRESS = "amazon.titan-text-express-v1:0:8k"
CLAUDE_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA_31_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA_32_11B = "meta.llama3-2-11b-instruct-v1:0:128k"


def conversation(question: str = "Is this spam?", answer: str = "legitimate", **extra) -> dict:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You classify e-mail."}],
        "messages": [
            {"role": "user", "content": [{"text": question}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
        **extra,
    }


def claude(question: str = "Is this spam?", answer: str = "legitimate") -> dict:
    return {
        "system": "You classify e-mail.",
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
    }


def prompt_completion(prompt: str = "Is this spam?", completion: str = "legitimate") -> dict:
    return {"prompt": prompt, "completion": completion}


def write_jsonl(path: Path, records: list, *, raw_lines: dict[int, str] | None = None) -> Path:
    """Records as JSON lines; `raw_lines` replaces given 1-based lines with literal text."""
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    for number, text in (raw_lines or {}).items():
        lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def numbered(prefix: str, count: int, builder=conversation) -> list[dict]:
    return [builder(f"{prefix} question number {index}", f"answer {index}") for index in range(count)]


@dataclass
class Checked:
    result: DatasetCheck

    @property
    def rules(self) -> set[str]:
        """The rules broken, without the model's end of life: the claude-messages and input-text
        formats are still tested on the only models that had them, now past their end of life
        (the refusal itself is tested on its own)."""
        return {
            problem.rule
            for problem in self.result.log.problems
            if problem.severity == "error" and problem.rule != R_LIFECYCLE
        }

    @property
    def lifecycle(self) -> list[str]:
        return self.messages(R_LIFECYCLE)

    @property
    def warnings(self) -> set[str]:
        return {problem.rule for problem in self.result.log.problems if problem.severity == "warning"}

    def messages(self, rule: str) -> list[str]:
        return [str(problem) for problem in self.result.log.problems if problem.rule == rule]

    def lines(self, rule: str) -> list[int | None]:
        return [problem.line for problem in self.result.log.problems if problem.rule == rule]


def still_customizable(model_id: str) -> Catalog:
    """The catalog as it was while `model_id` was customizable: the format and preparation
    rules of a model past its end of life are still tested through it."""
    data = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    data["models"][model_id]["lifecycle"].update(status="active", endOfLifeDate=None)
    return Catalog(data)


def check(
    path: Path,
    model: str = NOVA_MICRO,
    *,
    validation: Path | None = None,
    customization_type: str = "FINE_TUNING",
    hyperparameters: dict | None = None,
    validation_split: float | None = None,
    dataset_bucket: str | None = None,
    catalog: Catalog | None = None,
) -> Checked:
    settings = JobSettings(
        base_model=model,
        customization_type=customization_type,
        hyperparameters=hyperparameters or {},
        validation_split=validation_split,
    )
    return Checked(
        check_dataset(
            LocalFile(path),
            settings,
            validation=LocalFile(validation) if validation else None,
            dataset_bucket=dataset_bucket,
            catalog=catalog,
        )
    )
