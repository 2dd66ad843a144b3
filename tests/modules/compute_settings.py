"""The compute section the registry and service tests build from (validated like an environment file's)."""

from __future__ import annotations

from modules.config import ComputeSettings


def settings(**changes) -> ComputeSettings:
    base = dict(
        cpu=1024,
        memory=2048,
        desired_count=2,
        min_count=2,
        max_count=6,
        target_requests_per_task=300,
        target_cpu_percent=60,
    )
    return ComputeSettings(**{**base, **changes})
