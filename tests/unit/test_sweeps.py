"""Hyperparameter sweeps: job.json's "sweep" refused at validation, one line each, or expanded
into deterministic variants; SelectWinner picks the lowest validation loss."""

from __future__ import annotations

import json

import pytest

from customization.naming import run_names
from customization.sweep import NoVariantSucceeded, select_winner, table
from customization.validation.dataset import check_dataset
from customization.validation.jobspec import JobSettings, apply_job_file
from customization.validation.problems import ProblemLog
from customization.validation.sweeps import R_SWEEP
from tests.dataset_helpers import LocalFile, numbered, write_jsonl

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"


def _checked(tmp_path, job: dict, *, limit: int | None = 4, ceiling: float | None = None):
    log = ProblemLog()
    settings = apply_job_file(
        JobSettings(base_model=NOVA_MICRO, hyperparameters={"epochCount": "2"}), json.dumps(job), log
    )
    train = write_jsonl(tmp_path / "train.jsonl", numbered("q", 120))
    result = check_dataset(
        LocalFile(train),
        settings,
        log=log,
        settings_origin="job.json",
        max_sweep_variants=limit,
        cost_ceiling_usd=ceiling,
    )
    return result, [str(p) for p in log.problems if p.severity == "error"]


def test_a_grid_is_the_product_of_its_values(tmp_path):
    result, errors = _checked(tmp_path, {"sweep": {"learningRate": [0.00001, 0.00002], "epochCount": [1, 3]}})

    assert errors == []
    assert [v["sweep"] for v in result.variants] == [
        {"learningRate": "0.00001", "epochCount": "1"},
        {"learningRate": "0.00001", "epochCount": "3"},
        {"learningRate": "0.00002", "epochCount": "1"},
        {"learningRate": "0.00002", "epochCount": "3"},
    ]
    # Every variant's training together: 1 + 3 + 1 + 3 epochs over the same tokens.
    assert result.cost.epochs == 8
    assert result.cost.training_usd == pytest.approx(sum(v["trainingUsd"] for v in result.variants))


def test_a_list_of_combinations_keeps_the_runs_other_hyperparameters(tmp_path):
    result, errors = _checked(tmp_path, {"sweep": [{"learningRate": 0.00001}, {"learningRate": 0.00003}]})

    assert errors == []
    assert [v["hyperParameters"]["epochCount"] for v in result.variants] == ["2", "2"]
    assert [v["index"] for v in result.variants] == [1, 2]


@pytest.mark.parametrize(
    ("job", "limit", "expected"),
    [
        (
            {"sweep": {"learningRate": [0.00001, 0.00002, 0.00003], "epochCount": [1, 2]}},
            4,
            "sweep has 6 variants and this environment allows 4 (limits.maxSweepVariants)",
        ),
        ({"sweep": {"epochCount": [1, 2]}}, 0, "this environment allows no sweeps"),
        (
            {"sweep": {"learningRat": [0.00001, 0.00002]}},
            4,
            "sweep variants 1, 2: learningRat: Amazon Nova Micro has no hyperparameter",
        ),
        ({"sweep": {"epochCount": [1, 500]}}, 4, "sweep variant 2 (epochCount=500): epochCount:"),
        ({"sweep": {"epochCount": [1, 1]}}, 4, "sweep variants 1 and 2 are the same"),
        ({"sweep": {"epochCount": []}}, 4, "non-empty list of values"),
        ({"sweep": "fast"}, 4, "sweep must be an object of lists (a grid) or a list of objects"),
        ({"sweep": [{"epochCount": 1}]}, 4, "a single variant"),
        ({"sweep": {"epochCount": [1, 2]}, "keepSweepModels": "yes"}, 4, "keepSweepModels must be true or false"),
    ],
)
def test_a_sweep_that_cannot_run_is_refused_in_one_line(tmp_path, job, limit, expected):
    result, errors = _checked(tmp_path, job, limit=limit)

    sweep_errors = [e for e in errors if f" {R_SWEEP}: " in e]
    assert len(sweep_errors) == 1 and expected in sweep_errors[0], errors
    assert not result.valid


def test_only_fine_tuning_sweeps(tmp_path):
    log = ProblemLog()
    job = {"customizationType": "DISTILLATION", "teacherModel": "amazon.nova-pro-v1:0", "sweep": {"epochCount": [1, 2]}}
    apply_job_file(JobSettings(base_model=NOVA_MICRO), json.dumps(job), log)

    [line] = [str(p) for p in log.problems if p.rule == R_SWEEP]
    assert "sweep is for customizationType FINE_TUNING only" in line and "validation loss" in line


def test_every_variant_together_is_held_to_the_cost_ceiling(tmp_path):
    one, _ = _checked(tmp_path, {})
    single = one.cost.training_usd
    # One job fits the ceiling; four of them do not.
    _, errors = _checked(
        tmp_path, {"sweep": {"learningRate": [0.00001, 0.00002], "epochCount": [2, 3]}}, ceiling=single * 2
    )

    [line] = [e for e in errors if "cost-ceiling" in e]
    assert "the sweep's 4 variants together" in line and "drop variants" in line


def test_variant_names_are_deterministic_and_within_bedrocks_limits():
    names = run_names("production", "bucket", "datasets/" + "x" * 200 + "/train.jsonl", "v1")
    variant = names.for_variant(12)

    assert variant.job_name.endswith(f"-production-job-{names.run_id}-v12")
    assert variant.custom_model_name.endswith(f"-production-model-{names.run_id}-v12")
    assert len(variant.job_name) <= 63 and len(variant.custom_model_name) <= 63
    assert variant.client_token("job") == f"job-production-{names.run_id}-v12"
    assert names.job_marker in variant.job_name and names.job_marker in names.job_name
    # What the run creates once keeps the run's names.
    assert variant.deployment_name == names.deployment_name
    assert names.for_variant(12) == variant


class _Bedrock:
    def __init__(self):
        self.deleted = []

    def delete_custom_model(self, modelIdentifier):
        self.deleted.append(modelIdentifier)


def _outcome(index, loss=None, failure=None):
    variant = {"index": index, "sweep": {"learningRate": f"0.0000{index}"}}
    if failure:
        return {"variant": variant, "failure": {"Error": "JobFailed", "Cause": failure}}
    return {
        "variant": variant,
        "job": {"jobName": f"j-v{index}"},
        "result": {"customModelArn": f"arn:model/{index}", "validationLoss": loss},
        "curves": {"verdict": "healthy", "bestValidationLoss": loss},
    }


def test_the_lowest_validation_loss_wins_and_the_losers_models_go():
    bedrock = _Bedrock()
    state = {
        "upload": {},
        "validation": {"settings": {}},
        "sweep": [_outcome(2, 0.2), _outcome(1, 0.3), _outcome(3, failure="no")],
    }

    out = select_winner(bedrock, state)

    assert out["job"]["jobName"] == "j-v2" and out["result"]["customModelArn"] == "arn:model/2"
    assert out["sweep"]["winner"] == 2
    assert bedrock.deleted == ["arn:model/1"]
    assert any("| v2 |" in line and "| yes |" in line for line in table(out["sweep"]))


def test_keep_sweep_models_keeps_the_losers():
    bedrock = _Bedrock()
    state = {"validation": {"settings": {"keepSweepModels": True}}, "sweep": [_outcome(1, 0.3), _outcome(2, 0.2)]}

    out = select_winner(bedrock, state)

    assert bedrock.deleted == []
    assert out["sweep"]["variants"][0]["customModel"] == "kept (keepSweepModels)"


def test_no_variant_that_succeeded_fails_the_run():
    with pytest.raises(NoVariantSucceeded, match="v1: JobFailed: no"):
        select_winner(_Bedrock(), {"validation": {}, "sweep": [_outcome(1, failure="no"), _outcome(2, None)]})
