"""Hyperparameter names and values are checked against what the chosen model accepts."""

from __future__ import annotations

import pytest

from customization.catalog import load_catalog
from customization.validation.hyperparameters import check_hyperparameters
from tests.dataset_helpers import CLAUDE_HAIKU, LLAMA_31_8B, NOVA_MICRO, TITAN_EXPRESS


def _check(model_id: str, given: dict, customization_type: str = "FINE_TUNING"):
    return check_hyperparameters(given, load_catalog().model(model_id), customization_type)


@pytest.mark.parametrize(
    ("model", "tutorial_name", "api_name"),
    [
        (NOVA_MICRO, "epochs", "epochCount"),
        (NOVA_MICRO, "warmupSteps", "learningRateWarmupSteps"),
        (NOVA_MICRO, "learning_rate", "learningRate"),
        (TITAN_EXPRESS, "batch_size", "batchSize"),
        (CLAUDE_HAIKU, "learningRate", "learningRateMultiplier"),
        (LLAMA_31_8B, "num_train_epochs", "epochCount"),
    ],
)
def test_tutorial_names_get_the_right_name_in_the_message(model, tutorial_name, api_name):
    checked = _check(model, {tutorial_name: "1"})

    assert not checked.ok
    assert f"calls it {api_name!r}" in checked.problems[0].message
    assert f"rename {tutorial_name!r}" in checked.problems[0].message


def test_a_parameter_the_model_lacks_lists_what_it_takes():
    checked = _check(NOVA_MICRO, {"batchSize": "8"})

    message = checked.problems[0].message
    assert "Amazon Nova Micro calls it" not in message
    assert "has no hyperparameter 'batchSize'; it takes epochCount (1 to 5, default 2)" in message


def test_weight_decay_is_not_tunable_and_says_so():
    assert "has no hyperparameter 'weightDecay'" in _check(TITAN_EXPRESS, {"weightDecay": "0.1"}).problems[0].message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"epochCount": "6"}, "'6' is out of range: allowed 1 to 5, default 2"),
        ({"epochCount": 0}, "0 is out of range"),
        ({"epochCount": "2.5"}, "must be a whole number"),
        ({"learningRate": "fast"}, "must be a number, got 'fast'"),
        ({"learningRate": 0.001}, "out of range: allowed 0.000001 to 0.0001"),
        ({"learningRate": "nan"}, "must be a finite number"),
        ({"epochCount": True}, "must be a number"),
        ({"epochCount": None}, "must be a number"),
    ],
)
def test_values_are_checked_against_the_range(given, expected):
    checked = _check(NOVA_MICRO, given)

    assert expected in checked.problems[0].message


def test_values_at_the_bounds_pass_and_are_sent_as_strings():
    checked = _check(NOVA_MICRO, {"epochCount": 5, "learningRate": 1e-6, "learningRateWarmupSteps": "0"})

    assert checked.ok
    assert checked.values == {"epochCount": "5", "learningRate": "0.000001", "learningRateWarmupSteps": "0"}


def test_claude_takes_its_own_parameters():
    checked = _check(CLAUDE_HAIKU, {"learningRateMultiplier": "1.5", "earlyStoppingPatience": "3", "batchSize": 32})

    assert checked.ok
    assert checked.values["batchSize"] == "32"


def test_not_a_mapping():
    assert "must be an object" in _check(NOVA_MICRO, ["epochCount"]).problems[0].message
