"""What a run will cost, from the catalog's prices (estimates: check the sources)."""

from __future__ import annotations

from dataclasses import dataclass

from customization.catalog import ModelSpec
from customization.run_state import Cost
from customization.serving import NO_COMMITMENT, ON_DEMAND, PROVISIONED, ServingPlan

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class CostEstimate:
    training_tokens: int
    epochs: float
    training_usd: float | None
    storage_usd_per_month: float | None
    serving_mode: str
    serving_usd_per_hour: float | None
    notes: tuple[str, ...] = ()

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
        }

    def summary(self) -> str:
        parts = [f"training ~{_usd(self.training_usd)} ({self.training_tokens:,} tokens x {self.epochs:g} epochs)"]
        parts.append(f"storage ~{_usd(self.storage_usd_per_month)}/month")
        if self.serving_mode == PROVISIONED:
            parts.append(f"provisioned throughput ~{_usd(self.serving_usd_per_hour)}/hour while it exists")
        elif self.serving_mode == ON_DEMAND:
            parts.append("on-demand serving billed per token when invoked")
        return "; ".join(parts)


def estimate_cost(model: ModelSpec, training_tokens: int, epochs: float, serving: ServingPlan) -> CostEstimate:
    prices = model.prices
    notes = ["prices are estimates from the catalog; verify them on the Bedrock pricing page"]
    training = None
    if prices.training_per_1k_tokens is None:
        notes.append(f"no training price for {model.name} in the catalog")
    else:
        training = round(training_tokens * epochs / 1000 * prices.training_per_1k_tokens, 2)
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
    )


def _usd(amount: float | None) -> str:
    return "unknown" if amount is None else f"${amount:,.2f}"
