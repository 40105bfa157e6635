"""Strict request validation (tools/local_run/strict.py) against the real service models.

botocore checks required members, types and some minimums; AWS also checks patterns, maximum
lengths, ranges, enums and sizes. Each case below shows a request botocore lets through and
the strict validator refuses (or accepts, where AWS accepts), with a message that names the
parameter, the value and the constraint. The Java pattern cases were checked against
java.util.regex (JDK 25) when they were written."""

from __future__ import annotations

import re

import boto3
import botocore.config
import botocore.serialize
import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.model import StringShape
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from tools.local_run import strict

BAD_TRAINING_URI = "s3://data-bucket/datasets/Spam Filter (v2)/train.jsonl"
PREPARED_TRAINING_URI = "s3://data-bucket/prepared/Spam-Filter-v2/0123456789abcdef/train.jsonl"
JOB_ARN = "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/spam-filter-v2-0123456789ab"
SERVICES = ["bedrock", "bedrock-runtime", "s3", "stepfunctions", "sns", "sqs", "events", "kms", "iam", "cloudformation"]


def job_request(**changes: object) -> dict:
    """A CreateModelCustomizationJob request that AWS accepts, with `changes` applied."""
    request = {
        "jobName": "spam-filter-v2-0123456789ab",
        "customModelName": "spam-filter-v2-0123456789ab",
        "roleArn": "arn:aws:iam::111122223333:role/customization",
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": PREPARED_TRAINING_URI},
        "outputDataConfig": {"s3Uri": "s3://output-bucket/jobs/spam-filter-v2/"},
        "hyperParameters": {"epochCount": "2"},
        "jobTags": [{"key": "project", "value": "Spam Filter v2"}],
    }
    request.update(changes)
    return request


def botocore_problems(service: str, operation: str, params: dict) -> list[str]:
    """What botocore's own validator reports for the request (empty: botocore would send it)."""
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    return report.generate_report().splitlines() if report.has_errors() else []


def shape_of(service: str, shape_name: str):
    return botocore.session.get_session().get_service_model(service).shape_for(shape_name)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def uninstalled_afterwards():
    """These tests start from botocore's own validation, and leave the session as they found it
    (the suite installs the strict validator for every test: tests/conftest.py)."""
    was_installed = strict.installed()
    strict.uninstall()
    yield
    strict.uninstall()
    if was_installed:
        strict.install()


# --- the gap: what botocore lets through and AWS refuses ---------------------------------------


def test_training_uri_with_spaces_passes_botocore_and_is_refused_by_the_strict_validator() -> None:
    bad = job_request(trainingDataConfig={"s3Uri": BAD_TRAINING_URI})

    assert botocore_problems("bedrock", "CreateModelCustomizationJob", bad) == []
    assert botocore_problems("bedrock", "CreateModelCustomizationJob", job_request()) == []

    assert strict.validate("bedrock", "CreateModelCustomizationJob", job_request()) == []
    (problem,) = strict.validate("bedrock", "CreateModelCustomizationJob", bad)
    assert problem.startswith(
        f"Invalid pattern for parameter trainingDataConfig.s3Uri, value: {BAD_TRAINING_URI}, valid pattern: s3://"
    )
    assert problem.endswith(shape_of("bedrock", "S3Uri").metadata["pattern"])


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("Spam Filter v2", True),
        ("team:ml/owner=ana@example.com", True),
        # `\s` in the TagValue pattern `[a-zA-Z0-9\s._:/=+@-]*` takes a newline: AWS accepts it.
        ("a\nb", True),
        ("données", False),  # no letters beyond ASCII in this pattern
        ("Spam Filter, v2", False),
        ("costs €", False),
    ],
)
def test_tag_values_follow_the_tag_pattern(value: str, accepted: bool) -> None:
    problems = strict.validate(
        "bedrock", "CreateModelCustomizationJob", job_request(jobTags=[{"key": "project", "value": value}])
    )

    assert (
        botocore_problems("bedrock", "CreateModelCustomizationJob", job_request(jobTags=[{"key": "p", "value": value}]))
        == []
    )
    if accepted:
        assert problems == []
    else:
        assert problems == [
            f"Invalid pattern for parameter jobTags[0].value, value: {value}, valid pattern: [a-zA-Z0-9\\s._:/=+@-]*"
        ]


def test_job_name_longer_than_63_characters_is_refused() -> None:
    assert strict.validate("bedrock", "CreateModelCustomizationJob", job_request(jobName="j" * 63)) == []

    too_long = job_request(jobName="j" * 64)

    assert botocore_problems("bedrock", "CreateModelCustomizationJob", too_long) == []
    assert strict.validate("bedrock", "CreateModelCustomizationJob", too_long) == [
        f"Invalid length for parameter jobName, value: {'j' * 64}, length: 64 characters, valid max length: 63"
    ]


def test_a_length_counts_utf16_code_units_as_java_does() -> None:
    # An emoji is two UTF-16 code units: services written in Java count it twice.
    rule = {"Name": "training-file-uploaded", "EventPattern": "{}"}

    assert strict.validate("events", "PutRule", {**rule, "Description": "a" * 300}) == []
    problems = strict.validate("events", "PutRule", {**rule, "Description": "😀" * 300})

    assert problems == [
        f"Invalid length for parameter Description, value: {'😀' * 200}... (300 characters), "
        "length: 600 UTF-16 code units, valid max length: 512"
    ]


def test_custom_model_name_with_a_space_is_refused() -> None:
    problems = strict.validate("bedrock", "CreateModelCustomizationJob", job_request(customModelName="Spam Filter"))

    assert problems == [
        "Invalid pattern for parameter customModelName, value: Spam Filter, valid pattern: ([0-9a-zA-Z][_-]?){1,63}"
    ]


def test_customization_type_outside_the_enum_is_refused() -> None:
    misspelt = job_request(customizationType="FINETUNING")

    assert botocore_problems("bedrock", "CreateModelCustomizationJob", misspelt) == []
    (problem,) = strict.validate("bedrock", "CreateModelCustomizationJob", misspelt)
    assert problem.startswith(
        "Invalid value for parameter customizationType, value: FINETUNING, valid values: FINE_TUNING, "
    )
    assert "CONTINUED_PRE_TRAINING" in problem


def test_botocore_already_checks_numeric_minimums_and_the_strict_validator_adds_maximums() -> None:
    # PositiveInteger has min 1 and no max: botocore refuses 0 itself.
    provisioned = {"modelUnits": 0, "provisionedModelName": "spam-filter-v2", "modelId": "spam-filter-v2"}
    assert botocore_problems("bedrock", "CreateProvisionedModelThroughput", provisioned) == [
        "Invalid value for parameter modelUnits, value: 0, valid min value: 1"
    ]
    assert strict.validate("bedrock", "CreateProvisionedModelThroughput", provisioned) == [
        "Invalid value for parameter modelUnits, value: 0, valid min value: 1"
    ]

    # MaxResults is 1..1000: only the strict validator knows the upper end.
    assert botocore_problems("bedrock", "ListModelCustomizationJobs", {"maxResults": 1001}) == []
    assert strict.validate("bedrock", "ListModelCustomizationJobs", {"maxResults": 1000}) == []
    assert strict.validate("bedrock", "ListModelCustomizationJobs", {"maxResults": 1001}) == [
        "Invalid value for parameter maxResults, value: 1001, valid max value: 1000"
    ]


def test_converse_temperature_above_one_is_refused() -> None:
    def converse(temperature: float) -> dict:
        return {
            "modelId": "amazon.nova-micro-v1:0",
            "messages": [{"role": "user", "content": [{"text": "Is this spam?"}]}],
            "inferenceConfig": {"temperature": temperature},
        }

    assert botocore_problems("bedrock-runtime", "Converse", converse(1.5)) == []
    assert strict.validate("bedrock-runtime", "Converse", converse(1.0)) == []
    assert strict.validate("bedrock-runtime", "Converse", converse(1.5)) == [
        "Invalid value for parameter inferenceConfig.temperature, value: 1.5, valid max value: 1"
    ]


def test_list_map_and_blob_sizes_are_checked() -> None:
    too_many_tags = job_request(jobTags=[{"key": f"k{index}", "value": "v"} for index in range(201)])
    (problem,) = strict.validate("bedrock", "CreateModelCustomizationJob", too_many_tags)
    assert problem.startswith("Invalid length for parameter jobTags, value: [")
    assert problem.endswith("length: 201 entries, valid max length: 200")

    # RequestMetadata is a map of 1..16 entries; botocore checks neither end of a map.
    message = {"modelId": "amazon.nova-micro-v1:0", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    empty_metadata = {**message, "requestMetadata": {}}
    assert botocore_problems("bedrock-runtime", "Converse", empty_metadata) == []
    assert strict.validate("bedrock-runtime", "Converse", empty_metadata) == [
        "Invalid length for parameter requestMetadata, value: 0, valid min length: 1"
    ]
    crowded_metadata = {**message, "requestMetadata": {f"k{index}": "v" for index in range(17)}}
    (problem,) = strict.validate("bedrock-runtime", "Converse", crowded_metadata)
    assert problem.startswith("Invalid length for parameter requestMetadata,")
    assert problem.endswith("length: 17 entries, valid max length: 16")

    # A form of 10..16384 bytes: botocore checks no blob size at all.
    assert botocore_problems("bedrock", "PutUseCaseForModelAccess", {"formData": b"short"}) == []
    assert strict.validate("bedrock", "PutUseCaseForModelAccess", {"formData": b"short"}) == [
        "Invalid length for parameter formData, value: 5, valid min length: 10"
    ]
    (problem,) = strict.validate("bedrock", "PutUseCaseForModelAccess", {"formData": b"x" * 16385})
    assert problem.endswith("length: 16385 bytes, valid max length: 16384")


def test_items_of_a_list_of_strings_are_checked() -> None:
    # botocore descends into the items of a list of scalars only when their shape has a `min`
    # or `required`; SQS's attribute names have only an enum, so botocore checks just their type.
    receive = {
        "QueueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/dead-letters",
        "MessageSystemAttributeNames": ["SentTimestamp", "SentTimeStamp"],
    }
    assert botocore_problems("sqs", "ReceiveMessage", receive) == []
    (problem,) = strict.validate("sqs", "ReceiveMessage", receive)
    assert problem.startswith(
        "Invalid value for parameter MessageSystemAttributeNames[1], value: SentTimeStamp, valid values: All, SenderId, "
    )

    vpc = {"subnetIds": ["subnet-0abc", "subnet_1"], "securityGroupIds": ["sg-0abc"]}
    assert botocore_problems("bedrock", "CreateModelCustomizationJob", job_request(vpcConfig=vpc)) == []
    assert strict.validate("bedrock", "CreateModelCustomizationJob", job_request(vpcConfig=vpc)) == [
        "Invalid pattern for parameter vpcConfig.subnetIds[1], value: subnet_1, valid pattern: [-0-9a-zA-Z]+"
    ]


def test_botocore_problems_are_reported_once_alongside_the_strict_ones() -> None:
    request = job_request(jobName=5, customizationType="FINETUNING")
    del request["roleArn"]

    problems = strict.validate("bedrock", "CreateModelCustomizationJob", request)

    assert problems == [
        'Missing required parameter in input: "roleArn"',
        "Invalid type for parameter jobName, value: 5, type: <class 'int'>, valid types: <class 'str'>",
        "Invalid value for parameter customizationType, value: FINETUNING, valid values: "
        "FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION, REINFORCEMENT_FINE_TUNING, IMPORTED",
    ]


def test_limits_that_the_models_do_not_carry_come_from_the_documented_table() -> None:
    # AWS documents a 100-character SNS subject and a 1,024-byte S3 key, but neither is in the
    # botocore models (`subject` has no `max`, `ObjectKey` only `min: 1`): DOCUMENTED_LIMITS
    # holds them, with their sources, so the emulation refuses them as AWS does.
    assert "max" not in shape_of("sns", "subject").metadata
    assert shape_of("s3", "ObjectKey").metadata == {"min": 1}
    assert set(strict.DOCUMENTED_LIMITS) == {"subject", "ObjectKey"}

    long_subject = {"TopicArn": "arn:aws:sns:us-east-1:111122223333:ops", "Message": "done", "Subject": "s" * 101}
    long_key = {"Bucket": "data-bucket", "Key": "k" * 1025, "Body": b"{}"}
    assert strict.validate("sns", "Publish", long_subject) != []
    assert strict.validate("s3", "PutObject", long_key) != []


# --- clients: install(), uninstall(), strict_validation() --------------------------------------


def test_clients_created_while_installed_refuse_before_any_http_call(aws_credentials, uninstalled_afterwards) -> None:
    lenient_before = boto3.client("bedrock")

    with strict.strict_validation():
        strict_inside = boto3.client("bedrock")
    lenient_after = boto3.client("bedrock")

    bad = job_request(trainingDataConfig={"s3Uri": BAD_TRAINING_URI})
    with Stubber(strict_inside) as stubber:
        stubber.add_response("create_model_customization_job", {"jobArn": JOB_ARN})
        with pytest.raises(ParamValidationError) as refused:
            strict_inside.create_model_customization_job(**bad)
        # The stubbed response is still queued: the request never reached the transport.
        with pytest.raises(AssertionError, match="responses remaining"):
            stubber.assert_no_pending_responses()
    assert f"Invalid pattern for parameter trainingDataConfig.s3Uri, value: {BAD_TRAINING_URI}" in str(refused.value)

    for lenient in (lenient_before, lenient_after):
        with Stubber(lenient) as stubber:
            stubber.add_response("create_model_customization_job", {"jobArn": JOB_ARN})
            assert lenient.create_model_customization_job(**bad) == {"jobArn": JOB_ARN}


def test_install_patches_create_serializer_and_uninstall_restores_it(aws_credentials, uninstalled_afterwards) -> None:
    original = botocore.serialize.create_serializer

    strict.install()
    strict.install()  # twice is harmless
    assert botocore.serialize.create_serializer is not original
    client = boto3.client("bedrock")
    with pytest.raises(ParamValidationError, match="valid max length: 63"):
        client.create_model_customization_job(**job_request(jobName="j" * 64))

    # An outer install() survives an inner block.
    with strict.strict_validation():
        pass
    assert botocore.serialize.create_serializer is not original

    strict.uninstall()
    strict.uninstall()
    assert botocore.serialize.create_serializer is original


def test_a_client_without_parameter_validation_stays_without_it(aws_credentials, uninstalled_afterwards) -> None:
    with strict.strict_validation():
        unvalidated = boto3.client("bedrock", config=botocore.config.Config(parameter_validation=False))

    with Stubber(unvalidated) as stubber:
        stubber.add_response("list_model_customization_jobs", {"modelCustomizationJobSummaries": []})
        assert unvalidated.list_model_customization_jobs(maxResults=5000)["modelCustomizationJobSummaries"] == []


# --- Java patterns -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        # the whole value must match, as with Java's Matcher.matches()
        (r"[a-z]+", "abc1", False),
        # Unicode categories and their negations
        (r"\p{L}[\p{L}\p{M}0-9_]*( [\p{L}\p{M}0-9_]+)*", "Données Équipe_2", True),
        (r"\p{L}[\p{L}\p{M}0-9_]*( [\p{L}\p{M}0-9_]+)*", "Données-2", False),
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "Équipe 2\u00a0٣", True),
        (r"\P{C}+", "text\u0000", False),
        (r"\P{C}+", "ünïcode 😀", True),
        # POSIX classes are ASCII-only in Java
        (r"\p{Punct}+", "!-/", True),
        (r"\p{Punct}+", "¡", False),
        (r"\p{Alnum}+", "é", False),
        (r"\p{Print}+", "a\tb", False),
        (r"\p{ASCII}*", "café", False),
        # so are \w, \d and \s
        (r"\w+", "é", False),
        (r"\d+", "٣", False),
        (r"\s", "\u00a0", False),
        # Java's `.` stops at every line terminator, not only \n
        (r"a.b", "a\u2028b", False),
        (r"a.b", "a\rb", False),
        (r"(?s).{0,3}", "a\nb", True),
        # class syntax Python reads differently: a hyphen after \w, intersections, `||`
        (r"[\w-_]+", "a-b_c", True),
        (r"[\p{Print}&&[^|:/]]+", "a b", True),
        (r"[\p{Print}&&[^|:/]]+", "a|b", False),
        (r"[\p{L}||\p{N}]+", "a|1", True),
        # inline flags in the middle hold to the end of the group, across `|`
        (r"a(?i)b|c", "aB", True),
        (r"a(?i)b|c", "C", True),
        (r"a(?i)b|c", "AB", False),
        (r"(?!(?i)AWS_)[a-zA-Z_][a-zA-Z0-9_]*", "aws_key", False),
        # quantified anchors, and a second {n} that Java applies to nothing
        (r"^[-_a-zA-Z0-9]*${2,64}$", "ab", True),
        (r"[a-z]{2}{3}", "ab", True),
        (r"[a-z]{2}{3}", "abcdef", False),
        # a surrogate pair written as two \u escapes is one code point
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF]*", "emoji 😀", True),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF]*", "bell\u0007", False),
        # escapes Python lacks or spells differently
        (r"\Asnap-[0-9a-f]{8}\z", "snap-0123abcd", True),
        (r"[a-z\x{0022}]+", 'a"b', True),
        (r"\Q*.*\E", "abc", False),
        (r"(?<id>[a-z]+)-\k<id>", "ab-cd", False),
        (r"[0-9]+\R?", "12\r\n", True),
        (r"\h+", "\u00a0\t", True),
        (r"[^\p{C}\p{IsWhitespace}]+", "a\u2003b", False),
        # possessive quantifiers give nothing back
        (r"[a-z]*+a", "aaa", False),
    ],
)
def test_java_patterns_match_as_java_matches_them(pattern: str, value: str, matches: bool) -> None:
    compiled = strict.compile_java_pattern(pattern)

    assert compiled is not None
    assert (compiled.fullmatch(value) is not None) is matches


def test_an_untranslatable_pattern_is_recorded_and_checks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strict, "UNCHECKED_PATTERNS", set())  # leave the session's record as it was
    script_pattern = r"\p{IsLatin}+"  # Unicode scripts: unicodedata does not have them
    shape = StringShape("LatinName", {"type": "string", "pattern": script_pattern, "max": 5})

    errors = strict.StrictParamValidator().validate("Ωmega", shape)

    assert errors.messages() == []  # not guessed at...
    assert script_pattern in strict.UNCHECKED_PATTERNS  # ...but on record
    too_long = strict.StrictParamValidator().validate("Ωmega!", shape)
    assert too_long.messages() == [
        "Invalid length for parameter input, value: Ωmega!, length: 6 characters, valid max length: 5"
    ]
    with pytest.raises(strict.UntranslatablePattern):
        strict.translate_java_pattern(script_pattern)


def unchecked_patterns(service: str) -> list[str]:
    model = botocore.session.get_session().get_service_model(service)
    patterns = {model.shape_for(name).metadata.get("pattern") for name in model.shape_names} - {None}
    return sorted(pattern for pattern in patterns if strict.compile_java_pattern(pattern) is None)


@pytest.mark.parametrize("service", SERVICES)
def test_every_pattern_of_the_emulated_services_is_checked(service: str) -> None:
    # Today every pattern of these models translates. A botocore upgrade that brings one that
    # does not lands here: extend the translation, or accept it in UNCHECKED_PATTERNS knowingly.
    unchecked = unchecked_patterns(service)

    assert unchecked == [], f"{service}: {len(unchecked)} patterns unchecked: {unchecked}"


def test_the_bedrock_models_use_java_only_syntax_that_plain_re_rejects() -> None:
    # Why the translation exists: the names in Automated Reasoning policies use \p{L} and \p{M}.
    model = botocore.session.get_session().get_service_model("bedrock")
    patterns = {model.shape_for(name).metadata.get("pattern") for name in model.shape_names} - {None}

    java_only = [pattern for pattern in patterns if not _compiles_in_plain_re(pattern)]

    assert java_only == [r"\p{L}[\p{L}\p{M}0-9_]*( [\p{L}\p{M}0-9_]+)*"]
    assert strict.compile_java_pattern(java_only[0]).fullmatch("Précision métier") is not None


def _compiles_in_plain_re(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


@pytest.mark.parametrize(
    ("service", "operation", "params", "problem"),
    [
        ("s3", "PutObject", {"Bucket": "b", "Key": "é" * 513}, "1,026 bytes of UTF-8, over S3's 1,024"),
        ("sns", "Publish", {"Message": "m", "Subject": "x" * 100}, "100 characters; SNS takes fewer than 100"),
        ("sns", "Publish", {"Message": "m", "Subject": "Run\nfailed"}, "a line break or control character"),
    ],
)
def test_limits_aws_documents_but_the_models_lack_are_enforced_too(service, operation, params, problem):
    assert any(problem in message for message in strict.validate(service, operation, params))


def test_values_within_the_documented_limits_pass():
    assert strict.validate("s3", "PutObject", {"Bucket": "b", "Key": "é" * 512}) == []
    assert (
        strict.validate(
            "sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:111122223333:t", "Message": "m", "Subject": "x" * 99}
        )
        == []
    )
