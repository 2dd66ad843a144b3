"""EC2 behaviour moto 5.2.5 lacks, found by the integration run's drift and leftover checks.

- A rule that references a security group loses its description, so
  `aws_vpc_security_group_ingress_rule`/`_egress_rule` plan a change on every run.
- Deleting a NAT gateway keeps its network interface, and deleting a VPC keeps
  its default network ACL: after a full destroy both are still listed, where
  AWS removes them with their owner.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import EC2Backend
from moto.ec2.models.security_groups import SecurityGroupRule

from .patching import Patches, are_put, put

_ORIGINAL: dict[str, Any] = {
    "description": SecurityGroupRule.description,
    "delete_nat_gateway": EC2Backend.delete_nat_gateway,
    "delete_vpc": EC2Backend.delete_vpc,
}


def _description(self: SecurityGroupRule) -> str | None:
    return _ORIGINAL["description"].fget(self) or (self.source_group or {}).get("Description")


description = property(_description)


def delete_nat_gateway(self: EC2Backend, nat_gateway_id: str) -> Any:
    """Release the gateway's interface (and the Elastic IP's association to it), as AWS does."""
    gateway = _ORIGINAL["delete_nat_gateway"](self, nat_gateway_id)
    eni = getattr(gateway, "_eni", None)
    if eni is not None:
        for address in self.addresses:
            if address.eni is eni:
                address.eni = None
                address.association_id = None
        self.enis.pop(eni.id, None)
    return gateway


def delete_vpc(self: EC2Backend, vpc_id: str) -> Any:
    vpc = _ORIGINAL["delete_vpc"](self, vpc_id)
    for acl_id in [acl_id for acl_id, acl in self.network_acls.items() if acl.vpc_id == vpc_id]:
        del self.network_acls[acl_id]
    return vpc


PATCHES: Patches = (
    (SecurityGroupRule, {"description": description}),
    (EC2Backend, {"delete_nat_gateway": delete_nat_gateway, "delete_vpc": delete_vpc}),
)


def install() -> None:
    put(PATCHES)


def installed() -> bool:
    return are_put(PATCHES)
