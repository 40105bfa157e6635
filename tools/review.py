"""`python -m tools review [--base REF] [--env NAME] [--format markdown|json] [--uncommitted]`: what
a change does to the deployed infrastructure, for code review. Offline, no AWS credentials.

It synthesizes the base revision (a `git archive` copy in a temporary folder; by default the
merge base of HEAD and main) and the working tree (refused when it has uncommitted changes,
unless --uncommitted asks to review them as they are), each
with the app command of its own `cdk.json` as the CDK CLI runs it. Then, per environment and
stack, the CDK toolkit's own diff engine (@aws-cdk/cloudformation-diff, the library behind
`cdk diff`, through tools/review_diff.js) says which resources are added, removed, modified or
replaced and which IAM statements change; tools/review_report.py judges what needs a human:
stateful resources replaced or removed, widening permissions, new cdk-nag acknowledgments.

Exit status: 0 nothing needs a human, 1 something does, 2 a usage error (a base that does not
exist or does not synthesize, uncommitted changes without --uncommitted, no git
repository, ...), printed as one line. The working tree,
the index and the branches are never touched; the temporary folder and the synth processes go
away even when the review is interrupted (Ctrl-C, or SIGTERM from a cancelled CI job).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stacks.config import CONTEXT_KEY as ENVIRONMENTS_KEY
from stacks.config import SELECTOR_KEY

FORMATS = ("markdown", "json")
DEFAULT_BRANCH = "main"
DIFF_SCRIPT = Path(__file__).resolve().with_name("review_diff.js")
SYNTH_TIMEOUT_SECONDS = 900
# What the CDK CLI adds to the context of every synth (as tools/synth.py does, without importing
# the CDK here): path metadata names resources in the report; no version-reporting resource.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": False,
}
WORKING_TREE = "working tree"


class ReviewError(Exception):
    """A usage or input problem, printed as one line with exit status 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        metavar="REF",
        help=f"the revision to compare with (default: the merge base of HEAD and {DEFAULT_BRANCH})",
    )
    parser.add_argument("--env", metavar="NAME", help="review one environment (default: all of them)")
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="markdown (default) or json")
    parser.add_argument(
        "--uncommitted",
        action="store_true",
        help="review the working tree with its uncommitted changes (without it, a dirty working tree is refused)",
    )


def run(args: argparse.Namespace) -> int:
    from tools import review_report

    try:
        with _interrupted_by_signals(), tempfile.TemporaryDirectory(prefix="tools-review-") as scratch:
            review = build_review(
                Path.cwd(), Path(scratch), base=args.base, environment=args.env, uncommitted=args.uncommitted
            )
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(review_report.to_json(review), indent=2))
    else:
        print(review_report.to_markdown(review), end="")
    return 1 if review.findings else 0


@dataclass
class Revision:
    """One side of the review: where its tree is and what it is."""

    label: str  # for people: "abc1234 (merge base of HEAD and main)", "working tree"
    tree: Path
    commit: str | None = None
    uncommitted: list[str] = field(default_factory=list)


def build_review(cwd: Path, scratch: Path, *, base: str | None, environment: str | None, uncommitted: bool = False):
    """The review of the working tree of the repository at `cwd` against `base`.

    A working tree with uncommitted changes is reviewed only when `uncommitted` says so: a
    report of "HEAD" that silently includes edits nobody committed would be reviewed, approved
    and then differ from what is merged."""
    from tools import review_report
    from tools.assembly import CloudAssembly

    repo = _repository(cwd)
    changed = _uncommitted(repo)
    if changed and not uncommitted:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise ReviewError(
            f"the working tree has {len(changed)} uncommitted change(s) ({shown}): commit or stash them "
            "to review HEAD, or pass --uncommitted to review the working tree as it is"
        )
    base_revision = _base_revision(repo, base, scratch / "base")
    head = Revision(
        label=WORKING_TREE,
        tree=repo,
        commit=_git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False) or None,
        uncommitted=changed,
    )
    head_environments = _environments(head.tree)
    if head_environments is None:
        raise ReviewError(f"{repo / 'cdk.json'} not found or not readable: run review from a checkout of a CDK app")
    if environment is not None and environment not in head_environments:
        allowed = ", ".join(head_environments) or "none"
        raise ReviewError(f"--env {environment}: unknown environment; allowed: {allowed}")

    with _Children() as children:
        _extract(repo, base_revision.commit, base_revision.tree, children)
        base_environments = _environments(base_revision.tree)
        # A revision without the environment has none of its stacks: nothing to synthesize.
        base_has_it = environment is None or environment in (base_environments or [])
        # Both at once: a synth of this project is mostly one core's work for several seconds.
        synths = [children.synth(head, scratch / "head.out", environment)]
        if base_has_it:
            synths.insert(0, children.synth(base_revision, scratch / "base.out", environment))
        for synth in synths:
            synth.finish()
        base_assembly = CloudAssembly(scratch / "base.out") if base_has_it else None
        head_assembly = CloudAssembly(scratch / "head.out")
        pairs = review_report.stack_pairs(base_assembly, head_assembly, environment)
        diffs = _diff_templates(pairs, children)
    return review_report.analyze(
        pairs,
        diffs,
        base=base_revision,
        head=head,
        environments=_ordered(head_environments, base_environments or []),
        environment=environment,
        committed_iam_doc=repo / "docs" / "iam.md",
    )


# --- git -------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, check: bool = True, strip: bool = True) -> str:
    # No optional locks: `git status` then leaves even the index's cached file stats alone.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        message = (result.stderr.strip().splitlines() or [f"git {args[0]} failed"])[-1]
        raise ReviewError(f"git {args[0]}: {message}")
    if result.returncode != 0:
        return ""
    return result.stdout.strip() if strip else result.stdout


def _repository(cwd: Path) -> Path:
    top = _git(cwd, "rev-parse", "--show-toplevel", check=False)
    if not top:
        raise ReviewError(f"{cwd} is not inside a git repository: run review from a checkout of the project")
    return Path(top)


def _base_revision(repo: Path, ref: str | None, tree: Path) -> Revision:
    if ref is not None:
        commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if not commit:
            raise ReviewError(f"--base {ref}: no such commit in {repo}")
        return Revision(label=f"{ref} ({commit[:12]})" if ref != commit else commit[:12], tree=tree, commit=commit)
    if not _git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False):
        raise ReviewError("the repository has no commit yet: pass --base REF")
    for branch in (DEFAULT_BRANCH, f"origin/{DEFAULT_BRANCH}"):
        if _git(repo, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}", check=False):
            commit = _git(repo, "merge-base", "HEAD", branch, check=False)
            if not commit:
                raise ReviewError(f"HEAD and {branch} have no common ancestor: pass --base REF")
            return Revision(label=f"{commit[:12]} (merge base of HEAD and {branch})", tree=tree, commit=commit)
    raise ReviewError(f"no branch {DEFAULT_BRANCH} (or origin/{DEFAULT_BRANCH}) to compare with: pass --base REF")


def _uncommitted(repo: Path) -> list[str]:
    """Files whose working-tree state differs from HEAD (what the review includes beyond it)."""
    entries = _git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", check=False, strip=False)
    files, parts = [], iter(entries.split("\0"))
    for entry in parts:
        if len(entry) > 3:
            files.append(entry[3:])
            if entry[0] in "RC":
                next(parts, None)  # a rename's or copy's source path follows
    return sorted(files)


def _extract(repo: Path, commit: str, tree: Path, children: _Children) -> None:
    """The base revision's files, from git's object store: no worktree, no branch, no index touched.

    What `make install` built and git does not hold (the virtual environment, node_modules, the
    SDK layer: the working tree's top-level ignored entries) is linked in, so the base's own
    cdk.json app command runs as it does in a checkout. Only the synth output is left out.
    """
    tree.mkdir(parents=True)
    archive = children.start(
        ["git", "-C", str(repo), "archive", "--format=tar", commit], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(tree, filter="data")
    except tarfile.TarError as error:
        raise ReviewError(f"cannot extract {commit[:12]} with git archive: {error}") from None
    finally:
        archive.stdout.close()
    if archive.wait() != 0:
        raise ReviewError(f"git archive {commit[:12]} failed")
    output = (_cdk_json(tree) or {}).get("output", "cdk.out")
    ignored = _git(repo, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", check=False)
    for entry in ignored.splitlines():
        name = entry.rstrip("/")
        if "/" in name or name in (output, "cdk.out"):
            continue
        if not (tree / name).exists():
            (tree / name).symlink_to(repo / name)


# --- synth -----------------------------------------------------------------------------------


def _cdk_json(tree: Path) -> dict | None:
    try:
        document = json.loads((tree / "cdk.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _environments(tree: Path) -> list[str] | None:
    """The environment names in the tree's cdk.json ([] if it has none), None without a cdk.json."""
    document = _cdk_json(tree)
    if document is None:
        return None
    environments = (document.get("context") or {}).get(ENVIRONMENTS_KEY)
    return list(environments) if isinstance(environments, dict) else []


def _ordered(first: list[str], then: list[str]) -> list[str]:
    return [*first, *(name for name in then if name not in first)]


def _synth_environment(tree: Path, outdir: Path, environment: str | None) -> tuple[str, dict[str, str]]:
    """The tree's cdk.json app command and the environment the CDK CLI would run it with."""
    document = _cdk_json(tree)
    if document is None or not isinstance(document.get("app"), str):
        raise ReviewError('no cdk.json with an "app" command')
    context: dict = {}
    cached = tree / "cdk.context.json"
    if cached.is_file():
        with contextlib.suppress(OSError, json.JSONDecodeError):
            context.update(json.loads(cached.read_text(encoding="utf-8")))
    context.update(document.get("context") or {})
    context.update(CLI_CONTEXT)
    if environment is not None:
        context[SELECTOR_KEY] = environment
    env = {
        key: value
        for key, value in os.environ.items()
        # Both sides see the same account and region, whatever the shell's credentials say.
        if key not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON", "CDK_OUTDIR")
    }
    env.update(
        CDK_OUTDIR=str(outdir),
        CDK_CONTEXT_JSON=json.dumps(context),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=os.pathsep.join([*_import_roots(tree), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return document["app"], env


def _import_roots(tree: Path) -> list[str]:
    """The tree's own package folders, first on the path: an editable install of the working
    tree (`pip install -e .`) would otherwise lend the base its packages that are not at the
    top level (this project's `lambdas/customization`)."""
    roots = ["."]
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        project = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))
        roots = project["tool"]["setuptools"]["packages"]["find"]["where"]
    return [str((tree / root).resolve()) for root in roots]


@dataclass
class _Synth:
    revision: Revision
    process: subprocess.Popen
    outdir: Path
    environment: str | None

    def finish(self) -> None:
        try:
            _, stderr = self.process.communicate(timeout=SYNTH_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise _synth_failure(self.revision, self.environment, f"took over {SYNTH_TIMEOUT_SECONDS} s") from None
        if self.process.returncode != 0:
            # The app's last words: a config error's detail, or a traceback's exception line.
            lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {self.process.returncode}"
            raise _synth_failure(self.revision, self.environment, reason)
        if not (self.outdir / "manifest.json").is_file():
            raise _synth_failure(self.revision, self.environment, "the app wrote no cloud assembly (manifest.json)")


def _synth_failure(revision: Revision, environment: str | None, reason: str) -> ReviewError:
    which = f"the {WORKING_TREE}" if revision.label == WORKING_TREE else f"the base revision {revision.label}"
    selected = f" (-c env={environment})" if environment else ""
    return ReviewError(f"{which} does not synthesize{selected}: {reason}")


# --- the diff engine -------------------------------------------------------------------------


def _node() -> str:
    import shutil

    import stacks.node  # the venv's pinned Node.js first on PATH

    folder = stacks.node.pinned_node_bin()
    node = str(folder / "node") if folder else shutil.which("node")
    if node is None:
        raise ReviewError("Node.js not found: run `make install`")
    return node


def _diff_templates(pairs, children: _Children) -> dict[str, dict]:
    """The engine's result for every stack whose template changed, from one Node.js process."""
    changed = [pair for pair in pairs if pair.template_changed]
    if not changed:
        return {}
    request = {"pairs": [{"key": p.name, "old": p.base_template_file, "new": p.head_template_file} for p in changed]}
    process = children.start(
        [_node(), str(DIFF_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = process.communicate(json.dumps(request).encode())
    if process.returncode != 0:
        text = stderr.decode(errors="replace")
        if "Cannot find module '@aws-cdk/cloudformation-diff'" in text:
            raise ReviewError("the CDK diff engine (@aws-cdk/cloudformation-diff) is not installed: run `make install`")
        lines = [line for line in text.splitlines() if line.strip()]
        raise ReviewError(f"the CDK diff engine failed: {lines[-1] if lines else process.returncode}")
    return json.loads(stdout)


# --- processes and interruptions -------------------------------------------------------------


class _Children:
    """The processes review starts, each in its own session: on any exit, the ones still
    running are killed with everything they started (a synth's Node.js process included)."""

    def __init__(self) -> None:
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> _Children:
        return self

    def __exit__(self, *exc_info) -> None:
        for process in self._processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def start(self, command, **options) -> subprocess.Popen:
        process = subprocess.Popen(command, start_new_session=True, **options)
        self._processes.append(process)
        return process

    def synth(self, revision: Revision, outdir: Path, environment: str | None) -> _Synth:
        """The revision's cdk.json app command, started (shell syntax, as the CDK CLI runs it)."""
        try:
            command, env = _synth_environment(revision.tree, outdir, environment)
        except ReviewError as error:
            raise _synth_failure(revision, environment, str(error)) from None
        process = self.start(
            command, shell=True, cwd=revision.tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        return _Synth(revision, process, outdir, environment)


@contextlib.contextmanager
def _interrupted_by_signals() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) and SIGHUP (a closed terminal) stop the review as Ctrl-C does,
    so that every `finally` and `with` on the way out runs: no folder or process is left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
