"""The environments in cdk.json: parsed once, frozen, and every mistake named precisely."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

from stacks.config import ConfigError, cdk_json_context, load_environments, select_environments


def _environments() -> dict:
    return copy.deepcopy(cdk_json_context()["environments"])


def _error_for(environments) -> str:
    with pytest.raises(ConfigError) as raised:
        load_environments(environments)
    return str(raised.value)


def test_the_committed_environments_parse_into_typed_settings():
    environments = load_environments(_environments())

    assert set(environments) == {"dev", "prod"}
    prod = environments["prod"]
    assert (prod.account, prod.region, prod.retain_data) == ("111122223333", "us-east-1", True)
    assert prod.pinned
    assert prod.storage.noncurrent_version_expiration_days == 90
    dev = environments["dev"]
    assert not dev.pinned and not dev.retain_data


def test_settings_are_frozen():
    prod = load_environments(_environments())["prod"]

    with pytest.raises(ValidationError, match="frozen"):
        prod.retain_data = False


def test_an_environment_a_user_adds_is_picked_up():
    environments = _environments()
    environments["staging"] = copy.deepcopy(environments["prod"])

    assert select_environments(load_environments(environments), "staging")[0].name == "staging"


def test_unknown_environment_names_the_valid_ones():
    environments = load_environments(_environments())

    with pytest.raises(ConfigError) as raised:
        select_environments(environments, "nope")

    assert str(raised.value) == (
        '-c env=nope: unknown environment "nope"; allowed: dev, prod (or add it under "environments" in cdk.json)'
    )


def test_no_selection_means_every_environment():
    environments = load_environments(_environments())

    assert [config.name for config in select_environments(environments, None)] == ["dev", "prod"]


def test_missing_required_key_is_named():
    environments = _environments()
    del environments["dev"]["storage"]["abortIncompleteUploadDays"]

    assert "environments.dev.storage.abortIncompleteUploadDays: required key is missing" in _error_for(environments)


def test_wrong_type_names_key_value_and_what_is_allowed():
    environments = _environments()
    environments["prod"]["retainData"] = "yes"

    message = _error_for(environments)

    assert "environments.prod.retainData: got 'yes' (str); allowed: a valid boolean" in message


def test_numbers_given_as_strings_are_not_silently_converted():
    environments = _environments()
    environments["dev"]["storage"]["noncurrentVersionExpirationDays"] = "7"

    assert "environments.dev.storage.noncurrentVersionExpirationDays: got '7' (str); allowed: a valid integer" in (
        _error_for(environments)
    )


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("noncurrentVersionExpirationDays", 0, "allowed: greater than or equal to 1"),
        ("noncurrentVersionExpirationDays", 3651, "allowed: less than or equal to 3650"),
        ("abortIncompleteUploadDays", 366, "allowed: less than or equal to 365"),
    ],
)
def test_out_of_range_values_name_the_range(key, value, allowed):
    environments = _environments()
    environments["dev"]["storage"][key] = value

    assert f"environments.dev.storage.{key}: got {value} (int); {allowed}" in _error_for(environments)


def test_a_misspelt_key_is_rejected_not_ignored():
    environments = _environments()
    environments["prod"]["retainDtaa"] = True

    assert "environments.prod.retainDtaa: unknown key (got True (bool)); check the spelling" in (
        _error_for(environments)
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("account", "12345"), ("account", 111122223333), ("region", "US-EAST-1"), ("region", "mars")],
)
def test_account_and_region_must_look_like_aws_ones(key, value):
    environments = _environments()
    environments["prod"][key] = value

    assert f"environments.prod.{key}: got {value!r}" in _error_for(environments)


def test_an_environment_that_retains_data_must_pin_account_and_region():
    environments = _environments()
    del environments["prod"]["account"]

    message = _error_for(environments)

    assert "environments.prod: retainData is true, so the environment must pin account" in message


def test_every_problem_is_reported_in_one_message():
    environments = _environments()
    environments["dev"]["retainData"] = 1
    environments["prod"]["storage"]["accessLogExpirationDays"] = -1

    message = _error_for(environments)

    assert message.startswith("Invalid cdk.json context:")
    assert "environments.dev.retainData" in message
    assert "environments.prod.storage.accessLogExpirationDays" in message


@pytest.mark.parametrize("name", ["Prod", "1dev", "dev_1", "a" * 21, "a--b", "dev-"])
def test_environment_names_must_be_usable_in_stack_names(name):
    environments = _environments()
    environments[name] = environments.pop("dev")

    assert f"environments.{name}: got environment name {name!r}" in _error_for(environments)


@pytest.mark.parametrize("context", [None, {}, [], "[]", 7])
def test_missing_or_malformed_environments_context(context):
    assert 'cdk.json context "environments"' in _error_for(context)


def test_environments_given_on_the_command_line_as_json_are_parsed():
    import json

    environments = load_environments(json.dumps(_environments()))

    assert set(environments) == {"dev", "prod"}


def test_command_line_environments_that_are_not_json_are_refused():
    assert "-c environments=...: not valid JSON" in _error_for("{dev:")


def test_customization_defaults_are_parsed():
    dev = load_environments(_environments())["dev"]

    assert dev.customization.base_model == "amazon.nova-micro-v1:0:128k"
    assert dev.customization.run_defaults().settings.hyperparameters["epochCount"] == "2"


def test_a_hyperparameter_the_model_does_not_accept_fails_synth_with_the_right_name():
    environments = _environments()
    environments["dev"]["customization"]["hyperParameters"] = {"epochs": "2"}

    message = _error_for(environments)

    assert "environments.dev.customization: hyperParameters.epochs: Amazon Nova Micro calls it 'epochCount'" in message


def test_an_out_of_range_default_fails_synth():
    environments = _environments()
    environments["prod"]["customization"]["hyperParameters"]["epochCount"] = "9"

    assert "environments.prod.customization: hyperParameters.epochCount: '9' is out of range: allowed 1 to 5" in (
        _error_for(environments)
    )


def test_an_unknown_base_model_fails_synth_with_a_suggestion():
    environments = _environments()
    environments["dev"]["customization"]["baseModel"] = "amazon.nova-micro-v1:0"

    assert "did you mean 'amazon.nova-micro-v1:0:128k'?" in _error_for(environments)


def test_the_model_must_be_customizable_in_the_pinned_region():
    environments = _environments()
    environments["prod"]["region"] = "eu-west-1"

    assert "customizable in us-east-1, not in the environment's region eu-west-1" in _error_for(environments)


@pytest.mark.parametrize("split", [0, 0.6, -0.1])
def test_validation_split_range(split):
    environments = _environments()
    environments["dev"]["customization"]["validationSplit"] = split

    assert "environments.dev.customization.validationSplit" in _error_for(environments)


def test_continued_pre_training_needs_a_model_that_supports_it():
    environments = _environments()
    environments["dev"]["customization"]["customizationType"] = "CONTINUED_PRE_TRAINING"

    assert "Amazon Nova Micro supports FINE_TUNING, DISTILLATION, not CONTINUED_PRE_TRAINING" in _error_for(
        environments
    )


def test_evaluation_settings_are_parsed_with_defaults_for_what_is_left_out():
    environments = _environments()
    environments["dev"]["evaluation"] = {"minImprovement": 0.1}
    dev = load_environments(environments)["dev"]

    assert (dev.evaluation.min_improvement, dev.evaluation.sample_size, dev.evaluation.metric) == (
        0.1,
        50,
        "exactMatch",
    )
    assert dev.evaluation.delete_serving_when_not_promoted is False  # deleting is something an environment asks for
    assert json.loads(dev.evaluation.settings().to_environment()["EVALUATION"]) == {
        "sampleSize": 50,
        "metric": "exactMatch",
        "minImprovement": 0.1,
        "deleteServingWhenNotPromoted": False,
        "concurrency": 4,
        "maxOutputTokens": 512,
    }


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("metric", "bleu", "allowed: 'exactMatch' or 'tokenF1'"),
        ("sampleSize", 0, "allowed: greater than or equal to 1"),
        ("concurrency", 64, "allowed: less than or equal to 16"),
        ("minImprovement", 2, "allowed: less than or equal to 1"),
        ("deleteServingWhenNotPromoted", "yes", "allowed: a valid boolean"),
    ],
)
def test_evaluation_mistakes_are_named(key, value, allowed):
    environments = _environments()
    environments["prod"]["evaluation"] = {key: value}

    message = _error_for(environments)

    assert f"environments.prod.evaluation.{key}: got {value!r}" in message
    assert allowed in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"app": "x",\n  "context": {,}\n}',
            "cdk.json:2:15: not valid JSON (Expecting property name enclosed in double quotes)",
        ),
        ('{"app": "x"}', 'cdk.json: expected an object "context" holding an object "environments"'),
        ('{"context": {"environments": []}}', 'expected an object "context" holding an object "environments"'),
    ],
)
def test_a_broken_cdk_json_is_named_with_the_position_not_a_traceback(tmp_path, text, message):
    from stacks.config import ConfigError, cdk_json_context

    path = tmp_path / "cdk.json"
    path.write_text(text)

    with pytest.raises(ConfigError) as raised:
        cdk_json_context(path)
    assert message in str(raised.value)
