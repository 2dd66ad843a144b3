"""EC2 read-back fidelity moto 5.2.5 lacks: the description of a rule that references a security group.

moto keeps a rule's description only for CIDR sources, so
`aws_vpc_security_group_ingress_rule`/`_egress_rule` with
`referenced_security_group_id` lose theirs and plan a change on every run.
"""

from __future__ import annotations

from moto.ec2.models.security_groups import SecurityGroupRule

_ORIGINAL = SecurityGroupRule.description


def _description(self: SecurityGroupRule) -> str | None:
    return _ORIGINAL.fget(self) or (self.source_group or {}).get("Description")


description = property(_description)


def install() -> None:
    SecurityGroupRule.description = description  # type: ignore[assignment]


def installed() -> bool:
    return SecurityGroupRule.description is description
