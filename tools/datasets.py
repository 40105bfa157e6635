"""Datasets on the operator's disk: the folder a run is submitted from, checked with the
environment's settings by the pipeline's own code, and the report people read.

Shared by `validate`, `submit` and `local-run`; no command imports another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from customization import layout
from customization.serving import ServingPlan
from customization.validation.dataset import DatasetCheck, LocalFile, check_dataset
from customization.validation.jobspec import RunDefaults, read_job_file, resolve_run
from customization.validation.problems import ProblemLog

# Uploaded before the training file, whose upload starts the run.
COMPANION_FILES = (layout.JOB_FILE, layout.VALIDATION_FILE)


class DatasetFolderError(ValueError):
    """The folder is not a dataset folder: the message says what it must hold."""


@dataclass(frozen=True)
class DatasetFolder:
    path: Path
    training: Path
    validation: Path | None
    job: Path | None

    @classmethod
    def at(cls, folder: Path) -> DatasetFolder:
        if not folder.is_dir():
            raise DatasetFolderError(
                f"{folder} is not a folder: give the folder that holds train.jsonl or train.txt "
                "(with job.json and validation.jsonl if you have them)"
            )
        trainings = [folder / name for name in layout.TRAINING_FILES if (folder / name).is_file()]
        if len(trainings) != 1:
            raise DatasetFolderError(f"{folder} must hold exactly one of {', '.join(layout.TRAINING_FILES)}")
        optional = {name: folder / name for name in COMPANION_FILES if (folder / name).is_file()}
        return cls(folder, trainings[0], optional.get(layout.VALIDATION_FILE), optional.get(layout.JOB_FILE))

    @property
    def files(self) -> list[Path]:
        """The files to upload, the training file last."""
        return [path for path in (self.job, self.validation) if path is not None] + [self.training]


def check_with_environment(
    defaults: RunDefaults,
    serving: ServingPlan,
    training: Path,
    *,
    validation: Path | None = None,
    job: Path | None = None,
    log: ProblemLog | None = None,
) -> DatasetCheck:
    """What the pipeline's first step would say of these files in this environment."""
    log = log or ProblemLog()
    job_bytes = _read_job(job) if job is not None else None
    run = resolve_run(defaults, serving, job_bytes, log, job_file=str(job) if job else "job.json")
    return check_dataset(
        LocalFile(training),
        run.settings,
        log=log,
        validation=LocalFile(validation) if validation else None,
        settings_origin=run.origin,
        serving=run.serving,
        cost_ceiling_usd=defaults.cost_ceiling_usd,
        graders=defaults.graders,
    )


def render_text(result: DatasetCheck) -> str:
    """Every problem kept, one a line (`FILE:LINE: rule: message`), then the counts and the verdict."""
    log = result.log
    lines = [str(problem) for problem in log.problems]
    if log.truncated:
        counts = ", ".join(f"{rule} {count}" for rule, count in {**log.errors_by_rule, **log.warnings_by_rule}.items())
        lines.append(
            f"... {log.truncated:,} more problem(s) not shown (by rule: {counts}); use --max-problems or --json"
        )
    logs = result.settings.invocation_logs
    if isinstance(logs, dict) and result.cost is not None and result.cost.prompts_unknown:
        lines.append(f"prompts: from the invocation logs at {logs.get('s3Uri')} (counted by the job, at most 15,000)")
    elif result.train is not None:
        held_out = f", {result.split.validation_records:,} held out for validation" if result.split else ""
        validation = f", validation {result.validation_records:,}" if result.validation else ""
        lines.append(
            f"records: train {result.train_records:,}{held_out}{validation}; "
            f"tokens (estimate): {result.train.tokens:,}, largest record {result.train.max_record_tokens:,} "
            f"of {result.token_limit:,} allowed"
        )
    if result.cost is not None:
        lines.append(f"estimated cost: {result.cost.summary()}")
    verdict = "valid" if result.valid else "invalid"
    lines.append(f"{verdict}: {log.error_count:,} error(s), {log.warning_count:,} warning(s)")
    return "\n".join(lines)


def _read_job(path: Path) -> bytes:
    with path.open("rb") as stream:
        return read_job_file(stream)
