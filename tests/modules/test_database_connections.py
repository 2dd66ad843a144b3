"""gateway/config.yaml's database settings against what each environment deploys (docs/performance.md,
"Database on against off": the sizing rule).

Prisma's `connection_limit` (general_settings.database_connection_pool_limit) is per query engine, and
every uvicorn worker owns one; while LiteLLM refreshes a database credential it starts the new engine
before it retires the old one (litellm/proxy/db/prisma_client.py), so a worker can briefly hold two
pools. During a rolling deployment ECS runs up to deployment_maximum_percent of the tasks. All of it
must stay within half of the smallest instance's max_connections, leaving the other half to the
migration task, the rotation, operators' sessions and the connections RDS reserves for itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENGINES_PER_WORKER = 2  # old + new engine while a credential refresh replaces it
SHARE_OF_MAX_CONNECTIONS = 0.5
# Aurora PostgreSQL Serverless v2 sets max_connections from the memory of the cluster's *maximum*
# capacity (it does not move while the instance scales), capped at 2,000 when the minimum is 0 or
# 0.5 ACU. Documented values (Aurora User Guide, "Maximum connections for Aurora Serverless v2"):
# max 1 ACU -> 189, max 16 ACU (min >= 1) -> 3,360. A maximum between two rows gets the lower row.
MAX_CONNECTIONS_BY_MAX_ACU = {1.0: 189, 16.0: 3360}
CAP_WITH_SMALL_MINIMUM = 2000
# LiteLLM's batch interval: default 10 s; longer amortises each batch transaction over more requests,
# but spend reaches /key/info and the other tasks later, and a task killed without SIGTERM loses one
# interval of spend. A minute keeps both small (docs/performance.md, "Database on against off"); the smoke
# check waits 150 s.
BATCH_WRITE_RANGE_SECONDS = (10, 120)


def general_settings() -> dict:
    return yaml.safe_load((ROOT / "gateway" / "config.yaml").read_text())["general_settings"]


def max_connections(min_acu: float, max_acu: float) -> int:
    rows = [acu for acu in MAX_CONNECTIONS_BY_MAX_ACU if acu <= max_acu]
    if not rows:
        raise AssertionError(
            f"max_acu {max_acu} is below every documented row {sorted(MAX_CONNECTIONS_BY_MAX_ACU)}"
        )
    value = MAX_CONNECTIONS_BY_MAX_ACU[max(rows)]
    return min(value, CAP_WITH_SMALL_MINIMUM) if min_acu <= 0.5 else value


def only(doc: dict, kind: str) -> dict:
    (item,) = doc["resource"][kind].values()
    return item


def serving_workers(doc: dict) -> int:
    """GATEWAY_WORKERS of the serving task (the migrate task serves nothing)."""
    workers = set()
    for task in doc["resource"]["aws_ecs_task_definition"].values():
        if task["family"].endswith("-migrate"):
            continue
        for definition in json.loads(task["container_definitions"]):
            env = {e["name"]: e["value"] for e in definition.get("environment", [])}
            if "GATEWAY_WORKERS" in env:
                workers.add(int(env["GATEWAY_WORKERS"]))
    (value,) = workers
    return value


def peak_connections(doc: dict, pool: int) -> tuple[int, int, str]:
    """(connections the gateways may open at worst, the instance's max_connections, how)."""
    service = only(doc, "aws_ecs_service")
    tasks = (
        only(doc, "aws_appautoscaling_target")["max_capacity"] * service["deployment_maximum_percent"] // 100
    )
    workers = serving_workers(doc)
    scaling = only(doc, "aws_rds_cluster")["serverlessv2_scaling_configuration"]
    limit = max_connections(scaling["min_capacity"], scaling["max_capacity"])
    peak = tasks * workers * pool * ENGINES_PER_WORKER
    how = f"{tasks} tasks x {workers} workers x {pool} x {ENGINES_PER_WORKER} engines = {peak}"
    return peak, limit, how


def test_the_pool_and_batch_interval_are_set_in_general_settings_as_numbers():
    settings = general_settings()
    assert isinstance(settings.get("database_connection_pool_limit"), int)
    assert settings["database_connection_pool_limit"] >= 2  # the batch writer and a key lookup at once
    assert isinstance(settings.get("proxy_batch_write_at"), int)
    low, high = BATCH_WRITE_RANGE_SECONDS
    assert low <= settings["proxy_batch_write_at"] <= high


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_every_gateway_connection_fits_in_half_of_the_databases_max_connections(synthesized, environment):
    peak, limit, how = peak_connections(
        synthesized[environment], general_settings()["database_connection_pool_limit"]
    )
    assert peak <= SHARE_OF_MAX_CONNECTIONS * limit, (
        f"{environment}: {how} > {SHARE_OF_MAX_CONNECTIONS} x {limit}"
    )


def test_the_rule_refuses_a_pool_that_would_exhaust_the_smallest_database(synthesized):
    """LiteLLM's default pool (10) with dev's worst case: 6 tasks x 1 x 10 x 2 = 120 > half of 189."""
    peak, limit, _ = peak_connections(synthesized["dev"], 10)
    assert peak > SHARE_OF_MAX_CONNECTIONS * limit


@pytest.mark.parametrize(
    ("min_acu", "max_acu", "expected"), [(0.5, 2, 189), (0.5, 16, 2000), (1, 16, 3360), (1, 1, 189)]
)
def test_max_connections_follow_the_maximum_capacity_and_the_small_minimum_cap(min_acu, max_acu, expected):
    assert max_connections(min_acu, max_acu) == expected
