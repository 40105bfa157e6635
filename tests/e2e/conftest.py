"""The deployed account the command tests type against, over HTTP (tests/aws_world.py): one per
test module (`account`), mended after each test that breaks it (`deployed`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws_world import AwsOverHttp, DeployedWorld, MotoServer, deployed_world, http_emulator, shell_for


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
