"""The pinned CDK CLI, as users run it: `npx cdk synth -c env=NAME`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.config import cdk_json_context
from tests.conftest import ROOT

pytestmark = pytest.mark.cli

CDK = ROOT / "node_modules" / ".bin" / "cdk"


def _cdk(*args: str, outdir: Path) -> subprocess.CompletedProcess:
    assert CDK.is_file(), "run `make install` first: the pinned CDK CLI is not in node_modules"
    # The venv's Node 24 and Python first, as the Makefile does; no credentials are needed.
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [str(CDK), "synth", "--quiet", "--output", str(outdir), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_unknown_environment_fails_naming_the_valid_ones(tmp_path):
    result = _cdk("-c", "env=nope", outdir=tmp_path)

    assert result.returncode != 0
    assert 'unknown environment "nope"; allowed: dev, prod' in result.stderr


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_environment_synthesizes_with_the_nag_packs(tmp_path, environment):
    result = _cdk("-c", f"env={environment}", outdir=tmp_path)

    assert result.returncode == 0, result.stderr
    templates = sorted(path.name for path in tmp_path.glob("*.template.json"))
    assert templates == [
        f"BedrockCustomization-{environment}-Pipeline.template.json",
        f"BedrockCustomization-{environment}-Storage.template.json",
    ]
    assert (tmp_path / "validation-report.json").is_file(), "the cdk-nag packs did not run"


def test_a_config_error_stops_synth_with_the_key_named(tmp_path):
    result = _cdk("-c", "env=dev", "-c", 'environments={"dev": {"retainData": "no"}}', outdir=tmp_path)

    assert result.returncode != 0
    assert "environments.dev.retainData: got 'no' (str); allowed: a valid boolean" in result.stderr
    assert "environments.dev.storage: required key is missing" in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_a_managed_policy_iam_would_refuse_stops_synth_naming_it(tmp_path):
    environments = cdk_json_context()["environments"]
    environments["dev"]["customization"].update(
        teacherModels=["amazon.nova-pro-v1:0"],
        invocationLogPrefixes=[f"s3://team-bedrock-logs/bedrock/AWSLogs/team-{i:02}/" for i in range(60)],
    )

    result = _cdk("-c", "env=dev", "-c", f"environments={json.dumps(environments)}", outdir=tmp_path)

    assert result.returncode != 0
    assert "error: managed policy BedrockCustomization-dev-Pipeline/CustomizationServiceRole/Policy takes about" in (
        result.stderr
    )
    assert "over IAM's 6,144 for a managed policy" in result.stderr
    assert not (tmp_path / "manifest.json").exists()  # `cdk deploy --app` of what is left fails
