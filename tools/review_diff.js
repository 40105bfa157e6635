// The CDK toolkit's own template diff engine (@aws-cdk/cloudformation-diff, the library
// `cdk diff` is built on), for `python -m tools review`: one Node.js start for every stack.
//
// stdin: {"pairs": [{"key": "...", "old": "<template file>" | null, "new": "<template file>" | null}]}
// stdout: {"<key>": {resources, outputs, parameters, otherSections, permissionsBroadened}}
//
// A missing side is an empty template (a stack added or removed). Like `cdk diff` without
// --strict, AWS::CDK::Metadata resources and the bootstrap version check are left out.
// IAM changes are read per changed resource (the engine's own IamChanges on a one-resource
// TemplateDiff), so each statement is attributed to the policy or role that carries it.
'use strict';

const fs = require('fs');
const cfnDiff = require('@aws-cdk/cloudformation-diff');

function load(path) {
  const template = path ? JSON.parse(fs.readFileSync(path, 'utf8')) : {};
  for (const [id, resource] of Object.entries(template.Resources || {})) {
    if (resource.Type === 'AWS::CDK::Metadata') delete template.Resources[id];
  }
  if (template.Parameters) delete template.Parameters.BootstrapVersion;
  if (template.Rules) delete template.Rules.CheckBootstrapVersion;
  for (const section of ['Parameters', 'Rules']) {
    if (template[section] && Object.keys(template[section]).length === 0) delete template[section];
  }
  return template;
}

function statement(s) {
  if (s.serializedIntrinsic) return { unparsed: s.serializedIntrinsic };
  return {
    sid: s.sid ?? null,
    effect: s.effect,
    actions: s.actions.values,
    notActions: s.actions.not,
    resources: s.resources.values,
    notResources: s.resources.not,
    principals: s.principals.values,
    notPrincipals: s.principals.not,
    condition: s.condition ?? null,
    negative: s.isNegativeStatement,
  };
}

function managedPolicy(m) {
  return { identity: m.identityArn, policy: m.managedPolicyArn };
}

function keysChanged(collection) {
  const added = [], removed = [], modified = [];
  collection.forEachDifference((id, change) => {
    if (change.isAddition) added.push(id);
    else if (change.isRemoval) removed.push(id);
    else modified.push(id);
  });
  return { added, removed, modified };
}

function iamOf(logicalId, change) {
  const one = new cfnDiff.TemplateDiff({ resources: new cfnDiff.DifferenceCollection({ [logicalId]: change }) });
  const iam = one.iamChanges;
  if (!iam.hasChanges) return null;
  return {
    added: iam.statements.additions.map(statement),
    removed: iam.statements.removals.map(statement),
    managedPoliciesAdded: iam.managedPolicies.additions.map(managedPolicy),
    managedPoliciesRemoved: iam.managedPolicies.removals.map(managedPolicy),
  };
}

function compare(oldPath, newPath) {
  const diff = cfnDiff.fullDiff(load(oldPath), load(newPath));
  const resources = [];
  diff.resources.forEachDifference((logicalId, change) => {
    const properties = [];
    change.forEachDifference((kind, name, d) => {
      properties.push({ kind, name, changeImpact: d.changeImpact ?? null });
    });
    resources.push({
      logicalId,
      oldType: change.oldResourceType ?? null,
      newType: change.newResourceType ?? null,
      changeImpact: change.changeImpact,
      properties,
      iam: iamOf(logicalId, change),
    });
  });
  const otherSections = ['conditions', 'mappings', 'metadata', 'unknown']
    .filter((section) => diff[section].differenceCount > 0);
  for (const section of ['awsTemplateFormatVersion', 'description', 'transform']) {
    if (diff[section] !== undefined) otherSections.push(section);
  }
  return {
    resources,
    outputs: keysChanged(diff.outputs),
    parameters: keysChanged(diff.parameters),
    otherSections,
    permissionsBroadened: diff.permissionsBroadened,
  };
}

const request = JSON.parse(fs.readFileSync(0, 'utf8'));
const result = {};
for (const pair of request.pairs) result[pair.key] = compare(pair.old, pair.new);
process.stdout.write(JSON.stringify(result) + '\n');
