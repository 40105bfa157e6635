"""Builds each environment's stacks and registers the compliance checks on an app."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from customization.naming import PROJECT
from stacks.config import (
    CONTEXT_KEY,
    SELECTOR_KEY,
    EnvironmentConfig,
    load_environments,
    select_environments,
    stack_id,
)
from stacks.delivery_stack import DeliveryStack
from stacks.pipeline_stack import PipelineStack
from stacks.storage_stack import StorageStack


@dataclass(frozen=True)
class EnvironmentStacks:
    config: EnvironmentConfig
    storage: StorageStack
    pipeline: PipelineStack
    # Only where cdk.json has a `delivery` key: the role GitHub Actions deploys with.
    delivery: DeliveryStack | None = None


def build_environments(app: App, *, default_env: Environment | None = None) -> list[EnvironmentStacks]:
    """The stacks of every environment in the app's context, or of the one `-c env=` names.

    Raises `ConfigError` before any construct exists when the settings are wrong.
    """
    environments = load_environments(app.node.try_get_context(CONTEXT_KEY))
    selected = select_environments(environments, app.node.try_get_context(SELECTOR_KEY))
    return [build_environment(app, config, default_env=default_env) for config in selected]


def build_environment(
    app: App, config: EnvironmentConfig, *, default_env: Environment | None = None
) -> EnvironmentStacks:
    """The stacks of one environment (Storage, Pipeline, and Delivery when configured), in its
    pinned account and region or the CLI's."""
    env = Environment(account=config.account, region=config.region) if config.pinned else default_env
    storage = StorageStack(
        app,
        stack_id(config.name, "Storage"),
        config=config,
        env=env,
        description=f"Bedrock customization ({config.name}): encryption key and buckets (stateful)",
    )
    pipeline = PipelineStack(
        app,
        stack_id(config.name, "Pipeline"),
        config=config,
        storage=storage,
        env=env,
        description=f"Bedrock customization ({config.name}): customization role and workflow (stateless)",
    )
    delivery = None
    if config.delivery is not None:
        delivery = DeliveryStack(
            app,
            stack_id(config.name, "Delivery"),
            config=config,
            delivery=config.delivery,
            env=env,
            description=f"Bedrock customization ({config.name}): the role GitHub Actions deploys with (OIDC, no keys)",
        )
    for stack in filter(None, (storage, pipeline, delivery)):
        Tags.of(stack).add("project", PROJECT)
        Tags.of(stack).add("environment", config.name)
    return EnvironmentStacks(config=config, storage=storage, pipeline=pipeline, delivery=delivery)


def compliance_packs(app: App) -> list:
    """The cdk-nag packs every environment must pass with no unacknowledged finding."""
    return [AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)]


def add_compliance_checks(app: App) -> None:
    """Make synth fail on any finding of the packs that is not acknowledged in code."""
    Validations.of(app).add_plugins(*compliance_packs(app))
