"""Distillation and reinforcement fine-tuning: validation per method, the job request, the cost.

Each bad input the issue names is refused at validation in one line, before any job: a teacher
that cannot teach the student, RFT on a model without it, a grader the environment does not
deploy, records missing what the grader needs (at FILE:LINE), more prompts than AWS takes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from customization.catalog import load_catalog
from customization.naming import RunNames
from customization.serving import ServingPlan
from customization.training import JobEnvironment, method_request, start_job
from customization.validation.jobspec import RunDefaults
from stacks.config import cdk_json_context, load_environments
from tests.aws_world import CapturingBedrock
from tools.datasets import check_with_environment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RFT = EXAMPLES / "rft-support-triage"
DISTILLATION = EXAMPLES / "distill-support-replies"
SYSTEM = {"role": "system", "content": "Answer with one word: billing, technical, account or shipping."}


@pytest.fixture(scope="module")
def dev() -> RunDefaults:
    return load_environments(cdk_json_context()["environments"])["dev"].run_defaults()


def _check(defaults, tmp_path, records, job, *, serving=None):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    return check_with_environment(defaults, serving or ServingPlan(), train, job=job_file)


def _errors(result) -> list[str]:
    return [str(problem) for problem in result.log.problems if problem.severity == "error"]


def _rft_prompt(number: int, **fields) -> dict:
    return {"messages": [SYSTEM, {"role": "user", "content": f"Ticket {number}: I was charged twice."}], **fields}


def _prompt(number: int) -> dict:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": f"Where is order {number}?"}]}],
    }


RFT_JOB = {"baseModel": "amazon.nova-2-lite-v1:0:256k", "customizationType": "REINFORCEMENT_FINE_TUNING"}
DISTILLATION_JOB = {
    "baseModel": "amazon.nova-micro-v1:0:128k",
    "customizationType": "DISTILLATION",
    "teacherModel": "amazon.nova-pro-v1:0",
}


def test_the_bundled_examples_pass_in_dev(dev):
    for folder in (RFT, DISTILLATION):
        result = check_with_environment(dev, ServingPlan(), folder / "train.jsonl", job=folder / "job.json")
        assert result.valid, _errors(result)


def test_a_teacher_that_cannot_teach_the_student_is_refused_in_one_line(dev, tmp_path):
    # Nova Pro is a student too, but of Nova Premier only.
    defaults = replace(dev, allowed_base_models=(*dev.allowed_base_models, "amazon.nova-pro-v1:0:300k"))
    job = {**DISTILLATION_JOB, "baseModel": "amazon.nova-pro-v1:0:300k"}

    result = _check(defaults, tmp_path, [_prompt(n) for n in range(10)], job)

    assert len(_errors(result)) == 1
    (teacher,) = _errors(result)
    assert (
        "teacher-model: teacherModel amazon.nova-pro-v1:0 cannot teach amazon.nova-pro-v1:0:300k by distillation"
        in teacher
    )
    assert "Teachers of amazon.nova-pro-v1:0:300k: amazon.nova-premier-v1:0 (us-east-1)" in teacher
    assert "prequisites-model-distillation.html" in teacher


def test_a_teacher_the_environment_does_not_allow_is_refused(dev, tmp_path):
    job = {**DISTILLATION_JOB, "teacherModel": "amazon.nova-premier-v1:0"}

    result = _check(dev, tmp_path, [_prompt(n) for n in range(10)], job)

    assert any(
        "teacherModel 'amazon.nova-premier-v1:0' is not allowed in this environment (allowed: amazon.nova-pro-v1:0)"
        in e
        for e in _errors(result)
    )


def test_rft_on_a_model_without_it_is_refused(dev, tmp_path):
    job = {**RFT_JOB, "baseModel": "amazon.nova-micro-v1:0:128k", "grader": "exact-match"}

    result = _check(dev, tmp_path, [_rft_prompt(n, reference_answer="billing") for n in range(100)], job)

    assert any(
        "customizationType: Amazon Nova Micro supports FINE_TUNING, DISTILLATION, not REINFORCEMENT_FINE_TUNING" in e
        for e in _errors(result)
    )


def test_a_grader_that_is_not_deployed_is_refused_naming_the_deployed_ones(dev, tmp_path):
    result = _check(
        dev, tmp_path, [_rft_prompt(n, reference_answer="x") for n in range(100)], {**RFT_JOB, "grader": "llm-judge"}
    )

    assert any(
        "grader 'llm-judge' is not deployed in this environment (deployed: exact-match, json-schema, regex)" in e
        for e in _errors(result)
    )


def test_an_environment_without_graders_refuses_every_rft_run(tmp_path):
    prod = load_environments(cdk_json_context()["environments"])["prod"].run_defaults()
    prod = replace(prod, allowed_base_models=(*prod.allowed_base_models, RFT_JOB["baseModel"]))

    result = _check(
        prod, tmp_path, [_rft_prompt(n, reference_answer="x") for n in range(100)], {**RFT_JOB, "grader": "exact-match"}
    )

    assert any("(deployed: none)" in e for e in _errors(result))


@pytest.mark.parametrize(
    ("grader", "fields", "expected"),
    [
        ("exact-match", {}, "(no-reference): the record has no reference_answer"),
        ("json-schema", {"reference_answer": {}}, "(no-schema): the record has no schema"),
        ("regex", {"pattern": "(a+)+"}, "(bad-pattern): pattern repeats a group that holds a quantifier"),
    ],
)
def test_records_missing_what_the_grader_needs_are_refused_at_their_line(dev, tmp_path, grader, fields, expected):
    good = {
        "exact-match": {"reference_answer": "billing"},
        "json-schema": {"schema": {"type": "object"}},
        "regex": {"pattern": "billing"},
    }[grader]
    records = [_rft_prompt(n, **good) for n in range(101)]
    records[41] = _rft_prompt(41, **fields)

    result = _check(dev, tmp_path, records, {**RFT_JOB, "grader": grader})

    errors = _errors(result)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{tmp_path / 'train.jsonl'}:42: grader-fields: the grader cannot score this record")
    assert expected in errors[0]


def test_more_than_20000_rft_prompts_are_refused(dev, tmp_path):
    records = [_rft_prompt(n, reference_answer="billing") for n in range(20_001)]

    result = _check(dev, tmp_path, records, {**RFT_JOB, "grader": "exact-match"})

    assert _errors(result) == [
        f"{tmp_path / 'train.jsonl'}: record-count: 20,001 training records; REINFORCEMENT_FINE_TUNING on "
        "Amazon Nova 2 Lite takes at most 20,000: drop some"
    ]


def test_fewer_than_100_rft_prompts_are_refused(dev, tmp_path):
    result = _check(
        dev,
        tmp_path,
        [_rft_prompt(n, reference_answer="billing") for n in range(99)],
        {**RFT_JOB, "grader": "exact-match"},
    )

    assert any("needs at least 100" in e for e in _errors(result))


def test_rft_hyperparameters_are_checked_against_the_rft_ranges(dev, tmp_path):
    job = {
        **RFT_JOB,
        "grader": "exact-match",
        "hyperParameters": {"batchSize": 8, "reasoningEffort": "extreme", "epochs": 2},
    }

    result = _check(dev, tmp_path, [_rft_prompt(n, reference_answer="billing") for n in range(100)], job)

    errors = " | ".join(_errors(result))
    assert "hyperParameters.batchSize: 8 is out of range: allowed 16 to 512" in errors
    assert "hyperParameters.reasoningEffort: must be one of low | medium | high, got 'extreme'" in errors
    assert "Amazon Nova 2 Lite calls it 'epochCount' (1 to 50); rename 'epochs'" in errors


def test_an_rft_prompt_ending_with_the_answer_is_refused(dev, tmp_path):
    records = [_rft_prompt(n, reference_answer="billing") for n in range(101)]
    records[3]["messages"].append({"role": "assistant", "content": "billing"})

    result = _check(dev, tmp_path, records, {**RFT_JOB, "grader": "exact-match"})

    assert [e.split(": ", 2)[:2] for e in _errors(result)] == [[f"{tmp_path / 'train.jsonl'}:4", "role-order"]]


def test_distillation_prompts_may_carry_an_answer_but_no_media_and_no_hyperparameters(dev, tmp_path):
    records = [_prompt(n) for n in range(10)]
    records[1]["messages"].append({"role": "assistant", "content": [{"text": "On its way."}]})
    records[2]["messages"][0]["content"].append({"image": {"format": "png", "source": {"bytes": "x"}}})
    job = {**DISTILLATION_JOB, "hyperParameters": {"epochCount": 2}}

    result = _check(dev, tmp_path, records, job)

    errors = _errors(result)
    assert any(
        ':3: media: messages[0].content[1] must be {"text": "..."}: distillation takes text only' in e for e in errors
    )
    assert any("DISTILLATION on Amazon Nova Micro takes no hyperparameters" in e for e in errors)
    assert not any(":2:" in e for e in errors)


def test_llama_students_take_single_turn_records_only():
    catalog = load_catalog()
    assert catalog.model("meta.llama3-1-8b-instruct-v1:0:128k").methods["DISTILLATION"].single_turn
    assert catalog.teacher_problem("meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-8b-instruct-v1:0:128k") is None
    # AWS: "Distillation is not currently available for Anthropic models": no Anthropic teacher.
    assert not [t for t in catalog.teachers if t.startswith("anthropic.")]


def test_method_keys_belong_to_their_method(dev, tmp_path):
    job = {"baseModel": "amazon.nova-micro-v1:0:128k", "grader": "exact-match", "teacherModel": "amazon.nova-pro-v1:0"}

    result = _check(dev, tmp_path, [_prompt(n) for n in range(10)], job)

    errors = " | ".join(_errors(result))
    assert "teacherModel is for customizationType DISTILLATION only; this run is 'FINE_TUNING'" in errors
    assert "grader is for customizationType REINFORCEMENT_FINE_TUNING only" in errors


def test_the_distillation_estimate_includes_the_teacher_and_rft_training_is_unknown(dev):
    distilled = check_with_environment(dev, ServingPlan(), DISTILLATION / "train.jsonl", job=DISTILLATION / "job.json")
    reinforced = check_with_environment(dev, ServingPlan(), RFT / "train.jsonl", job=RFT / "job.json")

    cost = distilled.cost.as_dict()
    assert cost["teacherOutputTokens"] == 40 * 1000  # prompts x maxResponseLengthForInference
    assert cost["teacherUsd"] == round(40_000 / 1000 * 0.0032, 2)
    assert reinforced.cost.training_usd is None
    assert any("no reinforcement fine-tuning price" in note for note in reinforced.cost.notes)


ENV = JobEnvironment(
    environment="dev",
    role_arn="arn:aws:iam::123456789012:role/customization",
    output_bucket="out",
    kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1b4e2c4e-1111-4a4a-9b9b-123456789012",
    teachers={"amazon.nova-pro-v1:0": "amazon.nova-pro-v1:0"},
    graders={"exact-match": "arn:aws:lambda:us-east-1:123456789012:function:dev-GraderExactMatch"},
)


def _summary(settings: dict) -> dict:
    return {"settings": settings, "prepared": {"trainUri": "s3://data/prepared/run/train.jsonl"}, "cost": {}}


def test_rft_sends_the_grader_arn_and_typed_hyperparameters():
    bedrock = CapturingBedrock()
    settings = {
        **RFT_JOB,
        "grader": "exact-match",
        "hyperParameters": {"epochCount": "2", "learningRate": "0.00001", "reasoningEffort": "low"},
    }

    start_job(bedrock, RunNames("dev", "tickets", "tickets", "0123456789abcdef"), _summary(settings), ENV)

    (request,) = bedrock.requests
    assert "hyperParameters" not in request
    assert request["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert request["customizationConfig"] == {
        "rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": ENV.graders["exact-match"]}},
            "hyperParameters": {"epochCount": 2, "learningRate": 0.00001, "reasoningEffort": "low"},
        }
    }


def test_distillation_sends_the_teacher_and_no_hyperparameters():
    request = method_request({**DISTILLATION_JOB, "hyperParameters": {}, "maxResponseLengthForInference": 1000}, ENV)

    assert request == {
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                    "maxResponseLengthForInference": 1000,
                }
            }
        }
    }


def test_a_teacher_or_grader_the_environment_lacks_is_refused_before_bedrock():
    with pytest.raises(Exception, match="not one of this environment's teachers"):
        method_request({**DISTILLATION_JOB, "teacherModel": "amazon.nova-premier-v1:0"}, ENV)
    with pytest.raises(Exception, match="not deployed in this environment"):
        method_request({**RFT_JOB, "grader": "regex", "hyperParameters": {}}, ENV)
