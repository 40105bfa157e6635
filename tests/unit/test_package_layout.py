"""One import name for the runtime package, everywhere: the Lambda asset's name.

The asset is the `lambdas/` folder, so a handler can only ever import `customization`. If
stacks, tools or tests imported it under another name (`lambdas.customization`), every
module would load twice and `except JobStillRunning` in one copy would miss the other's.
"""

from __future__ import annotations

import ast
import importlib
import sys

import pytest

from tests.conftest import ROOT

SOURCE_FOLDERS = ("lambdas", "stacks", "tools", "tests", "bench")


def _python_files():
    yield ROOT / "app.py"
    for folder in SOURCE_FOLDERS:
        yield from (ROOT / folder).rglob("*.py")


def _imported_modules(path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_nothing_imports_the_runtime_package_under_another_name():
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _python_files()
        for name in _imported_modules(path)
        if name == "lambdas" or name.startswith("lambdas.")
    ]

    assert offending == []
    assert not (ROOT / "lambdas" / "__init__.py").exists(), "lambdas/ must not be a package"


@pytest.mark.parametrize("handler", sorted((ROOT / "lambdas").glob("*/handler.py")), ids=lambda p: p.parent.name)
def test_each_handler_imports_only_the_runtime_package_and_the_standard_library(handler):
    allowed_top_levels = {"customization", "__future__", *sys.stdlib_module_names}

    foreign = [name for name in _imported_modules(handler) if name.split(".")[0] not in allowed_top_levels]

    assert foreign == []


def test_each_runtime_module_exists_once_whichever_way_it_is_reached():
    from customization import bedrock_errors
    from customization.training import JobStillRunning

    handler = importlib.import_module("watch_job.handler")

    assert handler.settle.__module__ == "customization.job_watch"
    assert sys.modules["customization.job_watch"].poll_job.__module__ == "customization.training"
    assert sys.modules["customization.training"].JobStillRunning is JobStillRunning
    assert importlib.import_module("customization.bedrock_errors") is bedrock_errors
    assert not [name for name in sys.modules if name.startswith("lambdas.")]


def test_the_runtime_package_is_what_the_lambda_asset_holds():
    import customization

    assert customization.__file__ == str(ROOT / "lambdas" / "customization" / "__init__.py")
