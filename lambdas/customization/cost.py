"""What a run will cost, from the catalog's prices (estimates: check the sources)."""

from __future__ import annotations

from dataclasses import dataclass

from customization.catalog import DISTILLATION, REINFORCEMENT_FINE_TUNING, ModelSpec, TeacherSpec
from customization.run_state import Cost
from customization.serving import NO_COMMITMENT, ON_DEMAND, PROVISIONED, ServingPlan

HOURS_PER_MONTH = 730
# The teacher's answer length when job.json sets no maxResponseLengthForInference: Bedrock's
# own default is not documented, and AWS's distillation samples use 4,096, the larger of the
# two values seen: an estimate that errs high rather than low.
DEFAULT_TEACHER_RESPONSE_TOKENS = 4096


@dataclass(frozen=True)
class CostEstimate:
    training_tokens: int
    epochs: float
    training_usd: float | None
    storage_usd_per_month: float | None
    serving_mode: str
    serving_usd_per_hour: float | None
    notes: tuple[str, ...] = ()
    # Distillation: the teacher answering every prompt, at most max response length tokens each.
    teacher_usd: float | None = None
    teacher_output_tokens: int | None = None
    # Distillation from invocation logs: how many prompts the job reads is not known before it
    # runs. The estimate is then unknown, and this bound (every prompt the job may read, answered
    # at full length) is what the cost ceiling is checked against.
    upper_bound_usd: float | None = None
    prompts_unknown: bool = False

    def as_dict(self) -> Cost:
        """As the run's state and reports carry it (camelCase, see customization.run_state)."""
        return {
            "trainingTokens": self.training_tokens,
            "epochs": self.epochs,
            "trainingUsd": self.training_usd,
            "storageUsdPerMonth": self.storage_usd_per_month,
            "servingMode": self.serving_mode,
            "servingUsdPerHour": self.serving_usd_per_hour,
            "notes": list(self.notes),
            **(
                {}
                if self.teacher_output_tokens is None
                else {"teacherUsd": self.teacher_usd, "teacherOutputTokens": self.teacher_output_tokens}
            ),
            **({"promptsUnknown": True, "upperBoundUsd": self.upper_bound_usd} if self.prompts_unknown else {}),
        }

    def summary(self) -> str:
        if self.prompts_unknown:
            parts = [
                "training and teacher inference unknown: the prompts come from invocation logs, counted by the job; "
                f"at most {_usd(self.upper_bound_usd)} (the bound the cost ceiling is checked against)"
            ]
        else:
            parts = [f"training {_usd(self.training_usd)} ({self.training_tokens:,} tokens x {self.epochs:g} epochs)"]
        if self.teacher_output_tokens is not None and not self.prompts_unknown:
            parts.append(
                f"teacher inference {_usd(self.teacher_usd)} (estimate: at most {self.teacher_output_tokens:,} "
                "output tokens)"
            )
        storage = self.storage_usd_per_month
        parts.append("storage unknown" if storage is None else f"storage {_usd(storage)}/month")
        if self.serving_mode == PROVISIONED:
            parts.append(f"provisioned throughput {_usd(self.serving_usd_per_hour)}/hour while it exists")
        elif self.serving_mode == ON_DEMAND:
            parts.append("on-demand serving billed per token when invoked")
        return "; ".join(parts)


def estimate_cost(
    model: ModelSpec,
    training_tokens: int,
    epochs: float,
    serving: ServingPlan,
    *,
    customization_type: str | None = None,
    prompts: int = 0,
    teacher: TeacherSpec | None = None,
    max_response_length: int | None = None,
) -> CostEstimate:
    prices = model.prices
    notes = ["prices are estimates from the catalog; verify them on the Bedrock pricing page"]
    training = None
    teacher_usd = teacher_tokens = None
    if customization_type == DISTILLATION and teacher is not None:
        teacher_tokens = prompts * (max_response_length or DEFAULT_TEACHER_RESPONSE_TOKENS)
        # The student trains on the prompts and the teacher's answers.
        training_tokens += teacher_tokens
    if customization_type == REINFORCEMENT_FINE_TUNING:
        # Not the fine-tuning rate: RFT samples answers and calls the grader at every step, and
        # AWS publishes no price for it that this catalog could hold.
        notes.append(f"no reinforcement fine-tuning price for {model.name} is published: training cost unknown")
    elif prices.training_per_1k_tokens is None:
        notes.append(f"no training price for {model.name} in the catalog")
    else:
        training = round(training_tokens * epochs / 1000 * prices.training_per_1k_tokens, 2)
    if teacher is not None and teacher_tokens is not None:
        price = teacher.on_demand_per_1k_output_tokens
        if price is None:
            notes.append(
                f"no on-demand price for the teacher {teacher.name} in the catalog: its inference cost unknown"
            )
        else:
            # An upper bound: every prompt answered at the full response length, input tokens left out.
            teacher_usd = round(teacher_tokens / 1000 * price, 2)
            notes.append(
                f"teacher inference: {prompts:,} prompts x up to {teacher_tokens // max(prompts, 1):,} tokens at "
                f"{teacher.name}'s on-demand output price (an estimate)"
            )
    hourly = None
    if serving.mode == PROVISIONED:
        key = "noCommitment" if serving.commitment == NO_COMMITMENT else serving.commitment
        unit_price = prices.provisioned_per_hour_per_unit.get(key)
        if unit_price is None:
            notes.append(f"no provisioned throughput price ({key}) for {model.name} in the catalog")
        else:
            hourly = round(unit_price * serving.model_units, 2)
    return CostEstimate(
        training_tokens=training_tokens,
        epochs=epochs,
        training_usd=training,
        storage_usd_per_month=prices.storage_per_month,
        serving_mode=serving.mode,
        serving_usd_per_hour=hourly,
        notes=tuple(notes),
        teacher_usd=teacher_usd,
        teacher_output_tokens=teacher_tokens,
    )


def estimate_from_logs(
    model: ModelSpec,
    epochs: float,
    serving: ServingPlan,
    *,
    max_prompts: int,
    teacher: TeacherSpec | None,
    max_response_length: int | None,
) -> CostEstimate:
    """Distillation from invocation logs: the prompt count is unknown before the job (never
    shown as 0). Bounded by the most prompts the job reads, each answered at full length; the
    prompts' own tokens are not known and not in the bound (stated in the notes)."""
    bound = estimate_cost(
        model,
        0,
        epochs,
        serving,
        customization_type=DISTILLATION,
        prompts=max_prompts,
        teacher=teacher,
        max_response_length=max_response_length,
    )
    upper = None
    if bound.training_usd is not None and bound.teacher_usd is not None:
        upper = round(bound.training_usd + bound.teacher_usd, 2)
    length = max_response_length or DEFAULT_TEACHER_RESPONSE_TOKENS
    notes = (
        bound.notes[0],
        "the prompts come from invocation logs: how many is known only once the job read them, so the cost is unknown",
        f"upper bound: {max_prompts:,} prompts (the most a distillation job reads) x {length:,} answer tokens, for the "
        "teacher's output and the student's training; the prompts' own tokens are not counted",
        *(note for note in bound.notes[1:] if not note.startswith("teacher inference:")),
    )
    return CostEstimate(
        training_tokens=0,
        epochs=epochs,
        training_usd=None,
        storage_usd_per_month=bound.storage_usd_per_month,
        serving_mode=bound.serving_mode,
        serving_usd_per_hour=bound.serving_usd_per_hour,
        notes=notes,
        upper_bound_usd=upper,
        prompts_unknown=True,
    )


def _usd(amount: float | None) -> str:
    """An estimate (~$1,234.50); a price the catalog lacks is "unknown", never $0 or ~unknown."""
    return "unknown" if amount is None else f"~${amount:,.2f}"
