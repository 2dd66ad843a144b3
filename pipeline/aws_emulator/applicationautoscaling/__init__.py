"""Application Auto Scaling gaps closed for the integration run: tags on scalable targets."""

from __future__ import annotations

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

from .models import BACKEND_METHODS
from .responses import RESPONSE_METHODS


def install() -> None:
    """Put the methods on moto's backend and responses (idempotent)."""
    for name, method in BACKEND_METHODS.items():
        setattr(ApplicationAutoscalingBackend, name, method)
    for name, method in RESPONSE_METHODS.items():
        setattr(ApplicationAutoScalingResponse, name, method)


def installed() -> bool:
    return all(
        getattr(ApplicationAutoscalingBackend, n, None) is m for n, m in BACKEND_METHODS.items()
    ) and all(getattr(ApplicationAutoScalingResponse, n, None) is m for n, m in RESPONSE_METHODS.items())
