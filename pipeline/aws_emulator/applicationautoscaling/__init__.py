"""Application Auto Scaling gaps closed for the integration run: tags on scalable targets."""

from __future__ import annotations

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

from ..patching import Patches, are_put, put
from .models import BACKEND_METHODS
from .responses import RESPONSE_METHODS

PATCHES: Patches = (
    (ApplicationAutoscalingBackend, BACKEND_METHODS),
    (ApplicationAutoScalingResponse, RESPONSE_METHODS),
)


def install() -> None:
    put(PATCHES)


def installed() -> bool:
    return are_put(PATCHES)
