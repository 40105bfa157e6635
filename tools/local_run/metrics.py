"""The metrics files the emulated Bedrock writes when a job completes, in the shape a
scenario asks for (Behaviour.curve), where the user guide says Bedrock writes them
("Analyze the results of a model customization job",
https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html, checked
2026-11-29). The validation file goes one folder deeper, under validation/, as AWS's own
sample reads it: the pipeline must find both by listing, whichever way Bedrock lays them out.
"""

from __future__ import annotations

import math

STEPS_PER_EPOCH = 50
EVALUATION_EVERY = 10  # steps between two validation evaluations
SHAPES = ("healthy", "overfitting", "unstable", "underfitting", "missing")


def _noise(step: int, amplitude: float) -> float:
    """Deterministic wiggle (a scenario gives the same files every run)."""
    return 1 + amplitude * math.sin(step * 2.399) * math.cos(step * 0.713)


def losses(shape: str, step: int) -> tuple[float, float]:
    """(training loss, validation loss) at `step` for a curve of `shape`."""
    if shape == "overfitting":
        # Training keeps falling; validation is lowest near step 39 (the first epoch), then climbs.
        training = 0.05 + 1.6 * math.exp(-step / 12)
        validation = 0.30 + math.exp(-step / 8) + 0.0015 * max(0, step - 40)
        return training * _noise(step, 0.03), validation
    if shape == "unstable":
        trend = 0.2 + 1.2 * math.exp(-step / 15)
        return trend * (1.45 if step % 2 else 0.6), 0.25 + 0.9 * math.exp(-step / 15)
    if shape == "underfitting":
        return 0.2 + 1.5 * math.exp(-step / 150) * _noise(step, 0.01), 0.25 + 1.4 * math.exp(-step / 160)
    # Healthy: both settle, at the losses GetModelCustomizationJob reports (Behaviour).
    training = 0.1132 + 1.6 * math.exp(-step / 10)
    validation = 0.1421 + 1.2 * math.exp(-step / 10)
    return training * _noise(step, 0.03), validation * _noise(step, 0.004)


def metrics_files(shape: str, epochs: int, with_validation: bool, validation_offset: float = 0.0) -> dict[str, str]:
    """Path below model-customization-job-<id>/ -> CSV text; nothing for the shape "missing".
    `validation_offset` moves the validation curve (a sweep's variants end at different losses)."""
    if shape == "missing":
        return {}
    if shape not in SHAPES:
        raise ValueError(f"unknown curve shape {shape!r}; allowed: {', '.join(SHAPES)}")
    steps = range(epochs * STEPS_PER_EPOCH)
    training = ["step_number,epoch_number,training_loss,perplexity"]
    validation = ["step_number,epoch_number,validation_loss,perplexity"]
    for step in steps:
        train_loss, validation_loss = losses(shape, step)
        validation_loss += validation_offset
        epoch = step // STEPS_PER_EPOCH  # from 0, like step_number
        training.append(f"{step},{epoch},{train_loss:.6f},{math.exp(train_loss):.6f}")
        if (step + 1) % EVALUATION_EVERY == 0:
            validation.append(f"{step},{epoch},{validation_loss:.6f},{math.exp(validation_loss):.6f}")
    files = {"training_artifacts/step_wise_training_metrics.csv": "\n".join(training) + "\n"}
    if with_validation:
        files["validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"] = (
            "\n".join(validation) + "\n"
        )
    return files
