"""pipeline.summary.redact_plan: the plan JSON artifact carries no value Terraform marks sensitive.

The plans are real: Terraform plans (and applies, for the prior state) a stack of
built-in `terraform_data` resources fed by a sensitive variable, so the JSON has
the value in every place Terraform puts one: planned values, the change's
before/after, the prior state, a sensitive output and the variable itself.
"""

from __future__ import annotations

import json

import pytest

from pipeline.summary import REDACTED, redact_plan, render_summary
from pipeline.terraform import terraform, terraform_env

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-Value-that-must-never-ship-0123456789"
NEXT = "n3xt-Value-that-must-never-ship-9876543210"


def _stack(folder, value: str) -> None:
    folder.mkdir(exist_ok=True)
    body = {
        "variable": {"token": {"type": "string", "sensitive": True}},
        "resource": {
            "terraform_data": {
                "holder": {"input": {"token": "${var.token}", "plain": "visible"}},
                "whole": {"input": "${var.token}"},
            }
        },
        "output": {"token": {"value": "${var.token}", "sensitive": True}, "plain": {"value": "visible"}},
    }
    (folder / "main.tf.json").write_text(json.dumps(body))
    (folder / "terraform.tfvars.json").write_text(json.dumps({"token": value}))


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory) -> str:
    """`terraform show -json` of an update: applied with SECRET, then planned with NEXT."""
    folder = tmp_path_factory.mktemp("redaction") / "stack"
    env = terraform_env()
    _stack(folder, SECRET)
    terraform(["init", "-input=false", "-no-color"], folder, env=env, capture=True)
    terraform(["apply", "-auto-approve", "-input=false", "-no-color"], folder, env=env, capture=True)
    _stack(folder, NEXT)
    terraform(["plan", "-input=false", "-no-color", "-out=next.tfplan"], folder, env=env, capture=True)
    return terraform(["show", "-json", "next.tfplan"], folder, env=env, capture=True).stdout


def test_terraforms_own_plan_json_carries_the_sensitive_values(plan_json):
    """Why redaction is needed at all (and proof the fixture holds what the next test removes)."""
    assert SECRET in plan_json and NEXT in plan_json


def test_the_redacted_plan_json_carries_no_sensitive_value_anywhere(plan_json):
    redacted = json.dumps(redact_plan(json.loads(plan_json)))
    assert SECRET not in redacted and NEXT not in redacted
    assert REDACTED in redacted


def test_redaction_keeps_what_is_not_sensitive_and_the_plans_shape(plan_json):
    plan = json.loads(plan_json)
    redacted = redact_plan(plan)
    (change,) = [rc for rc in redacted["resource_changes"] if rc["address"] == "terraform_data.holder"]

    assert change["change"]["after"]["input"] == {"token": REDACTED, "plain": "visible"}
    assert change["change"]["before"]["input"]["token"] == REDACTED
    assert redacted["planned_values"]["outputs"]["plain"]["value"] == "visible"
    assert [rc["change"]["actions"] for rc in redacted["resource_changes"]] == [
        rc["change"]["actions"] for rc in plan["resource_changes"]
    ]
    assert SECRET in json.dumps(plan)  # the input is left untouched


def test_the_summary_of_a_redacted_plan_counts_the_same_changes(plan_json):
    plan = json.loads(plan_json)
    assert render_summary(redact_plan(plan), environment="dev", policy=None) == render_summary(
        plan, environment="dev", policy=None
    )


def test_a_short_sensitive_value_is_redacted_where_it_is_whole_not_inside_other_text():
    plan = {
        "resource_changes": [
            {
                "address": "x.y",
                "change": {
                    "actions": ["create"],
                    "after": {"user": "admin", "copy": "admin", "note": "administrators only"},
                    "after_sensitive": {"user": True},
                },
            }
        ]
    }
    after = redact_plan(plan)["resource_changes"][0]["change"]["after"]
    assert after == {"user": REDACTED, "copy": REDACTED, "note": "administrators only"}
