"""pipeline.summary over real plans made by tests/pipeline/fixtures/make_plans.py."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.summary import GITHUB_COMMENT_LIMIT, PolicyResult, comment_length, digest, render_summary

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> tuple[dict, str]:
    plain, packed = FIXTURES / f"{name}.plan.json", FIXTURES / f"{name}.plan.json.gz"
    if not plain.exists() and not packed.exists():
        pytest.skip(f"fixture {name} not generated (tests/pipeline/fixtures/make_plans.py)")
    data = json.loads(plain.read_text() if plain.exists() else gzip.decompress(packed.read_bytes()))
    return data, (FIXTURES / f"{name}.plan.txt").read_text()


def test_actions_are_counted_per_kind_with_replacements_apart_from_adds_and_destroys():
    counts = digest(load("mixed")[0]).counts
    assert (counts["add"], counts["change"], counts["replace"], counts["destroy"]) == (2, 1, 1, 1)


def test_destroys_and_replacements_are_called_out_before_the_table():
    plan, _ = load("mixed")
    md = render_summary(plan, environment="dev", policy=None)
    caution = md.index("[!CAUTION]")
    assert caution < md.index("| resource type |")
    assert md.index("**destroy** `terraform_data.retired`") > caution
    assert md.index("**replace** `terraform_data.rotated`") > caution


def test_a_replacement_names_the_attribute_that_forces_it():
    md = render_summary(load("mixed")[0], environment="dev", policy=None)
    assert "`terraform_data.rotated` (forced by `triggers_replace`)" in md


def test_per_type_table_has_one_row_per_resource_type():
    md = render_summary(load("mixed")[0], environment="dev", policy=None)
    assert "| `terraform_data` | 2 | 1 | 1 | 1 |" in md


def test_unchanged_resources_are_not_listed():
    md = render_summary(load("mixed")[0], environment="dev", policy=None)
    assert "terraform_data.keep" not in md


def test_output_changes_are_reported():
    assert "Outputs changing: `version`" in render_summary(load("mixed")[0], environment="dev", policy=None)


def test_a_plan_without_changes_says_so_and_warns_of_nothing():
    md = render_summary(load("nochange")[0], environment="prod", policy=None)
    assert "**No changes.**" in md
    assert "CAUTION" not in md
    assert "| resource type |" not in md


def test_a_create_only_plan_has_no_warning():
    md = render_summary(load("create")[0], environment="dev", policy=None)
    assert "**Plan:** 6 to add" in md
    assert "CAUTION" not in md


def test_environment_is_in_the_heading():
    assert render_summary(load("create")[0], environment="staging", policy=None).startswith(
        "### Terraform plan: `staging`"
    )


def test_passed_policy_is_shown_with_the_report_location():
    policy = PolicyResult(True, report="reports/policy")
    md = render_summary(load("create")[0], environment="dev", policy=policy)
    assert "**Policy gate:** ✅ passed. Report: `reports/policy`." in md


def test_failed_policy_lists_each_finding():
    policy = PolicyResult(False, failures=("CKV_AWS_1 on aws_s3_bucket.a", "CKV_AWS_2 on aws_lb.b"))
    md = render_summary(load("create")[0], environment="dev", policy=policy)
    assert "❌ failed (2 finding(s))" in md
    assert "- CKV_AWS_1 on aws_s3_bucket.a\n- CKV_AWS_2 on aws_lb.b" in md


def test_missing_policy_result_is_marked_not_run():
    assert "**Policy gate:** not run." in render_summary(load("create")[0], environment="dev", policy=None)


def test_small_plan_text_is_included_whole_in_a_collapsed_block():
    plan, text = load("mixed")
    md = render_summary(plan, environment="dev", policy=None, plan_text=text)
    assert "<details><summary>Full plan output</summary>" in md
    assert text.strip("\n") in md
    assert "was cut" not in md


def test_large_plan_text_is_cut_to_the_comment_limit_with_a_note():
    plan, text = load("large")
    assert comment_length(text) > GITHUB_COMMENT_LIMIT, "fixture too small to exercise the cut"
    md = render_summary(plan, environment="dev", policy=None, plan_text=text)
    assert comment_length(md) <= GITHUB_COMMENT_LIMIT - 500
    assert "The plan output was cut to fit GitHub's comment limit" in md
    assert md.index("</details>") < md.index("was cut")


def test_cut_keeps_whole_lines_and_closes_the_block():
    plan, text = load("large")
    md = render_summary(plan, environment="dev", policy=None, plan_text=text, limit=8000)
    inside = md.split("```text\n", 1)[1].split("\n```\n", 1)[0]
    assert text.strip("\n").startswith(inside)
    assert set(inside.splitlines()) <= set(text.splitlines())
    assert md.count("<details>") == md.count("</details>") == 1


def test_real_stack_plan_fits_the_limit():
    plan, text = load("devstack")
    md = render_summary(plan, environment="dev", policy=None, plan_text=text)
    assert comment_length(md) <= GITHUB_COMMENT_LIMIT
    assert "aws_" in md


def test_backticks_in_plan_text_cannot_close_the_code_block():
    plan, _ = load("create")
    md = render_summary(plan, environment="dev", policy=None, plan_text="a\n```\nb")
    assert "````text\na\n```\nb\n````" in md


def test_changes_made_outside_terraform_are_listed():
    md = render_summary(load("drift")[0], environment="dev", policy=None)
    heading = "**Changed outside Terraform** since the last apply: 1 resource(s)."
    assert f"{heading}\n- `aws_ssm_parameter.feature_flag`" in md
    assert "| `aws_ssm_parameter` |  | 1 |  |  |" in md


def test_a_plan_without_drift_does_not_mention_it():
    assert "outside Terraform" not in render_summary(load("mixed")[0], environment="dev", policy=None)
