"""The base of the gateway's own checkov checks: a check is its POLICY and a rule listing what is wrong.

A check file declares POLICY, a literal the gate reads without importing checkov (id,
severity, reason) that also names checkov's category and the types the rule reads, and
decorates its rule with `@gateway_check(POLICY)`. A rule returns one line per problem it
finds in a resource: none is a pass. The verdict, its details and checkov's four
constructor arguments are written here once.
"""

from __future__ import annotations

from collections.abc import Callable

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.data.base_check import BaseDataCheck
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from llmgw_common import is_expression, json_document, value

Rule = Callable[[dict], list[str]]


class NotEvaluable(Exception):
    """Nothing literal to judge here (a plan's value known only after apply): UNKNOWN, not a pass.

    The stack scan, or another check, covers what the rule could not read.
    """


class _RuleCheck:
    """What a resource check and a data check share: checkov's arguments from POLICY, and the verdict."""

    details: list[str]

    def __init__(self, policy: dict, rule: Rule, **supported: list[str]) -> None:
        self.rule = rule
        categories = [CheckCategories[policy["category"]]]
        super().__init__(name=policy["reason"], id=policy["id"], categories=categories, **supported)

    def verdict(self, conf: dict) -> CheckResult:
        try:
            problems = self.rule(conf)
        except NotEvaluable:
            return CheckResult.UNKNOWN
        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


class GatewayCheck(_RuleCheck, BaseResourceCheck):
    def scan_resource_conf(self, conf: dict) -> CheckResult:
        return self.verdict(conf)


class GatewayDataCheck(_RuleCheck, BaseDataCheck):
    def scan_data_conf(self, conf: dict) -> CheckResult:
        return self.verdict(conf)


def gateway_check(policy: dict, *, data: bool = False) -> Callable[[Rule], Rule]:
    """Register `rule` with checkov as POLICY's check; returns the rule.

    It reads the resource types POLICY["resources"], or with `data=True` the data sources POLICY["data"].
    """

    def register(rule: Rule) -> Rule:
        if data:
            GatewayDataCheck(policy, rule, supported_data=list(policy["data"]))
        else:
            GatewayCheck(policy, rule, supported_resources=list(policy["resources"]))
        return rule

    return register


def over_containers(rule: Callable[[dict], list[str]]) -> Rule:
    """A rule applied to each container of an ECS task definition (a JSON string YAML cannot read).

    A whole `${jsonencode(...)}` in the stack is not literal, so it cannot be verified, so it
    fails; in a plan, a value known only after apply shows as a bare reference: NotEvaluable.
    """

    def over_task_definition(conf: dict) -> list[str]:
        raw = value(conf, "container_definitions")
        definitions = json_document(raw)
        if isinstance(definitions, list):
            return [problem for c in definitions if isinstance(c, dict) for problem in rule(c)]
        if is_expression(raw) or not isinstance(raw, str):
            return ["container_definitions is not a literal JSON list; cannot verify it"]
        raise NotEvaluable

    return over_task_definition
