"""`python -m tools review`, as users type it, on crafted base/head pairs in a temporary git repository.

Each repository's cdk.json app is a few lines of Python that write a ready-made cloud assembly
(templates, manifest, acknowledgments in the metadata) from `stacks.json`, in milliseconds and
without the CDK. Everything else is review's own code path: the merge base, the `git archive`
copy, both synths through each revision's cdk.json, the CDK's diff engine in Node.js, the
metadata and docs/iam.md. One test reviews a change to this project itself (marked `cli`).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.__main__ import main

# The cdk.json app of the crafted repositories, run by review as the CDK CLI would run it: the
# context arrives in CDK_CONTEXT_JSON (with `env` when --env is given), the output folder in
# CDK_OUTDIR. `fail` makes it fail like an app whose config no longer validates; `hang` makes it
# wait (for the interruption test) after writing its process ID where REVIEW_TEST_PID says.
APP = """\
import json, os, sys, time
from pathlib import Path

spec = json.loads(Path("stacks.json").read_text())
if "fail" in spec:
    sys.exit(spec["fail"])
if spec.get("hang"):
    # Written then renamed: the test waits for the file and must never read it half written.
    pid_file = Path(os.environ["REVIEW_TEST_PID"])
    pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
    pid_file.with_suffix(".tmp").rename(pid_file)
    time.sleep(60)
selected = json.loads(os.environ["CDK_CONTEXT_JSON"]).get("env")
out = Path(os.environ["CDK_OUTDIR"])
out.mkdir(parents=True, exist_ok=True)
artifacts = {}
for name, stack in spec["stacks"].items():
    if selected and not name.startswith(f"BedrockCustomization-{selected}-"):
        continue
    (out / f"{name}.template.json").write_text(json.dumps(stack["template"]))
    metadata = {
        f"/{name}/{path}": [{"type": "aws:cdk:acknowledged-rules", "data": {f"Annotation::{k}": v}}]
        for path, acks in stack.get("acknowledgments", {}).items()
        for k, v in acks.items()
    }
    artifacts[name] = {
        "type": "aws:cloudformation:stack",
        "environment": "aws://unknown-account/unknown-region",
        "properties": {"templateFile": f"{name}.template.json"},
        "metadata": metadata,
    }
(out / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
"""

STORAGE = "BedrockCustomization-dev-Storage"
PIPELINE = "BedrockCustomization-dev-Pipeline"
REPLICATION_REASON = "Single-region by design: datasets can be uploaded again and models trained again"


def _resource(kind: str, stack: str, path: str, properties: dict | None = None, **attributes) -> dict:
    return {
        "Type": kind,
        "Properties": properties or {},
        **attributes,
        "Metadata": {"aws:cdk:path": f"{stack}/{path}/Resource"},
    }


# The base revision: a bucket and a key (stateful), a retained log group, a function role with
# one managed policy whose statement has a condition, and one acknowledgment.
BASE_STACKS = {
    STORAGE: {
        "template": {
            "Resources": {
                "DataKey17AFBB84": _resource("AWS::KMS::Key", STORAGE, "DataKey", {"EnableKeyRotation": True}),
                "DataBucketE3889A50": _resource(
                    "AWS::S3::Bucket",
                    STORAGE,
                    "DataBucket",
                    {"VersioningConfiguration": {"Status": "Enabled"}},
                    DeletionPolicy="Delete",
                ),
                "DataBucketPolicy3231C704": {
                    "Type": "AWS::S3::BucketPolicy",
                    "Properties": {
                        "Bucket": {"Ref": "DataBucketE3889A50"},
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Deny",
                                    "Principal": {"AWS": "*"},
                                    "Action": "s3:*",
                                    "Resource": [
                                        {"Fn::GetAtt": ["DataBucketE3889A50", "Arn"]},
                                        {"Fn::Join": ["", [{"Fn::GetAtt": ["DataBucketE3889A50", "Arn"]}, "/*"]]},
                                    ],
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            ],
                        },
                    },
                    "Metadata": {"aws:cdk:path": f"{STORAGE}/DataBucket/Policy/Resource"},
                },
            }
        },
        "acknowledgments": {"DataBucket": {"NIST.800.53.R5-S3BucketReplicationEnabled": REPLICATION_REASON}},
    },
    PIPELINE: {
        "template": {
            "Resources": {
                "ValidateRole1A2B3C4D": _resource(
                    "AWS::IAM::Role",
                    PIPELINE,
                    "Validate/Role",
                    {
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "lambda.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                }
                            ],
                        }
                    },
                ),
                "ValidatePolicy5E6F7A8B": _resource(
                    "AWS::IAM::ManagedPolicy",
                    PIPELINE,
                    "Validate/Policy",
                    {
                        "Roles": [{"Ref": "ValidateRole1A2B3C4D"}],
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::data/datasets/*",
                                    "Condition": {"StringEquals": {"aws:ResourceAccount": "111122223333"}},
                                }
                            ],
                        },
                    },
                ),
                "ValidateLogs9C8D7E6F": _resource(
                    "AWS::Logs::LogGroup",
                    PIPELINE,
                    "Validate/Logs",
                    {"RetentionInDays": 30},
                    DeletionPolicy="Retain",
                    UpdateReplacePolicy="Retain",
                ),
            }
        },
    },
}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict:
        return json.loads(self.out)


class Repository:
    """A git repository holding the crafted app, on `main` with the base revision committed."""

    def __init__(self, path: Path, capsys: pytest.CaptureFixture) -> None:
        self.path, self._capsys = path, capsys
        path.mkdir()
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.email", "review@example.com")
        self.git("config", "user.name", "Review Test")
        (path / "app.py").write_text(APP)
        (path / "cdk.json").write_text(
            json.dumps({"app": f"{sys.executable} app.py", "context": {"environments": {"dev": {}}}})
        )
        self.write({"stacks": BASE_STACKS})
        self.commit("base")
        self.git("switch", "--quiet", "--create", "feature")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True).stdout

    def write(self, spec: dict) -> None:
        (self.path / "stacks.json").write_text(json.dumps(spec, indent=1))

    def change(self, edit) -> None:
        """Edit the working tree's stacks.json (not committed)."""
        spec = json.loads((self.path / "stacks.json").read_text())
        edit(spec["stacks"])
        self.write(spec)

    def commit(self, message: str) -> None:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)

    def review(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main(["review", *args])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def repo(tmp_path, capsys, monkeypatch) -> Repository:
    repository = Repository(tmp_path / "repo", capsys)
    monkeypatch.chdir(repository.path)
    return repository


def _statement(stacks: dict) -> dict:
    return stacks[PIPELINE]["template"]["Resources"]["ValidatePolicy5E6F7A8B"]["Properties"]["PolicyDocument"][
        "Statement"
    ][0]


def _findings(result: Result, kind: str) -> list[str]:
    return [finding["message"] for finding in result.report["findings"] if finding["kind"] == kind]


# --- the crafted cases -------------------------------------------------------------------------


def test_nothing_changed_exits_0_and_says_nothing_needs_a_human(repo):
    (repo.path / "README.md").write_text("docs only\n")
    repo.commit("a change that is not infrastructure")

    result = repo.review()

    assert result.code == 0, result.err
    assert "**Nothing needs a human**" in result.out
    assert f"| dev | `{STORAGE}` | unchanged |" in result.out
    assert "No change to the generated IAM summary." in result.out
    assert repo.review("--format", "json").report["findings"] == []


def test_a_renamed_bucket_logical_id_is_a_replacement_that_loses_data(repo):
    def rename(stacks):
        resources = stacks[STORAGE]["template"]["Resources"]
        resources["DataBucketRenamed42"] = resources.pop("DataBucketE3889A50")

    repo.change(rename)
    repo.commit("move the bucket")

    result = repo.review("--format", "json")

    assert result.code == 1
    [stateful] = _findings(result, "stateful")
    assert "`DataBucket` (AWS::S3::Bucket, a bucket) will be REPLACED by a new, empty one" in stateful
    assert "logical ID DataBucketE3889A50 -> DataBucketRenamed42" in stateful
    assert "the old one is deleted with what it holds" in stateful
    [storage] = [s for s in result.report["stacks"] if s["name"] == STORAGE]
    assert [(r["path"], r["change"], r["previousLogicalId"]) for r in storage["resources"]] == [
        ("DataBucket", "replaced", "DataBucketE3889A50")
    ]
    assert "> [!CAUTION]" in repo.review().out


def test_an_action_added_to_a_policy_is_a_widening_permission(repo):
    repo.change(lambda stacks: _statement(stacks).update(Action=["s3:GetObject", "s3:PutObject"]))
    repo.commit("write too")

    result = repo.review("--format", "json")

    assert result.code == 1
    assert _findings(result, "permission") == ["`AWS:Validate/Role` in `Validate/Policy`: new actions s3:PutObject"]
    assert _findings(result, "stateful") == _findings(result, "acknowledgment") == []
    rows = [(r["change"], r["actions"], r["widening"]) for s in result.report["stacks"] for r in s["iamStatements"]]
    assert rows == [
        ("added", ["s3:GetObject", "s3:PutObject"], ["new actions s3:PutObject"]),
        ("removed", ["s3:GetObject"], []),
    ]
    assert "+| Allow | s3:GetObject, s3:PutObject |" in result.report["iamDoc"]["diff"]


def test_a_dropped_condition_is_a_widening_permission(repo):
    repo.change(lambda stacks: _statement(stacks).pop("Condition"))
    repo.commit("any account's bucket")

    result = repo.review()

    assert result.code == 1
    assert "**yes**: dropped condition StringEquals aws:ResourceAccount" in result.out
    assert "> - `dev` `AWS:Validate/Role` in `Validate/Policy`: dropped condition StringEquals aws:ResourceAccount" in (
        result.out
    )


def test_a_narrower_policy_is_listed_but_needs_no_human(repo):
    """Control for the two above: the same statement, changed the other way, is not flagged."""

    def narrow(stacks):
        statement = _statement(stacks)
        statement["Resource"] = "arn:aws:s3:::data/datasets/email/*"
        statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] = "111122223333"

    repo.change(narrow)
    repo.commit("narrower")

    result = repo.review("--format", "json")

    assert result.code == 0, result.report["findings"]
    assert [r["change"] for s in result.report["stacks"] for r in s["iamStatements"]] == ["added", "removed"]


def test_a_removed_deny_is_a_widening_permission(repo):
    def allow_plain_http(stacks):
        policy = stacks[STORAGE]["template"]["Resources"]["DataBucketPolicy3231C704"]["Properties"]
        policy["PolicyDocument"]["Statement"] = [
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": "*",
            }
        ]

    repo.change(allow_plain_http)
    repo.commit("no TLS")

    result = repo.review("--format", "json")

    assert result.code == 1
    assert _findings(result, "permission") == [
        # The engine reads a bucket policy's "*" as the bucket it is attached to.
        "`Service:logging.s3.amazonaws.com` in `DataBucket/Policy`: new statement s3:PutObject on DataBucket",
        "`AWS:*` in `DataBucket/Policy`: Deny removed: s3:* on DataBucket.Arn, DataBucket.Arn/*, "
        "if Bool aws:SecureTransport = false",
    ]


def test_a_new_acknowledgment_needs_a_human_with_its_reason(repo):
    reason = "Reads the datasets prefix only; the bucket holds nothing else this function may see"
    finding = "AwsSolutions-IAM5[Resource::arn:aws:s3:::data/datasets/*]"
    repo.change(lambda stacks: stacks[PIPELINE].update(acknowledgments={"Validate/Policy": {finding: reason}}))
    repo.commit("acknowledge")

    result = repo.review()

    assert result.code == 1
    assert f"> - `dev` new acknowledgment `{finding}` on `Validate/Policy`: {reason}" in result.out
    assert f"| + | `{finding}` | `Validate/Policy` | {reason} |" in result.out
    assert "**Permissions that widen**" not in result.out


def test_a_retained_resource_removed_from_the_stack_is_flagged_as_orphaned(repo):
    repo.change(lambda stacks: stacks[PIPELINE]["template"]["Resources"].pop("ValidateLogs9C8D7E6F"))
    repo.commit("drop the log group")

    result = repo.review("--format", "json")

    assert result.code == 1
    assert _findings(result, "stateful") == [
        "`Validate/Logs` (AWS::Logs::LogGroup, a log group) is removed from the stack but retained: "
        "it stays in the account, unmanaged"
    ]


# --- the working tree, the branches, interruptions -----------------------------------------------


def test_uncommitted_changes_are_reviewed_and_left_exactly_as_they_were(repo):
    repo.change(lambda stacks: _statement(stacks).update(Action="s3:*"))
    (repo.path / "notes.txt").write_text("untracked\n")
    before = (repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD"), repo.git("branch", "--list"))

    refused = repo.review()
    result = repo.review("--uncommitted")

    assert refused.code == 2 and refused.out == ""
    assert refused.err.strip().splitlines() == [
        "error: the working tree has 2 uncommitted change(s) (notes.txt, stacks.json): commit or stash them "
        "to review HEAD, or pass --uncommitted to review the working tree as it is"
    ]
    assert result.code == 1
    assert "(HEAD " in result.out and "2 uncommitted file(s))" in result.out
    assert "new actions s3:*" in result.out
    assert (repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD"), repo.git("branch", "--list")) == before
    assert repo.git("worktree", "list").count("\n") == 1
    assert repo.git("stash", "list") == ""


def test_one_environment_and_a_new_one(repo):
    """--env NAME synthesizes that environment only; one the base does not have is all new."""
    cdk_json = json.loads((repo.path / "cdk.json").read_text())
    cdk_json["context"]["environments"]["staging"] = {}
    (repo.path / "cdk.json").write_text(json.dumps(cdk_json))
    repo.change(
        lambda stacks: stacks.update(
            {name.replace("-dev-", "-staging-"): copy.deepcopy(stack) for name, stack in stacks.items()}
        )
    )

    result = repo.review("--env", "staging", "--format", "json", "--uncommitted")

    assert [(s["name"], s["status"]) for s in result.report["stacks"]] == [
        ("BedrockCustomization-staging-Storage", "added"),
        ("BedrockCustomization-staging-Pipeline", "added"),
    ]
    assert result.report["environments"] == ["staging"]
    assert result.code == 1  # a new role and policy, and a new acknowledgment


def test_a_review_stopped_by_sigterm_leaves_no_folder_and_no_process(repo, tmp_path):
    repo.write({"stacks": BASE_STACKS, "hang": True})
    scratch, pid_file = tmp_path / "scratch", tmp_path / "app.pid"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "REVIEW_TEST_PID": str(pid_file)}
    review = subprocess.Popen(
        [sys.executable, "-m", "tools", "review", "--base", "main", "--uncommitted"],
        cwd=repo.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not pid_file.is_file() and time.monotonic() < deadline and review.poll() is None:
        time.sleep(0.05)
    assert pid_file.is_file(), review.communicate()
    assert any(scratch.iterdir()), "the review's temporary folder should exist while it runs"

    review.send_signal(signal.SIGTERM)
    _, err = review.communicate(timeout=20)

    assert review.returncode == 130
    assert err.strip() == "interrupted"
    assert list(scratch.iterdir()) == []
    assert not _alive(int(pid_file.read_text()))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


# --- usage errors: one line, exit 2 --------------------------------------------------------------


def test_a_base_that_does_not_exist(repo):
    result = repo.review("--base", "no-such-branch")

    assert result.code == 2
    assert result.out == ""
    assert result.err == f"error: --base no-such-branch: no such commit in {repo.path}\n"


def test_a_base_that_does_not_synthesize(repo):
    repo.git("switch", "--quiet", "main")
    repo.write({"fail": "error: Invalid cdk.json context:\n  environments.dev.polling.firstPollMinutes: unknown key"})
    repo.commit("an older config schema")
    repo.git("switch", "--quiet", "feature")

    result = repo.review("--base", "main")

    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith("error: the base revision main (")
    assert result.err.endswith(") does not synthesize: environments.dev.polling.firstPollMinutes: unknown key\n")


def test_outside_a_git_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    code = main(["review"])

    assert code == 2
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path} is not inside a git repository: run review from a checkout of the project\n"
    )


def test_an_unknown_environment(repo):
    result = repo.review("--env", "nope")

    assert (result.code, result.out) == (2, "")
    assert result.err == "error: --env nope: unknown environment; allowed: dev\n"


def test_the_synth_context_is_the_one_the_cdk_cli_and_the_tools_use():
    from tools.review import CLI_CONTEXT
    from tools.synth import CLI_CONTEXT as SYNTH_CLI_CONTEXT

    assert CLI_CONTEXT == SYNTH_CLI_CONTEXT


# --- this project -------------------------------------------------------------------------------


@pytest.mark.cli
def test_review_of_a_change_to_this_project(tmp_path, monkeypatch, capsys):
    """The real app on both sides (the base from git archive, with the checkout's .venv,
    node_modules and SDK layer linked in): one more base model for dev widens Bedrock's IAM."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    for name in (".venv", "node_modules", ".build"):
        (clone / name).symlink_to(ROOT / name)
    (clone / ".git" / "info" / "exclude").write_text(".venv\nnode_modules\n.build\n")
    cdk_json = json.loads((clone / "cdk.json").read_text())
    dev = cdk_json["context"]["environments"]["dev"]
    dev["customization"]["otherBaseModels"] = [
        *dev["customization"].get("otherBaseModels", []),
        "amazon.nova-lite-v1:0:300k",
    ]
    (clone / "cdk.json").write_text(json.dumps(cdk_json, indent=2) + "\n")
    monkeypatch.chdir(clone)

    code = main(["review", "--base", "HEAD", "--env", "dev", "--format", "json", "--uncommitted"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["head"]["uncommittedFiles"] == ["cdk.json"]
    assert [(s["name"], s["status"]) for s in report["stacks"]] == [
        ("BedrockCustomization-dev-Storage", "unchanged"),
        ("BedrockCustomization-dev-Pipeline", "changed"),
    ]
    widening = [f["message"] for f in report["findings"] if f["kind"] == "permission"]
    assert widening and all("amazon.nova-lite-v1:0" in message for message in widening), widening
    assert {f["kind"] for f in report["findings"]} == {"permission"}
    assert "amazon.nova-lite-v1:0" in report["iamDoc"]["diff"]
