"""Graders: the reward functions of reinforcement fine-tuning, deployed as this environment's
infrastructure (cdk.json `graders`). Each is a function of its own, with its own role and log
group, and the customization role may invoke exactly these functions.

Why an identity grant and no resource-based permission: Bedrock invokes a grader as the job's
service role. AWS's page for reinforcement fine-tuning access ("Access and security for
Amazon Nova models", https://docs.aws.amazon.com/bedrock/latest/userguide/rft-access-security.html,
checked 2026-11-29) asks for `lambda:InvokeFunction` on the reward function in that role's
policy, and documents no resource-based policy for `bedrock.amazonaws.com`. A permission for the
service principal would also let a job of any other role in the account call the grader, which
the role's grant does not; its SourceArn could not narrow it to this environment's jobs either,
since a job's ARN ends in an ID Bedrock assigns, not its name. AWS's own RFT sample grants the
same way (aws-samples/amazon-bedrock-samples, custom-models/bedrock-reinforcement-fine-tuning/
helpers/iam_roles.py: `lambda:InvokeFunction` in the job role, no Lambda permission). Same
account, so the identity policy alone is enough for Lambda.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.capability import Capability
from stacks.constructs.functions import FunctionDefaults, PipelineFunction

# AWS's advice is to raise a grader's timeout from Lambda's 3 seconds, up to 15 minutes
# (reward-functions.html); the built-in graders score a batch in milliseconds, so a minute
# leaves a wide margin without letting a stuck custom grader hold a job for a quarter hour.
GRADER_TIMEOUT = Duration.seconds(60)
CALLER = "the Bedrock reinforcement fine-tuning jobs of this environment, which send one batch per call"


class Graders(Capability):
    """One function per grader of `deployed` (name -> module under lambdas/graders)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployed: Mapping[str, str],
        defaults: FunctionDefaults,
        customization_policy: iam.ManagedPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, PipelineFunction] = {}
        for name, module in deployed.items():
            self.functions[name] = PipelineFunction(
                self,
                _construct_id(name),
                handler_package="graders",
                handler=f"{module}.handler",
                description=f"Reward function {name!r} for reinforcement fine-tuning ({module})",
                defaults=defaults,
                timeout=GRADER_TIMEOUT,
                caller=CALLER,
            )
        if self.functions:
            # Into the role's managed policy: an inline one is what NIST 800-53 IAMNoInlinePolicy refuses.
            customization_policy.add_statements(
                iam.PolicyStatement(
                    sid="InvokeTheGraders",
                    actions=["lambda:InvokeFunction"],
                    resources=[grader.function.function_arn for grader in self.functions.values()],
                )
            )

    def arns(self) -> dict[str, str]:
        """name -> function ARN, what a job's graderConfig.lambdaGrader.lambdaArn takes."""
        return {name: grader.function.function_arn for name, grader in self.functions.items()}


def _construct_id(name: str) -> str:
    # exact-match -> GraderExactMatch: a stable logical ID per name, whatever the order in cdk.json.
    return "Grader" + "".join(part.capitalize() for part in name.split("-"))
