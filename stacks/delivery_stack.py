"""Keyless deployment from GitHub Actions: the optional `BedrockCustomization-<env>-Delivery` stack.

A workflow job of one GitHub environment exchanges its OIDC token for this role; the role may
do nothing but assume the CDK bootstrap roles of the environment's account and Region, which
`cdk deploy` then uses exactly as it does for a person. So CI holds no access key, and what CI
can change is what the bootstrap roles allow, reviewed once at `cdk bootstrap`.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import DeliveryConfig, EnvironmentConfig

# GitHub's OIDC issuer, and the audience aws-actions/configure-aws-credentials asks for (GitHub
# docs, "Configuring OpenID Connect in Amazon Web Services", checked 2026-11-29).
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# The bootstrap roles `cdk deploy` and `cdk diff` assume (bootstrap template v33 of the pinned
# CLI, 2.1148.1): deploy (change sets), file-publishing (the Lambda code and layer assets) and
# lookup (reads, and `tools preflight` in CI). Not cfn-exec: CloudFormation assumes that one,
# handed over by the deploy role. Not image-publishing: the app has no container image asset.
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "lookup")


def github_subject(delivery: DeliveryConfig) -> str:
    """The `sub` claim of a job that runs in the GitHub environment (GitHub docs: with an
    environment, the subject is repo:OWNER/REPO:environment:NAME, whatever the branch)."""
    return f"repo:{delivery.github_repository}:environment:{delivery.github_environment}"


class DeliveryStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        delivery: DeliveryConfig,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        provider = self._github_provider(delivery)
        self.role = iam.Role(
            self,
            "DeployRole",
            description=(
                f"GitHub Actions deploys {config.name}: jobs of environment {delivery.github_environment} "
                f"in {delivery.github_repository} only"
            ),
            # StringEquals, never StringLike: one repository, one environment, no wildcard.
            assumed_by=iam.OpenIdConnectPrincipal(
                provider,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": github_subject(delivery),
                    }
                },
            ),
            max_session_duration=Duration.hours(1),
        )
        # A customer-managed policy, not an inline one (NIST 800-53 IAMNoInlinePolicy), naming each
        # bootstrap role in full: no wildcard, so not even cfn-exec-role matches.
        self.policy = iam.ManagedPolicy(
            self,
            "DeployPolicy",
            description=f"Assume the CDK bootstrap roles of {config.name}'s account and Region, nothing else",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="AssumeCdkBootstrapRoles",
                    # TagSession: aws-actions/configure-aws-credentials tags the session it chains to by
                    # default (its README, "session tagging"), as the preflight step of deploy.yml does
                    # with the lookup role; the bootstrap roles' trust allows it for the account.
                    actions=["sts:AssumeRole", "sts:TagSession"],
                    resources=self.bootstrap_role_arns(),
                )
            ],
        )
        CfnOutput(
            self,
            "DeployRoleArn",
            value=self.role.role_arn,
            description=f"role-to-assume for the GitHub environment {delivery.github_environment} (AWS_DEPLOY_ROLE_ARN)",
        )

    def bootstrap_role_arns(self) -> list[str]:
        """`cdk-<qualifier>-<kind>-role-<account>-<region>`, with the qualifier the stack is
        synthesized with (`@aws-cdk/core:bootstrapQualifier` in cdk.json, if set)."""
        synthesizer = self.synthesizer
        qualifier = (
            synthesizer.bootstrap_qualifier if isinstance(synthesizer, DefaultStackSynthesizer) else None
        ) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        return [
            self.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=f"cdk-{qualifier}-{kind}-role-{self.account}-{self.region}",
            )
            for kind in BOOTSTRAP_ROLES
        ]

    def _github_provider(self, delivery: DeliveryConfig) -> iam.IOidcProvider:
        if delivery.oidc_provider == "import":
            return iam.OidcProviderNative.from_oidc_provider_arn(
                self,
                "GitHubOidcProvider",
                self.format_arn(
                    service="iam",
                    region="",
                    resource="oidc-provider",
                    resource_name=GITHUB_OIDC_HOST,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                ),
            )
        # No thumbprint: IAM checks GitHub's certificate against its trusted root CAs and ignores
        # thumbprints for GitHub (IAM API reference, UpdateOpenIDConnectProviderThumbprint, checked
        # 2026-11-29). Retained: other environments of the account may `import` it, and deleting it
        # would lock their CI out.
        return iam.OidcProviderNative(
            self,
            "GitHubOidcProvider",
            url=GITHUB_OIDC_URL,
            client_ids=[STS_AUDIENCE],
            removal_policy=RemovalPolicy.RETAIN,
        )
