"""Shared e2e fixtures: the local run's scenario reports (`reports`, each scenario run once per
session and worker, read-only), and the deployed account the command tests type against, over
HTTP (tests/aws_world.py): one per test module (`account`), mended after each test that breaks
it (`deployed`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws_world import AwsOverHttp, DeployedWorld, MotoServer, deployed_world, http_emulator, shell_for
from tools.local_run.runner import run
from tools.local_run.scenarios import BY_NAME


@pytest.fixture(scope="session")
def reports():
    """A scenario's report by name, run on first use (about 3 s each): test_local_run and
    test_sweeps assert on the same runs rather than each running them again."""
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = run(BY_NAME[name])
        return cache[name]

    return get


@pytest.fixture(scope="module")
def account() -> Iterator[DeployedWorld]:
    with MotoServer() as moto, AwsOverHttp(http_emulator(), moto) as aws, shell_for(aws):
        yield deployed_world(aws)
    assert aws.bedrock.failures == [], "the Bedrock front failed on a request"


@pytest.fixture
def deployed(account) -> Iterator[DeployedWorld]:
    """The module's account; what a test breaks (an injected fault, refused uploads) is mended after it."""
    yield account
    account.aws.faults.clear()
    account.aws.s3.refusal = None
