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
        }

    def summary(self) -> str:
        parts = [f"training ~{_usd(self.training_usd)} ({self.training_tokens:,} tokens x {self.epochs:g} epochs)"]
        if self.teacher_output_tokens is not None:
            parts.append(
                f"teacher inference ~{_usd(self.teacher_usd)} (estimate: at most {self.teacher_output_tokens:,} "
                "output tokens)"
            )
        parts.append(f"storage ~{_usd(self.storage_usd_per_month)}/month")
        if self.serving_mode == PROVISIONED:
            parts.append(f"provisioned throughput ~{_usd(self.serving_usd_per_hour)}/hour while it exists")
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


def _usd(amount: float | None) -> str:
    return "unknown" if amount is None else f"${amount:,.2f}"
