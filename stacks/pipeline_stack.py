"""Stateless resources: everything that can be replaced without touching the data."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import EnvironmentConfig
from stacks.constructs.customization_role import CustomizationServiceRole
from stacks.storage_stack import StorageStack


class PipelineStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, storage: StorageStack, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.customization_role = CustomizationServiceRole(
            self,
            "CustomizationServiceRole",
            data_bucket=storage.data_bucket,
            output_bucket=storage.output_bucket,
            key=storage.key,
        )
        CfnOutput(self, "CustomizationRoleArn", value=self.customization_role.role.role_arn)
