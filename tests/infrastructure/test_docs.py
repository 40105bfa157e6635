"""Generated documentation is committed and must match the code."""

from __future__ import annotations

import pytest

from tools.__main__ import main
from tools.docs import IAM_DOC, README, generated_docs


@pytest.fixture(scope="module")
def expected(synthesized):
    return generated_docs(synthesized.assembly, list(synthesized.environments))


@pytest.mark.parametrize("path", [IAM_DOC, README], ids=lambda path: path.name)
def test_generated_docs_are_up_to_date(expected, path):
    assert path.read_text() == expected[path], f"{path.name} is stale: run `make docs` and commit the result"


def test_iam_doc_covers_every_role_of_every_environment(synthesized, expected):
    text = expected[IAM_DOC]
    for environment in synthesized.environments:
        assert f"## Environment `{environment}`" in text
    assert text.count("### `Pipeline/CustomizationServiceRole/Role`") == len(synthesized.environments)
    assert "if ArnEquals `aws:SourceArn` = `arn:aws:bedrock:us-east-1:111122223333:model-customization-job/*`" in text


def test_readme_lists_every_acknowledgment(synthesized, expected):
    readme = expected[README]
    for stack in synthesized.assembly.stacks.values():
        for ack in stack.acknowledgments():
            assert ack.reason.replace("<", "&lt;").replace(">", "&gt;") in readme
    assert "`AwsSolutions-IAM5[Resource::<Storage/DataBucket.Arn>/datasets/*]`" in readme


def test_docs_check_reports_a_stale_file(monkeypatch, tmp_path, capsys):
    stale_doc = tmp_path / "iam.md"
    stale_doc.write_text("# outdated\n")
    monkeypatch.setattr("tools.docs.IAM_DOC", stale_doc)

    assert main(["docs", "--check"]) == 1
    assert "is stale: run `make docs`" in capsys.readouterr().err
