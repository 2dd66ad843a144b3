"""No generated secret is in the synthesized stack, the state, the saved plan or any plan artifact.

The dev stack is applied to the emulator (secret_stack.py); the secrets are read
back from where they live (Secrets Manager: the LiteLLM master and salt keys,
Aurora's managed master password; and whatever the state marks sensitive), and
every file the pipeline writes is searched for each (pipeline/secret_grep.py).
A secret put back into the stack (the data-source read the cache once used)
must make the grep fail.
"""

from __future__ import annotations

import json

import pytest

from pipeline import secret_grep

pytestmark = pytest.mark.slow


def test_the_grep_looks_for_every_secret_the_stack_generates(applied_stack):
    labels = set(applied_stack.secrets)
    assert "secretsmanager:llm-gateway-dev/litellm-master-key:LITELLM_MASTER_KEY" in labels
    assert "secretsmanager:llm-gateway-dev/litellm-salt-key:LITELLM_SALT_KEY" in labels
    # Aurora's managed master secret is looked for too when the emulator can serve it: after a full
    # apply moto no longer finds the one the cluster names (ResourceNotFound); the state holds no
    # password either way (test_the_state_holds_no_sensitive_value).
    assert all(len(value) >= secret_grep.MIN_LENGTH for value in applied_stack.secrets.values())


def test_no_generated_secret_is_in_the_stack_state_plan_or_artifacts(applied_stack):
    assert secret_grep.find_leaks(applied_stack.secrets, applied_stack.artifacts) == []


def test_the_state_holds_no_sensitive_value(applied_stack):
    """Nothing secret-bearing is left in state at all: no AUTH token, no data-source read of a secret
    (sensitive attributes such as the write-only ones exist, all empty)."""
    assert secret_grep.state_sensitive_values(applied_stack.state) == {}


def test_the_cache_takes_iam_users_and_its_tasks_no_cache_secret(applied_stack):
    resources = {r["address"]: r["values"] for r in applied_stack.state["values"]["root_module"]["resources"]}
    (group,) = [v for a, v in resources.items() if a.startswith("aws_elasticache_replication_group.")]
    assert not group.get("auth_token") and group["user_group_ids"]
    task = next(v for a, v in resources.items() if a.startswith("aws_ecs_task_definition.compute_task_"))
    (container,) = json.loads(task["container_definitions"])
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["REDIS_AWS_IAM_AUTH"] == "true" and env["REDIS_AWS_IAM_USER_NAME"] == "llm-gateway-dev-gateway"
    assert "REDIS_PASSWORD" not in {s["name"] for s in container.get("secrets", [])}
    (policy,) = [v for a, v in resources.items() if a.startswith("aws_iam_policy.cache_connect")]
    attached = {
        (v["role"], v["policy_arn"]) for a, v in resources.items() if a.startswith("aws_iam_role_policy_att")
    }
    assert (task["task_role_arn"].rsplit("/", 1)[1], policy["arn"]) in attached


def test_the_cache_and_its_users_match_the_emulator_on_the_next_plan(applied_stack):
    from pipeline.summary import digest

    changes = [c for c in digest(applied_stack.pull_request_plan).changes if "elasticache" in c.type]
    assert changes == []


def test_a_secret_put_back_into_the_stack_fails_the_grep(applied_stack, tmp_path):
    """Mutation: read the master key back with a data source (how the cache token once reached state)."""
    space = applied_stack.space
    stack_file = space.stack_dir / "cdk.tf.json"
    original = stack_file.read_text()
    stack = json.loads(original)
    (secret_address,) = [
        f"aws_secretsmanager_secret.{name}"
        for name, secret in stack["resource"]["aws_secretsmanager_secret"].items()
        if secret["name"].endswith("/litellm-master-key")
    ]
    stack.setdefault("data", {})["aws_secretsmanager_secret_version"] = {
        "put_back": {"secret_id": f"${{{secret_address}.id}}"}
    }
    stack_file.write_text(json.dumps(stack))
    try:
        shown = tmp_path / "mutated.plan.json"
        shown.write_text(json.dumps(space.plan("mutated")))
        leaks = secret_grep.find_leaks(applied_stack.secrets, [shown, space.stack_dir / "mutated.tfplan"])
    finally:
        stack_file.write_text(original)
    leaked = {leak.secret for leak in leaks}
    assert "secretsmanager:llm-gateway-dev/litellm-master-key:LITELLM_MASTER_KEY" in leaked
    assert {leak.where for leak in leaks} >= {str(shown)}


def test_a_leak_names_the_secret_and_the_file_never_the_value(tmp_path):
    artifact = tmp_path / "dev.plan.json"
    artifact.write_text(json.dumps({"value": "sk-abcdefghijklmnop"}))
    (leak,) = secret_grep.find_leaks({"master": "sk-abcdefghijklmnop"}, [tmp_path])
    assert str(leak) == f"master found in {artifact}"
    assert "sk-" not in str(leak)


def test_the_command_line_exits_1_on_a_leak_and_0_without(tmp_path, capsys):
    state = {
        "values": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_x.y",
                        "values": {"token": "a-generated-token-123"},
                        "sensitive_values": {"token": True},
                    }
                ]
            }
        }
    }
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "plan.txt").write_text("token = (sensitive value)")
    assert secret_grep.main(["--state-json", str(state_file), str(clean)]) == 0
    assert secret_grep.main(["--state-json", str(state_file), str(state_file)]) == 1
    assert "a-generated-token-123" not in capsys.readouterr().out


def test_nothing_to_look_for_is_an_error_not_a_pass(tmp_path):
    with pytest.raises(ValueError, match="no secrets to look for"):
        secret_grep.find_leaks({}, [tmp_path])


def test_secrets_are_read_from_secrets_manager_and_from_arns_the_state_names():
    """JSON secrets give their secret-like members; a state-named ARN this account lacks is skipped."""
    from pipeline.aws_emulator import running

    with running(account_id="111111111111") as server:
        client = server.client("secretsmanager")
        client.create_secret(
            Name="gw/master", SecretString=json.dumps({"LITELLM_MASTER_KEY": "sk-master-0123456789"})
        )
        client.create_secret(
            Name="gw/db", SecretString=json.dumps({"username": "postgres", "password": "p" * 20})
        )
        client.create_secret(Name="gw/plain", SecretString="a-plain-token-0123456789")
        elsewhere = (
            "arn:aws:secretsmanager:us-east-1:111111111111:secret:llm-gateway/dev/phoenix-api-key-Q3v7Zk"
        )
        found = secret_grep.secrets_manager_values(client, [elsewhere])
    assert found == {
        "secretsmanager:gw/master:LITELLM_MASTER_KEY": "sk-master-0123456789",
        "secretsmanager:gw/db:password": "p" * 20,
        "secretsmanager:gw/plain": "a-plain-token-0123456789",
    }
