"""RDS read-back fidelity moto 5.2.5 lacks, each a source of drift right after an apply.

- Every cluster reports a `ScalingConfigurationInfo` (Serverless v1 settings),
  even a provisioned/Serverless v2 one; the provider then plans to "add" a
  scaling_configuration block on every run. AWS reports it only for
  engine mode `serverless`.
- Performance Insights settings of an instance are accepted and forgotten.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import DBCluster
from moto.rds.responses import RDSResponse

# request parameter -> attribute DescribeDBInstances reports
PERFORMANCE_INSIGHTS = {
    "EnablePerformanceInsights": "PerformanceInsightsEnabled",
    "PerformanceInsightsKMSKeyId": "PerformanceInsightsKMSKeyId",
    "PerformanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
}
DEFAULT_RETENTION_DAYS = 7  # AWS's free tier of Performance Insights

_ORIGINAL: dict[str, Any] = {
    "scaling_configuration_info": DBCluster.scaling_configuration_info,
    "create_db_instance": RDSResponse.create_db_instance,
    "modify_db_instance": RDSResponse.modify_db_instance,
}


def _scaling_configuration_info(self: DBCluster) -> dict[str, Any] | None:
    if self.engine_mode != "serverless":
        return None
    return _ORIGINAL["scaling_configuration_info"].fget(self)


scaling_configuration_info = property(_scaling_configuration_info)


def _keep_performance_insights(self: RDSResponse, result: ActionResult) -> ActionResult:
    instance: Any = result.result["DBInstance"]  # type: ignore[attr-defined]
    for parameter, attribute in PERFORMANCE_INSIGHTS.items():
        if self.params.get(parameter) is not None:
            setattr(instance, attribute, self.params[parameter])
    if getattr(instance, "PerformanceInsightsEnabled", False) and not getattr(
        instance, "PerformanceInsightsRetentionPeriod", None
    ):
        instance.PerformanceInsightsRetentionPeriod = DEFAULT_RETENTION_DAYS
    return result


def create_db_instance(self: RDSResponse) -> ActionResult:
    return _keep_performance_insights(self, _ORIGINAL["create_db_instance"](self))


def modify_db_instance(self: RDSResponse) -> ActionResult:
    return _keep_performance_insights(self, _ORIGINAL["modify_db_instance"](self))


RESPONSE_METHODS = {"create_db_instance": create_db_instance, "modify_db_instance": modify_db_instance}


def install() -> None:
    DBCluster.scaling_configuration_info = scaling_configuration_info  # type: ignore[assignment]
    for name, method in RESPONSE_METHODS.items():
        setattr(RDSResponse, name, method)


def installed() -> bool:
    return DBCluster.scaling_configuration_info is scaling_configuration_info and all(
        getattr(RDSResponse, n) is m for n, m in RESPONSE_METHODS.items()
    )
