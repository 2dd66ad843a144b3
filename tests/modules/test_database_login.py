"""Serving tasks log in to Aurora as the application user with IAM, and as no one else (full synth)."""

from __future__ import annotations

import json
import re

import pytest

from modules.database import APP_USERNAME, MASTER_USERNAME

CONNECT_ARN = re.compile(
    r"^arn:\$\{data\.aws_partition\.[\w]+\.partition\}:rds-db:\$\{data\.aws_region\.[\w]+\.name\}:"
    r"\$\{data\.aws_caller_identity\.[\w]+\.account_id\}:dbuser:"
    r"\$\{aws_rds_cluster\.(?P<cluster>[\w]+)\.cluster_resource_id\}/(?P<user>[\w]+)$"
)


def _task_role_statements(doc: dict) -> list[dict]:
    # The serving tasks' role; the admin task's (`-admin-task`) logs in alike (test_admin_task.py).
    roles = {
        k: r
        for k, r in doc["resource"]["aws_iam_role"].items()
        if r["name"].endswith("-task") and not r["name"].endswith("-admin-task")
    }
    (key,) = roles
    return [
        s
        for p in doc["resource"]["aws_iam_role_policy"].values()
        if p["role"] == f"${{aws_iam_role.{key}.id}}"
        for s in json.loads(p["policy"])["Statement"]
    ]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_rds_db_connect_is_granted_on_exactly_the_application_users_dbuser_arn(synthesized, environment):
    doc = synthesized[environment]
    connects = [s for s in _task_role_statements(doc) if "rds-db" in json.dumps(s["Action"])]

    assert len(connects) == 1 and connects[0]["Action"] == "rds-db:connect"
    match = CONNECT_ARN.match(connects[0]["Resource"])
    assert match, connects[0]["Resource"]
    assert match["user"] == APP_USERNAME != MASTER_USERNAME
    assert match["cluster"] in doc["resource"]["aws_rds_cluster"]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_serving_container_names_that_user_and_turns_iam_login_on_without_a_password(
    synthesized, environment
):
    doc = synthesized[environment]
    (serving,) = [
        t
        for t in doc["resource"]["aws_ecs_task_definition"].values()
        if not t["family"].endswith(("-migrate", "-admin"))
    ]
    (container,) = json.loads(serving["container_definitions"])
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert (env["DATABASE_USERNAME"], env["IAM_TOKEN_DB_AUTH"]) == (APP_USERNAME, "true")
    assert "DATABASE_PASSWORD" not in {s["name"] for s in container["secrets"]}
