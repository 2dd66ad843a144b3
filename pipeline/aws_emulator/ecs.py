"""ECS service settings moto 5.2.5 accepts but forgets, so every plan after an apply showed drift.

CreateService/UpdateService drop `healthCheckGracePeriodSeconds`,
`enableECSManagedTags`, `availabilityZoneRebalancing` and
`enableExecuteCommand`; DescribeServices then reports them unset and the
provider plans to change them back. They are kept on the service object, which
moto's serializer reads by the API's member names.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.responses import EC2ContainerServiceResponse

from .patching import Patches, after, are_put, put

KEPT = (
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "availabilityZoneRebalancing",
    "enableExecuteCommand",
)


def _keep(self: EC2ContainerServiceResponse, result: ActionResult) -> ActionResult:
    service: Any = result.result["service"]  # type: ignore[attr-defined]
    for key in KEPT:
        value = self._get_param(key)
        if value is not None:
            setattr(service, key, value)
    return result


FORGETTING = ("create_service", "update_service")  # the calls that accept KEPT and drop it
PATCHES: Patches = (
    (
        EC2ContainerServiceResponse,
        {n: after(getattr(EC2ContainerServiceResponse, n), _keep) for n in FORGETTING},
    ),
)


def install() -> None:
    put(PATCHES)


def installed() -> bool:
    return are_put(PATCHES)
