"""Every in-process moto extension this project needs, installed in one call."""

from __future__ import annotations

from . import applicationautoscaling, bedrock_guardrails, ec2, ecs, elasticache, rds

MODULES = (applicationautoscaling, bedrock_guardrails, ec2, ecs, elasticache, rds)


def install() -> None:
    """Idempotent: safe to call before every server start."""
    for module in MODULES:
        module.install()


def installed() -> bool:
    return all(module.installed() for module in MODULES)
