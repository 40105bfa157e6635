"""The ValidateDataset Lambda against S3 (moto): reads the exact uploaded version and its
siblings, writes the report and prepared files, and fails with a routable error."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws
from validate_dataset import handler

from customization import runtime
from customization.naming import run_names
from customization.validation.upload import DatasetInvalidError
from tests.conftest import ROOT
from tests.dataset_helpers import LLAMA_31_8B, NOVA_MICRO, TITAN_EXPRESS, numbered

BUCKET = "data-bucket"
DEFAULTS = {
    "baseModel": NOVA_MICRO,
    "customizationType": "FINE_TUNING",
    "hyperParameters": {"epochCount": "2"},
    "validationSplit": 0.1,
}


def _folder(key: str, version: str) -> str:
    """The run's folder: `<slug>/<run id>/` (never the raw dataset name)."""
    return run_names("dev", BUCKET, key, version).folder


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "dev")
    monkeypatch.setenv("DEFAULT_JOB_SETTINGS", json.dumps(DEFAULTS))
    monkeypatch.setenv("SERVING", json.dumps({"mode": "provisioned", "modelUnits": 1, "commitment": "none"}))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime.reset()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
    runtime.reset()


def _put(s3, key: str, body: bytes) -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]


def _jsonl(records) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def _event(key: str, version: str) -> dict:
    return {"bucket": BUCKET, "key": key, "versionId": version}


def _read_json(s3, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_a_valid_upload_is_split_prepared_and_summarized(s3):
    version = _put(s3, "datasets/spam/train.jsonl", (ROOT / "examples/email-classifier/train.jsonl").read_bytes())

    summary = handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)

    run = _folder("datasets/spam/train.jsonl", version)
    assert run.startswith("spam/") and len(run) == len("spam/") + 17
    assert summary["valid"] is True
    assert summary["records"] == {"train": 141, "validation": 16}
    assert summary["prepared"] == {
        "trainUri": f"s3://{BUCKET}/prepared/{run}train.jsonl",
        "validationUri": f"s3://{BUCKET}/prepared/{run}validation.jsonl",
    }
    assert summary["settings"]["hyperParameters"] == {"epochCount": "2"}
    assert summary["cost"]["servingUsdPerHour"] is None  # no Nova provisioned price in the catalog
    assert summary["reportUri"] == f"s3://{BUCKET}/reports/{run}validation-report.json"
    prepared = s3.get_object(Bucket=BUCKET, Key=f"prepared/{run}validation.jsonl")["Body"].read()
    assert len(prepared.splitlines()) == 16
    assert _read_json(s3, f"reports/{run}validation-report.json")["valid"] is True


def test_the_uploaded_version_is_read_and_handed_to_bedrock_not_the_latest(s3, monkeypatch):
    monkeypatch.setenv("DEFAULT_JOB_SETTINGS", json.dumps({**DEFAULTS, "validationSplit": None}))
    runtime.reset()
    key = "datasets/spam/train.jsonl"
    validated = _jsonl(numbered("q", 20))
    first = _put(s3, key, validated)
    _put(s3, key, b"not json at all\n")

    summary = handler.lambda_handler(_event(key, first), None, s3=s3)

    assert summary["valid"] is True
    prepared = summary["prepared"]["trainUri"].removeprefix(f"s3://{BUCKET}/")
    assert s3.get_object(Bucket=BUCKET, Key=prepared)["Body"].read() == validated


def test_job_json_and_validation_file_beside_the_upload_are_used(s3):
    _put(s3, "datasets/spam/job.json", json.dumps({"hyperParameters": {"epochCount": "4"}}).encode())
    _put(s3, "datasets/spam/validation.jsonl", _jsonl(numbered("v", 5)))
    version = _put(s3, "datasets/spam/train.jsonl", _jsonl(numbered("t", 20)))

    summary = handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)

    assert summary["settings"]["hyperParameters"] == {"epochCount": "4"}
    assert summary["records"] == {"train": 20, "validation": 5}
    # Bedrock reads copies of the validated versions, never the keys a re-upload could replace.
    run = _folder("datasets/spam/train.jsonl", version)
    assert summary["prepared"]["trainUri"] == f"s3://{BUCKET}/prepared/{run}train.jsonl"
    assert summary["prepared"]["validationUri"] == f"s3://{BUCKET}/prepared/{run}validation.jsonl"


def test_an_invalid_dataset_raises_with_the_first_problems_and_the_report(s3):
    records = numbered("q", 20)
    records[4] = {"prompt": "wrong format"}
    version = _put(s3, "datasets/spam/train.jsonl", _jsonl(records))

    with pytest.raises(DatasetInvalidError) as raised:
        handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)

    message = str(raised.value)
    assert f"s3://{BUCKET}/datasets/spam/train.jsonl:5: unexpected-field:" in message
    run = _folder("datasets/spam/train.jsonl", version)
    assert f"Full report: s3://{BUCKET}/reports/{run}validation-report.json" in message
    report = _read_json(s3, f"reports/{run}validation-report.json")
    assert report["valid"] is False and report["problems"][0]["line"] == 5
    assert "prepared" not in report
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix="prepared/").get("Contents")


def test_a_bad_job_json_is_reported_with_its_key(s3):
    _put(s3, "datasets/spam/job.json", json.dumps({"hyperparameters": {"epochs": 3}}).encode())
    version = _put(s3, "datasets/spam/train.jsonl", _jsonl(numbered("q", 20)))

    with pytest.raises(
        DatasetInvalidError, match=r"datasets/spam/job.json: job-settings: unknown key 'hyperparameters'"
    ):
        handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)


def test_continued_pre_training_on_a_model_past_its_end_of_life_starts_nothing_and_says_why(s3, monkeypatch):
    monkeypatch.setenv("ALLOWED_BASE_MODELS", json.dumps([NOVA_MICRO, TITAN_EXPRESS]))
    runtime.reset()
    _put(s3, "datasets/handbook/job.json", (ROOT / "examples/support-handbook/job.json").read_bytes())
    version = _put(s3, "datasets/handbook/train.txt", (ROOT / "examples/support-handbook/train.txt").read_bytes())

    with pytest.raises(DatasetInvalidError) as raised:
        handler.lambda_handler(_event("datasets/handbook/train.txt", version), None, s3=s3)

    message = str(raised.value)
    assert "reached its end of life" in message
    assert "no current Bedrock model offers CONTINUED_PRE_TRAINING" in message
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix="prepared/").get("Contents")


@pytest.mark.parametrize("name", ["Spam Filter (v2)", "a+b", "q3=sales", "données", "x" * 900])
def test_every_key_a_run_writes_is_built_from_its_slug_and_id_whatever_the_dataset_is_called(s3, name):
    key = f"datasets/{name}/train.jsonl"
    version = _put(s3, key, (ROOT / "examples/email-classifier/train.jsonl").read_bytes())

    summary = handler.lambda_handler(_event(key, version), None, s3=s3)

    written = [
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) if not o["Key"].startswith("datasets/")
    ]
    assert written and all(
        re.fullmatch(r"(prepared|reports)/[A-Za-z0-9-]{1,64}/[0-9a-f]{16}/[a-z.-]+", k) for k in written
    )
    assert all(len(k.encode()) <= 150 for k in written)
    assert summary["dataset"]["name"] == name  # people still see the name they chose


@pytest.mark.parametrize("key", ["datasets/train.jsonl", "other/spam/train.jsonl", "datasets/spam/data.csv"])
def test_keys_outside_the_upload_contract_are_refused(s3, key):
    with pytest.raises(ValueError, match="does not start a run: upload the training file as datasets/<name>/"):
        handler.lambda_handler({"bucket": BUCKET, "key": key, "versionId": "v"}, None, s3=s3)


def test_a_malformed_event_says_what_is_expected(s3):
    with pytest.raises(ValueError, match=re.escape('expected {"bucket": ..., "key": ..., "versionId": ...}')):
        handler.lambda_handler({"Records": []}, None, s3=s3)


def test_a_model_the_environment_cannot_serve_is_refused_before_training(s3, monkeypatch):
    monkeypatch.setenv("SERVING", json.dumps({"mode": "on-demand"}))
    monkeypatch.setenv("ALLOWED_BASE_MODELS", json.dumps([NOVA_MICRO, LLAMA_31_8B]))
    runtime.reset()
    _put(s3, "datasets/spam/job.json", json.dumps({"baseModel": LLAMA_31_8B}).encode())
    records = [{"prompt": f"question {n}", "completion": f"answer {n}"} for n in range(120)]
    version = _put(s3, "datasets/spam/train.jsonl", _jsonl(records))

    with pytest.raises(
        DatasetInvalidError,
        match=re.escape("serving on demand was asked for, which Meta Llama 3.1 8B Instruct does not support"),
    ):
        handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)


def test_a_model_outside_the_environment_allow_list_is_refused(s3, monkeypatch):
    monkeypatch.setenv("ALLOWED_BASE_MODELS", json.dumps([NOVA_MICRO]))
    runtime.reset()
    _put(s3, "datasets/handbook/job.json", (ROOT / "examples/support-handbook/job.json").read_bytes())
    version = _put(s3, "datasets/handbook/train.txt", (ROOT / "examples/support-handbook/train.txt").read_bytes())

    with pytest.raises(DatasetInvalidError, match="is not allowed in this environment"):
        handler.lambda_handler(_event("datasets/handbook/train.txt", version), None, s3=s3)


@pytest.mark.parametrize(
    ("serving", "outcome"),
    [
        ({"mode": "none"}, "none"),
        ({"mode": "provisioned"}, "provisioned"),
        ({"mode": "on-demand"}, "refused"),
        ({"mode": "none", "units": 2}, "refused"),
        ("none", "refused"),
    ],
)
def test_job_json_may_skip_serving_but_not_pick_another_mode(s3, serving, outcome):
    _put(s3, "datasets/spam/job.json", json.dumps({"serving": serving}).encode())
    version = _put(s3, "datasets/spam/train.jsonl", _jsonl(numbered("q", 20)))

    if outcome == "refused":
        with pytest.raises(DatasetInvalidError, match="serving must be"):
            handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)
    else:
        summary = handler.lambda_handler(_event("datasets/spam/train.jsonl", version), None, s3=s3)
        assert summary["settings"]["servingMode"] == outcome
        assert summary["cost"]["servingMode"] == outcome


def test_a_dataset_name_too_long_for_its_siblings_keys_is_reported_with_the_maximum(s3):
    name = "n" * 1000  # datasets/<name>/train.jsonl fits in 1,024 bytes; validation.jsonl would not
    key = f"datasets/{name}/train.jsonl"
    version = _put(s3, key, (ROOT / "examples/email-classifier/train.jsonl").read_bytes())

    with pytest.raises(DatasetInvalidError):
        handler.lambda_handler(_event(key, version), None, s3=s3)

    report = _read_json(s3, f"reports/{_folder(key, version)}validation-report.json")
    [problem] = [p for p in report["problems"] if p["rule"] == "dataset-name"]
    assert "the dataset name is 1,000 bytes (UTF-8); at most 998" in problem["message"]
    # Every key the run wrote is short: built from the slug, not the name.
    assert all(len(o["Key"].encode()) <= 120 for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="reports/")["Contents"])
