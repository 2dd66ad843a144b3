"""The base of the gateway's own checkov checks: a check is its POLICY, one category and the types it reads.

checkov's BaseResourceCheck wants the same four arguments from every check; here they are
class attributes, so a check file holds only its declaration and its rule.
"""

from __future__ import annotations

from typing import ClassVar

from checkov.common.models.enums import CheckCategories
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class GatewayCheck(BaseResourceCheck):
    policy: ClassVar[dict[str, str]]  # the check file's POLICY: id, severity, reason (policies/catalogue.py)
    category: ClassVar[CheckCategories]
    resources: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        super().__init__(
            name=self.policy["reason"],
            id=self.policy["id"],
            categories=[self.category],
            supported_resources=list(self.resources),
        )
