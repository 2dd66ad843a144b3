"""pipeline.validate: offline init + validate of every synthesized stack."""

from __future__ import annotations

import json
import shutil

import pytest

from pipeline.validate import find_stacks, main

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

VALID = {"resource": {"terraform_data": {"marker": {"input": "ok"}}}}
INVALID = {"resource": {"terraform_data": {"marker": {"no_such_argument": "x"}}}}


def write_stack(stacks, name, body):
    folder = stacks / name
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(body))
    return folder


def test_environment_names_map_to_project_prefixed_stacks(tmp_path):
    write_stack(tmp_path, "llm-gateway-dev", VALID)
    write_stack(tmp_path, "llm-gateway-prod", VALID)
    assert find_stacks(tmp_path, ["prod"]) == {"prod": tmp_path / "llm-gateway-prod"}


def test_a_named_environment_without_a_stack_is_an_error(tmp_path):
    write_stack(tmp_path, "llm-gateway-dev", VALID)
    with pytest.raises(FileNotFoundError, match=r"python main\.py staging"):
        find_stacks(tmp_path, ["staging"])


def test_no_stacks_at_all_fails_rather_than_passing(tmp_path, capsys):
    assert main(["--stacks-dir", str(tmp_path)]) == 2
    assert "no synthesized stacks" in capsys.readouterr().err


def test_valid_stacks_pass_and_each_is_timed(tmp_path, capsys):
    write_stack(tmp_path, "llm-gateway-dev", VALID)
    write_stack(tmp_path, "llm-gateway-prod", VALID)
    assert main(["--stacks-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2/2 stack(s) valid" in out
    assert out.count(" s\n") >= 2


def test_one_invalid_stack_fails_the_run_and_is_named(tmp_path, capsys):
    write_stack(tmp_path, "llm-gateway-dev", VALID)
    write_stack(tmp_path, "llm-gateway-prod", INVALID)
    assert main(["--stacks-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "INVALID  llm-gateway-prod" in out
    assert "1/2 stack(s) valid" in out


def test_validation_needs_no_backend(tmp_path):
    body = {
        **VALID,
        "terraform": {"backend": {"s3": {"bucket": "nowhere", "key": "k", "region": "us-east-1"}}},
    }
    write_stack(tmp_path, "llm-gateway-dev", body)
    assert main(["dev", "--stacks-dir", str(tmp_path)]) == 0
