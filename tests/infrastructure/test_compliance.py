"""cdk-nag: every pack passes for every environment, and every acknowledgment is one finding."""

from __future__ import annotations

import re

import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from tests.conftest import ENVIRONMENTS
from tools.synth import build_app

PACKS = [AwsSolutionsChecks, ServerlessChecks, NIST80053R5Checks]
# One rule ID, optionally with the single finding detail cdk-nag reports in brackets.
ONE_FINDING = re.compile(
    r"^(AwsSolutions|Serverless|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[[^\[\]]+(\[[^\]]*\])?[^\[\]]*\])?$"
)


@pytest.fixture(scope="module")
def synthesized_per_environment(tmp_path_factory):
    """One app per environment, synthesized without the plugins so each pack runs alone.

    Synthesized first because some acknowledgments can only be computed once cross-stack
    references are resolved (see stacks/nag.py).
    """
    apps = {}
    for environment in ENVIRONMENTS:
        app, _ = build_app(tmp_path_factory.mktemp(environment), environment=environment, nag=False)
        app.synth()
        apps[environment] = app
    return apps


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("pack", PACKS, ids=lambda pack: pack.__name__)
def test_no_unacknowledged_findings(synthesized_per_environment, environment, pack):
    app = synthesized_per_environment[environment]

    report = pack(app).validate_scope(app)

    findings = [
        f"{violation.rule_name} at {[r.construct_path for r in violation.violating_resources]}"
        for violation in report.violations
    ]
    assert findings == []
    assert report.success


def test_the_packs_do_report_a_non_compliant_bucket(tmp_path):
    """Control: the checks above could fail. A bucket without our defaults is flagged."""
    app, environments = build_app(tmp_path, environment="dev", nag=False)
    s3.Bucket(environments[0].storage, "CarelessBucket")
    app.synth()

    report = AwsSolutionsChecks(app).validate_scope(app)

    flagged = {
        violation.rule_name
        for violation in report.violations
        if any("CarelessBucket" in r.construct_path for r in violation.violating_resources)
    }
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= flagged


def test_each_acknowledgment_names_one_finding_on_a_resource_with_a_reason(synthesized):
    acknowledgments = [ack for stack in synthesized.assembly.stacks.values() for ack in stack.acknowledgments()]

    assert acknowledgments, "the app has acknowledgments; if none remain, delete this test's table in the README"
    for ack in acknowledgments:
        assert ONE_FINDING.match(ack.finding), f"{ack.finding} is not a single finding"
        assert ack.path, f"{ack.finding} is acknowledged on the whole stack {ack.stack}"
        assert len(ack.reason) >= 60, f"{ack.finding} on {ack.path}: the reason must let a reviewer verify it"
        assert not re.search(r"\b(todo|tbd|fixme|ignore|n/a)\b", ack.reason, re.IGNORECASE)
