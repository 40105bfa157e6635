"""What `python -m tools review` reports, and what in it needs a human.

The template diff itself is the CDK toolkit's (tools/review_diff.js); this module reads its
result next to the two cloud assemblies and decides:

- stateful: a bucket, key, table or anything retained (DeletionPolicy or UpdateReplacePolicy
  Retain or Snapshot) that is replaced, may be replaced, removed or orphaned. A logical ID
  that changes for the same construct path is reported as what it is, a replacement;
- widening: an added Allow statement that no removed statement of the same principal covered
  (new actions, wider resources, new principals, conditions dropped or loosened), a removed
  Deny that nothing replaces, a managed policy attached, or a statement it cannot read;
- acknowledgments: cdk-nag acknowledgments added or given a new reason (they are in the
  assembly's metadata, not the templates);

and renders it all as Markdown for a pull-request comment, or JSON.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customization.naming import PROJECT
from tools.assembly import CloudAssembly, StackTemplate

# Resource types that hold data: replacing or deleting one loses it (or strands it).
STATEFUL_TYPES = {
    "AWS::S3::Bucket": "bucket",
    "AWS::KMS::Key": "encryption key",
    "AWS::DynamoDB::Table": "table",
    "AWS::DynamoDB::GlobalTable": "table",
    "AWS::RDS::DBCluster": "database",
    "AWS::RDS::DBInstance": "database",
    "AWS::EFS::FileSystem": "file system",
    "AWS::SecretsManager::Secret": "secret",
    "AWS::Cognito::UserPool": "user pool",
    "AWS::ECR::Repository": "image repository",
    "AWS::Kinesis::Stream": "stream",
    "AWS::Logs::LogGroup": "log group",  # stateful only where retained (see _mark_stateful)
}
RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")
# How the engine's impacts read in the report.
CHANGES = {
    "WILL_CREATE": "added",
    "WILL_DESTROY": "removed",
    "WILL_ORPHAN": "orphaned",
    "WILL_REPLACE": "replaced",
    "MAY_REPLACE": "may be replaced",
    "WILL_UPDATE": "modified",
    "NO_CHANGE": "modified",
    "WILL_IMPORT": "imported",
}
LOSSY = ("replaced", "may be replaced", "removed", "orphaned")
# GitHub refuses a longer comment ("Body is too long (maximum is 65536 characters)", its API error);
# a margin for the characters that take more than one byte.
MAX_MARKDOWN = 60_000
_TOKEN = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")


# --- pairing stacks ------------------------------------------------------------------------


def environment_of(stack_name: str) -> str | None:
    """`dev` for `BedrockCustomization-dev-Pipeline`; None for a stack named otherwise."""
    prefix = f"{PROJECT}-"
    if not stack_name.startswith(prefix) or "-" not in stack_name.removeprefix(prefix):
        return None
    return stack_name.removeprefix(prefix).rsplit("-", 1)[0]


@dataclass
class StackPair:
    name: str
    environment: str | None
    base: StackTemplate | None
    head: StackTemplate | None
    base_assembly: CloudAssembly | None
    head_assembly: CloudAssembly

    @property
    def base_template_file(self) -> str | None:
        return str(self.base_assembly.directory / self.base.properties["templateFile"]) if self.base else None

    @property
    def head_template_file(self) -> str | None:
        return str(self.head_assembly.directory / self.head.properties["templateFile"]) if self.head else None

    @property
    def template_changed(self) -> bool:
        return (self.base.template if self.base else None) != (self.head.template if self.head else None)


def stack_pairs(base: CloudAssembly | None, head: CloudAssembly, environment: str | None) -> list[StackPair]:
    """Each stack of either side, by its artifact ID (the stack name), head's order first."""
    base_stacks = base.stacks if base else {}
    names = [*head.stacks, *(name for name in base_stacks if name not in head.stacks)]
    return [
        StackPair(name, environment_of(name), base_stacks.get(name), head.stacks.get(name), base, head)
        for name in names
        if environment is None or environment_of(name) == environment
    ]


# --- the review ------------------------------------------------------------------------------


@dataclass
class ResourceChange:
    logical_id: str
    path: str
    type: str
    change: str  # a value of CHANGES
    properties: list[str] = field(default_factory=list)  # "BucketName (replacement)"
    previous_logical_id: str | None = None
    stateful: str | None = None  # what it holds, when replacing or removing it loses something
    retained: bool = False


@dataclass
class StatementChange:
    change: str  # added or removed
    effect: str
    principals: list[str]
    actions: list[str]
    resources: list[str]
    conditions: list[str]
    policy: str  # the construct path of the policy, role or resource policy that holds it
    widening: list[str] = field(default_factory=list)  # why it widens; empty when it does not


@dataclass
class AcknowledgmentChange:
    change: str  # added, removed, reason changed
    path: str
    finding: str
    reason: str
    previous_reason: str | None = None


@dataclass
class Finding:
    kind: str  # stateful, permission, acknowledgment
    environment: str | None
    stack: str
    message: str


@dataclass
class StackReview:
    name: str
    environment: str | None
    status: str  # added, removed, changed, unchanged
    resources: list[ResourceChange] = field(default_factory=list)
    statements: list[StatementChange] = field(default_factory=list)
    managed_policies: list[dict] = field(default_factory=list)
    acknowledgments: list[AcknowledgmentChange] = field(default_factory=list)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    parameters: dict[str, list[str]] = field(default_factory=dict)
    other_sections: list[str] = field(default_factory=list)
    permissions_broadened: bool = False  # the engine's own verdict, for comparison


@dataclass
class Review:
    base: Any  # tools.review.Revision
    head: Any
    environments: list[str]
    stacks: list[StackReview]
    findings: list[Finding]
    iam_doc_diff: str
    iam_doc_stale: bool | None  # None when not checked (one environment, or no docs/iam.md)


def analyze(pairs, diffs, *, base, head, environments, environment, committed_iam_doc: Path) -> Review:
    reviewed = [environment] if environment else environments
    stacks = [_stack_review(pair, diffs.get(pair.name)) for pair in pairs]
    findings = [finding for stack in stacks for finding in _findings(stack)]
    base_doc = _iam_doc([p for p in pairs if p.base], "base", reviewed)
    head_doc = _iam_doc([p for p in pairs if p.head], "head", reviewed)
    diff = "".join(
        difflib.unified_diff(
            base_doc.splitlines(keepends=True),
            head_doc.splitlines(keepends=True),
            "docs/iam.md (base)",
            "docs/iam.md (working tree)",
            n=2,
        )
    )
    stale = None
    if environment is None and committed_iam_doc.is_file() and pairs:
        stale = committed_iam_doc.read_text(encoding="utf-8") != head_doc
    return Review(base, head, reviewed, stacks, findings, diff, stale)


def _iam_doc(pairs: list[StackPair], side: str, environments: list[str]) -> str:
    """docs/iam.md as tools/iam_doc.py renders it from this side's assembly."""
    from tools import iam_doc

    if not pairs:
        return ""
    assembly = pairs[0].base_assembly if side == "base" else pairs[0].head_assembly
    present = [name for name in environments if any(p.environment == name for p in pairs)]
    return iam_doc.render(assembly, present, PROJECT)


def _stack_review(pair: StackPair, diff: dict | None) -> StackReview:
    status = "added" if pair.base is None else "removed" if pair.head is None else "changed"
    review = StackReview(pair.name, pair.environment, status)
    if diff is not None:
        review.resources = _resources(pair, diff["resources"])
        review.statements, review.managed_policies = _statements(pair, diff["resources"])
        review.outputs = {k: v for k, v in diff["outputs"].items() if v}
        review.parameters = {k: v for k, v in diff["parameters"].items() if v}
        review.other_sections = diff["otherSections"]
        review.permissions_broadened = diff["permissionsBroadened"]
    review.acknowledgments = _acknowledgments(pair)
    if review.status == "changed" and not (diff and _any_difference(diff)) and not review.acknowledgments:
        review.status = "unchanged"
    return review


def _any_difference(diff: dict) -> bool:
    sections = (diff["outputs"], diff["parameters"])
    return bool(diff["resources"] or diff["otherSections"] or any(v for section in sections for v in section.values()))


# --- resources -------------------------------------------------------------------------------


def _resources(pair: StackPair, changes: list[dict]) -> list[ResourceChange]:
    found = []
    for change in changes:
        logical_id = change["logicalId"]
        old = pair.base.resources.get(logical_id) if pair.base else None
        new = pair.head.resources.get(logical_id) if pair.head else None
        stack = pair.head if new is not None else pair.base
        kind = change["newType"] or change["oldType"]
        if change["oldType"] and change["newType"] and change["oldType"] != change["newType"]:
            kind = f"{change['oldType']} -> {change['newType']}"
        entry = ResourceChange(
            logical_id=logical_id,
            path=stack.construct_path(logical_id),
            type=kind,
            change=CHANGES.get(change["changeImpact"], change["changeImpact"].lower()),
            properties=[_property(p) for p in change["properties"]],
        )
        _mark_stateful(entry, old if old is not None else new)
        found.append(entry)
    return _renames_as_replacements(found)


def _property(change: dict) -> str:
    impact = {"WILL_REPLACE": " (replacement)", "MAY_REPLACE": " (may replace)"}.get(change["changeImpact"] or "", "")
    return f"{change['name']}{impact}"


def _mark_stateful(entry: ResourceChange, resource: dict | None) -> None:
    resource = resource or {}
    policies = (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
    entry.retained = any(policy in RETAINING_POLICIES for policy in policies)
    holds = STATEFUL_TYPES.get(resource.get("Type", ""))
    if holds == "log group" and not entry.retained:
        holds = None  # a log group that is not retained is deleted with its stack anyway
    if holds is None and entry.retained:
        holds = "retained resource"
    entry.stateful = holds


def _renames_as_replacements(entries: list[ResourceChange]) -> list[ResourceChange]:
    """A construct whose logical ID changed is removed and added by the engine: it is one
    resource replaced by a new, empty one. Shown as such, on the new logical ID."""
    removed = {(e.path, e.type): e for e in entries if e.change in ("removed", "orphaned")}
    kept = []
    for entry in entries:
        twin = removed.get((entry.path, entry.type)) if entry.change == "added" else None
        if twin is not None:
            entry.change = "replaced"
            entry.previous_logical_id = twin.logical_id
            entry.properties = [f"logical ID {twin.logical_id} -> {entry.logical_id}"]
            entry.stateful, entry.retained = twin.stateful, twin.retained
            twin.change = "renamed"
        kept.append(entry)
    return [entry for entry in kept if entry.change != "renamed"]


# --- IAM ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key, values)
    negated: tuple[str, ...] = ()  # NotAction, NotResource, NotPrincipal in use
    unparsed: str | None = None

    @classmethod
    def read(cls, raw: dict) -> _Statement:
        if "unparsed" in raw:
            return cls("?", (), (), (), (), unparsed=str(raw["unparsed"]))
        conditions = []
        for operator, tests in sorted((raw.get("condition") or {}).items()):
            for key, value in sorted((tests or {}).items()):
                values = value if isinstance(value, list) else [value]
                conditions.append((operator, key, tuple(sorted(_text(v) for v in values))))
        negated = tuple(
            name
            for name, flag in (
                ("NotAction", raw.get("notActions")),
                ("NotResource", raw.get("notResources")),
                ("NotPrincipal", raw.get("notPrincipals")),
            )
            if flag
        )
        return cls(
            effect=raw["effect"],
            actions=tuple(raw.get("actions") or ()),
            resources=tuple(raw.get("resources") or ()),
            principals=tuple(raw.get("principals") or ()),
            conditions=tuple(conditions),
            negated=negated,
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _uncovered(values, patterns, *, ignore_case: bool = False) -> list[str]:
    return [v for v in values if not any(_glob(p, v, ignore_case=ignore_case) for p in patterns)]


Gap = tuple[str, list[str]]  # ("new actions", ["s3:PutObject"]): what widens, and the values (raw)
# The same gaps, read for a Deny that was replaced by another: what the new one no longer denies.
DENY_LABELS = {
    "new actions": "no longer denied: actions",
    "wider resources": "no longer denied: resources",
    "new principals": "no longer denied for",
    "dropped condition": "the Deny now applies only with",
    "loosened condition, now also": "the Deny no longer applies with",
}


def _gaps(inner: _Statement, outer: _Statement) -> list[Gap]:
    """How `inner` allows (or denies) more than `outer` does; [] when outer covers it."""
    if inner.unparsed or outer.unparsed:
        return [] if inner == outer else [("cannot be read (an intrinsic function), check by hand", [])]
    if inner.negated or outer.negated:
        return [] if inner == outer else [(f"uses {', '.join(inner.negated or outer.negated)}, check by hand", [])]
    gaps = []
    if actions := _uncovered(inner.actions, outer.actions, ignore_case=True):
        gaps.append(("new actions", actions))
    if resources := _uncovered(inner.resources, outer.resources):
        gaps.append(("wider resources", resources))
    outer_principals = [*outer.principals, *(["*"] if "AWS:*" in outer.principals else [])]
    if principals := _uncovered(inner.principals, outer_principals):
        gaps.append(("new principals", principals))
    inner_conditions = {(operator, key): values for operator, key, values in inner.conditions}
    for operator, key, values in outer.conditions:
        now = inner_conditions.get((operator, key))
        if now is None:
            gaps.append(("dropped condition", [f"{operator} {key}"]))
        elif not set(now) <= set(values):
            extra = ", ".join(sorted(set(now) - set(values)))
            gaps.append(("loosened condition, now also", [f"{operator} {key} = {extra}"]))
    return gaps


@dataclass(frozen=True)
class _Source:
    """Where the engine found a statement: the resource (policy, role, resource policy) holding it."""

    logical_id: str
    type: str | None

    def holds_trust(self, statement: _Statement) -> bool:
        """A role's trust policy statement (the engine gives identity statements the role as principal)."""
        return self.type == "AWS::IAM::Role" and f"AWS:${{{self.logical_id}}}" not in statement.principals


def _statements(pair: StackPair, changes: list[dict]) -> tuple[list[StatementChange], list[dict]]:
    added: list[tuple[_Statement, _Source]] = []
    removed: list[tuple[_Statement, _Source]] = []
    managed: list[dict] = []
    for change in changes:
        iam = change.get("iam")
        if not iam:
            continue
        source = _Source(change["logicalId"], change["newType"] or change["oldType"])
        added += [(_Statement.read(s), source) for s in iam["added"]]
        removed += [(_Statement.read(s), source) for s in iam["removed"]]
        for change_kind, attachments in (
            ("added", iam["managedPoliciesAdded"]),
            ("removed", iam["managedPoliciesRemoved"]),
        ):
            stack = pair.head if change_kind == "added" and pair.head else pair.base or pair.head
            assembly = pair.head_assembly if stack is pair.head else pair.base_assembly
            managed += [
                {"change": change_kind, "identity": _readable(m["identity"], assembly, stack), "policy": m["policy"]}
                for m in attachments
            ]
    rows = []
    for statement, source in added:
        gaps: list[Gap] = []
        if statement.effect != "Deny":
            before = [s for s, src in removed if _related(s, src, statement, source)]
            gaps = _least_gaps(statement, before) if before else [_new(statement, source)]
        rows.append(_row(pair, "added", statement, source, gaps))
    for statement, source in removed:
        gaps = []
        if statement.effect == "Deny":
            after = [s for s, src in added if _related(statement, source, s, src)]
            if after:
                gaps = [(DENY_LABELS.get(label, label), values) for label, values in _least_gaps(statement, after)]
            else:
                gaps = [_what(statement, "Deny removed:")]
        rows.append(_row(pair, "removed", statement, source, gaps))
    for attachment in managed:
        if attachment["change"] == "added":
            attachment["widening"] = [f"managed policy {attachment['policy']} attached"]
    return rows, managed


def _new(statement: _Statement, source: _Source) -> Gap:
    """A statement with nothing before it to compare with: what it allows, in one line."""
    if source.holds_trust(statement):
        return (f"may assume the role ({', '.join(statement.actions)})", _conditions(statement))
    return _what(statement, "new statement")


def _what(statement: _Statement, label: str) -> Gap:
    return (f"{label} {', '.join(statement.actions)} on", [*statement.resources, *_conditions(statement)])


def _conditions(statement: _Statement) -> list[str]:
    return [f"if {op} {key} = {' or '.join(values)}" for op, key, values in statement.conditions]


def _related(one: _Statement, one_source: _Source, other: _Statement, other_source: _Source) -> bool:
    """Statements to compare: the same effect, in the same policy, or for a common principal (a
    statement moved between policies). A trust statement only with its own role's."""
    if one.effect != other.effect and not (one.unparsed or other.unparsed):
        return False
    if one_source.holds_trust(one) or other_source.holds_trust(other):
        return one_source.logical_id == other_source.logical_id
    return one_source.logical_id == other_source.logical_id or bool(set(one.principals) & set(other.principals))


def _least_gaps(statement: _Statement, candidates: list[_Statement]) -> list[Gap]:
    """The statement's gaps against the candidate that covers most of it (a single statement:
    an action from one and a resource from another do not add up to the same grant)."""
    return min((_gaps(statement, candidate) for candidate in candidates), key=len)


def _row(pair: StackPair, change: str, statement: _Statement, source: _Source, gaps: list[Gap]) -> StatementChange:
    stack = pair.head if change == "added" and pair.head else pair.base or pair.head
    assembly = pair.head_assembly if stack is pair.head else pair.base_assembly

    def show(value: str) -> str:
        return _readable(value, assembly, stack)

    widening = [f"{label} {', '.join(show(v) for v in values)}".rstrip() for label, values in gaps]
    policy = stack.construct_path(source.logical_id)
    if statement.unparsed:
        return StatementChange(change, "?", [], [], [show(statement.unparsed)], [], policy, widening)
    negated = f" ({', '.join(statement.negated)})" if statement.negated else ""
    return StatementChange(
        change=change,
        effect=statement.effect + negated,
        principals=[show(p) for p in statement.principals],
        actions=list(statement.actions),
        resources=[show(r) for r in statement.resources],
        conditions=[f"{op} {key} = {' or '.join(show(v) for v in values)}" for op, key, values in statement.conditions],
        policy=policy,
        widening=widening,
    )


def _readable(value: str, assembly: CloudAssembly | None, stack: StackTemplate) -> str:
    """`Evaluation/EvaluateModel/Role.Arn` for `${EvaluateModelRoleB400D17F.Arn}`; an intrinsic
    the engine left as JSON (Fn::GetStackOutput) as tools/assembly.py names it."""
    if assembly is not None and value.startswith("{"):
        try:
            return assembly.readable(json.loads(value), stack)
        except (json.JSONDecodeError, TypeError, ValueError, KeyError):
            return value

    def name(match: re.Match) -> str:
        logical_id, attribute = match.groups()
        if logical_id not in stack.resources:
            return match.group(0)
        return stack.construct_path(logical_id) + (f".{attribute}" if attribute else "")

    return _TOKEN.sub(name, value)


# --- acknowledgments ---------------------------------------------------------------------------


def _acknowledgments(pair: StackPair) -> list[AcknowledgmentChange]:
    before = {(a.path, a.finding): a.reason for a in (pair.base.acknowledgments() if pair.base else [])}
    after = {(a.path, a.finding): a.reason for a in (pair.head.acknowledgments() if pair.head else [])}
    changes = []
    for (path, finding), reason in after.items():
        if (path, finding) not in before:
            changes.append(AcknowledgmentChange("added", path, finding, reason))
        elif before[(path, finding)] != reason:
            changes.append(AcknowledgmentChange("reason changed", path, finding, reason, before[(path, finding)]))
    for (path, finding), reason in before.items():
        if (path, finding) not in after:
            changes.append(AcknowledgmentChange("removed", path, finding, reason))
    return sorted(changes, key=lambda c: (c.change != "added", c.path, c.finding))


# --- findings ----------------------------------------------------------------------------------


def _findings(stack: StackReview) -> list[Finding]:
    found = []
    where = (stack.environment, stack.name)
    for resource in stack.resources:
        if resource.stateful and resource.change in LOSSY:
            found.append(Finding("stateful", *where, _stateful_message(resource)))
    # One finding per principal and policy, however many of its statements widen.
    widening: dict[tuple[str, str], list[str]] = {}
    for row in stack.statements:
        if row.widening:
            widening.setdefault((", ".join(row.principals) or "-", row.policy), []).extend(row.widening)
    for (who, policy), reasons in widening.items():
        found.append(Finding("permission", *where, f"`{who}` in `{policy}`: {'; '.join(reasons)}"))
    for attachment in stack.managed_policies:
        if attachment.get("widening"):
            found.append(Finding("permission", *where, f"`{attachment['identity']}`: {attachment['widening'][0]}"))
    for ack in stack.acknowledgments:
        if ack.change in ("added", "reason changed"):
            verb = "new acknowledgment" if ack.change == "added" else "new reason for"
            found.append(Finding("acknowledgment", *where, f"{verb} `{ack.finding}` on `{ack.path}`: {ack.reason}"))
    return found


def _stateful_message(resource: ResourceChange) -> str:
    article = "an" if resource.stateful[:1] in "aeiou" else "a"
    what = f"`{resource.path}` ({resource.type}, {article} {resource.stateful})"
    if resource.change == "replaced":
        why = f"; {', '.join(resource.properties)}" if resource.properties else ""
        fate = (
            "the old one stays in the account, no longer managed (retained)"
            if resource.retained
            else "the old one is deleted with what it holds"
        )
        return f"{what} will be REPLACED by a new, empty one{why}: {fate}"
    if resource.change == "may be replaced":
        return f"{what} may be REPLACED ({', '.join(resource.properties)}): check whether the change forces it"
    if resource.change == "orphaned":
        return f"{what} is removed from the stack but retained: it stays in the account, unmanaged"
    return f"{what} will be DELETED with what it holds"


# --- rendering ---------------------------------------------------------------------------------


def to_json(review: Review) -> dict:
    def revision(r) -> dict:
        return {"label": r.label, "commit": r.commit, "uncommittedFiles": list(r.uncommitted)}

    return {
        "base": revision(review.base),
        "head": revision(review.head),
        "environments": review.environments,
        "findings": [vars(f) for f in review.findings],
        "stacks": [
            {
                "name": s.name,
                "environment": s.environment,
                "status": s.status,
                "resources": [_camel(vars(r)) for r in s.resources],
                "iamStatements": [_camel(vars(r)) for r in s.statements],
                "managedPolicies": s.managed_policies,
                "acknowledgments": [_camel(vars(a)) for a in s.acknowledgments],
                "outputs": s.outputs,
                "parameters": s.parameters,
                "otherSections": s.other_sections,
                "engine": {"permissionsBroadened": s.permissions_broadened},
            }
            for s in review.stacks
        ],
        "iamDoc": {"diff": review.iam_doc_diff, "committedFileStale": review.iam_doc_stale},
        "exitCode": 1 if review.findings else 0,
    }


def _camel(values: dict) -> dict:
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): value for key, value in values.items()}


HEADINGS = {
    "stateful": ("CAUTION", "Stateful resources replaced or removed"),
    "permission": ("WARNING", "Permissions that widen"),
    "acknowledgment": ("WARNING", "New cdk-nag acknowledgments"),
}


def to_markdown(review: Review) -> str:
    lines = ["## Infrastructure review", ""]
    head = "the working tree"
    if review.head.commit:
        head += f" (HEAD {review.head.commit[:12]}"
        head += f", {len(review.head.uncommitted)} uncommitted file(s))" if review.head.uncommitted else ")"
    lines.append(
        f"Base {review.base.label} against {head}; environments {', '.join(review.environments) or 'none'}. "
        "Synthesized offline, compared with the CDK toolkit's diff engine."
    )
    lines.append("")
    if review.findings:
        lines.append(f"**{len(review.findings)} finding(s) need a human.**")
        lines.append("")
        for kind, (alert, title) in HEADINGS.items():
            found = [f for f in review.findings if f.kind == kind]
            if not found:
                continue
            lines.append(f"> [!{alert}]")
            lines.append(f"> **{title}**")
            lines.extend(f"> - `{f.environment or '-'}` {f.message.replace(chr(10), ' ')}" for f in found)
            lines.append("")
    else:
        lines.append(
            "**Nothing needs a human**: no stateful resource replaced or removed, no widening permission, "
            "no new cdk-nag acknowledgment."
        )
        lines.append("")
    lines.extend(_summary_table(review))
    for stack in review.stacks:
        if stack.status != "unchanged":
            lines.extend(_stack_section(stack))
    text = "\n".join([*lines, *_iam_doc_section(review, with_diff=True)]).rstrip() + "\n"
    if len(text) > MAX_MARKDOWN:  # the docs diff goes first: the tables above say the same
        text = "\n".join([*lines, *_iam_doc_section(review, with_diff=False)]).rstrip() + "\n"
    if len(text) > MAX_MARKDOWN:
        cut = text[: MAX_MARKDOWN - 200].rsplit("\n", 1)[0]
        text = cut + "\n\n... (cut: longer than a comment may be; run `python -m tools review --format json`)\n"
    return text


def _summary_table(review: Review) -> list[str]:
    lines = [
        "| Environment | Stack | Status | Added | Removed | Modified | Replaced | IAM statements | Acknowledgments |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for stack in review.stacks:
        cells = [
            stack.environment or "-",
            f"`{stack.name}`",
            stack.status,
            _count(stack.resources, "added"),
            _count(stack.resources, "removed", "orphaned"),
            _count(stack.resources, "modified"),
            _count(stack.resources, "replaced", "may be replaced"),
            f"+{_count(stack.statements, 'added')} -{_count(stack.statements, 'removed')}",
            f"+{_count(stack.acknowledgments, 'added')} -{_count(stack.acknowledgments, 'removed')}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _count(entries, *changes: str) -> str:
    return str(sum(1 for entry in entries if entry.change in changes))


def _stack_section(stack: StackReview) -> list[str]:
    lines = [f"### `{stack.name}` ({stack.status})", ""]
    if stack.status == "removed":
        lines += ["The app no longer has this stack: `cdk deploy` leaves it deployed until someone destroys it.", ""]
    if stack.resources:
        lines += ["| Change | Resource | Type | What changes |", "|---|---|---|---|"]
        for r in sorted(stack.resources, key=lambda r: (r.change not in LOSSY, r.change, r.path)):
            change = f"**{r.change.upper()}** ({r.stateful})" if r.stateful and r.change in LOSSY else r.change
            what = ", ".join(r.properties)
            lines.append(f"| {change} | `{r.path}` ({r.logical_id}) | {r.type} | {_cell(what)} |")
        lines.append("")
    for title, values in (("Outputs", stack.outputs), ("Parameters", stack.parameters)):
        if values:
            lines.append(f"{title}: " + "; ".join(f"{k} {', '.join(v)}" for k, v in values.items()))
            lines.append("")
    if stack.other_sections and stack.status == "changed":
        lines += [f"Other template sections changed: {', '.join(stack.other_sections)}", ""]
    if stack.statements or stack.managed_policies:
        lines += ["**IAM statements**", ""]
        lines += ["| | Widens | Principal | Effect | Actions | Resources | Conditions | Policy |"]
        lines += ["|---|---|---|---|---|---|---|---|"]
        for row in sorted(stack.statements, key=lambda r: (not r.widening, r.change, r.policy)):
            cells = [
                "+" if row.change == "added" else "-",
                f"**yes**: {_cell('; '.join(row.widening))}" if row.widening else "",
                _codes(row.principals),
                row.effect,
                _codes(row.actions),
                _codes(row.resources),
                "<br>".join(_cell(c) for c in row.conditions),
                f"`{row.policy}`",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        for m in stack.managed_policies:
            sign = "+" if m["change"] == "added" else "-"
            widens = "**yes**: managed policy attached" if m.get("widening") else ""
            lines.append(f"| {sign} | {widens} | `{m['identity']}` | | managed policy | `{m['policy']}` | | |")
        lines.append("")
    if stack.acknowledgments:
        lines += ["**cdk-nag acknowledgments**", "", "| | Finding | On | Reason |", "|---|---|---|---|"]
        for ack in stack.acknowledgments:
            sign = {"added": "+", "removed": "-"}.get(ack.change, "~")
            reason = _cell(ack.reason)
            if ack.previous_reason is not None:
                reason += f" (was: {_cell(ack.previous_reason)})"
            lines.append(f"| {sign} | `{ack.finding}` | `{ack.path}` | {reason} |")
        lines.append("")
    return lines


def _iam_doc_section(review: Review, *, with_diff: bool) -> list[str]:
    lines = ["### docs/iam.md", ""]
    if review.iam_doc_stale:
        lines += ["The committed docs/iam.md does not match the working tree's synth: run `make docs`.", ""]
    if not review.iam_doc_diff:
        return [*lines, "No change to the generated IAM summary.", ""]
    diff_lines = review.iam_doc_diff.splitlines()
    changed = sum(1 for line in diff_lines if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    if not with_diff:
        return [
            *lines,
            f"{changed} line(s) of the generated IAM summary change (too long to show here: see --format json).",
            "",
        ]
    return [
        *lines,
        f"<details><summary>{changed} line(s) of the generated IAM summary change</summary>",
        "",
        "```diff",
        *diff_lines,
        "```",
        "</details>",
        "",
    ]


def _codes(values: list[str]) -> str:
    return "<br>".join(f"`{_cell(v)}`" for v in values)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")
