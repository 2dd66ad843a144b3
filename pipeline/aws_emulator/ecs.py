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

KEPT = (
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "availabilityZoneRebalancing",
    "enableExecuteCommand",
)

_ORIGINAL = {
    "create_service": EC2ContainerServiceResponse.create_service,
    "update_service": EC2ContainerServiceResponse.update_service,
}


def _keep(self: EC2ContainerServiceResponse, result: ActionResult) -> ActionResult:
    service: Any = result.result["service"]  # type: ignore[attr-defined]
    for key in KEPT:
        value = self._get_param(key)
        if value is not None:
            setattr(service, key, value)
    return result


def create_service(self: EC2ContainerServiceResponse) -> ActionResult:
    return _keep(self, _ORIGINAL["create_service"](self))


def update_service(self: EC2ContainerServiceResponse) -> ActionResult:
    return _keep(self, _ORIGINAL["update_service"](self))


RESPONSE_METHODS = {"create_service": create_service, "update_service": update_service}


def install() -> None:
    for name, method in RESPONSE_METHODS.items():
        setattr(EC2ContainerServiceResponse, name, method)


def installed() -> bool:
    return all(getattr(EC2ContainerServiceResponse, n) is m for n, m in RESPONSE_METHODS.items())
