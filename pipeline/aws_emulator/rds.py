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

from .patching import Patches, after, are_put, put

# request parameter -> attribute DescribeDBInstances reports
PERFORMANCE_INSIGHTS = {
    "EnablePerformanceInsights": "PerformanceInsightsEnabled",
    "PerformanceInsightsKMSKeyId": "PerformanceInsightsKMSKeyId",
    "PerformanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
}
DEFAULT_RETENTION_DAYS = 7  # AWS's free tier of Performance Insights

_SCALING_CONFIGURATION_INFO = DBCluster.scaling_configuration_info


def _scaling_configuration_info(self: DBCluster) -> dict[str, Any] | None:
    if self.engine_mode != "serverless":
        return None
    return _SCALING_CONFIGURATION_INFO.fget(self)


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


FORGETTING = ("create_db_instance", "modify_db_instance")  # the calls that drop PERFORMANCE_INSIGHTS
PATCHES: Patches = (
    (DBCluster, {"scaling_configuration_info": scaling_configuration_info}),
    (RDSResponse, {n: after(getattr(RDSResponse, n), _keep_performance_insights) for n in FORGETTING}),
)


def install() -> None:
    put(PATCHES)


def installed() -> bool:
    return are_put(PATCHES)
