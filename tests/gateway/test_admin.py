"""`python -m gateway.entrypoint admin …` against a real local stack in database mode and a real Secrets
Manager API (the project's moto server): what the admin task does in a deploy, from the surface.

One stack and one emulator for the module (a stack start is 1-3 minutes on the shared machine); the
tests run in file order, each leaving the state the next one starts from, as a deploy's steps do:
smoke-key, smoke-key again, access plan -> apply -> plan.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openai
import pytest

from gateway.devstack.admin import ADMIN_COMMAND, admin_environment, run_admin

pytestmark = pytest.mark.slow  # a local stack, the moto server and six LiteLLM starts: about 5 min

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = "dev"
PREFIX = "llm-gateway-dev"  # the secret-name prefix the admin task definition passes


@pytest.fixture(scope="module")
def stack() -> Iterator:
    from gateway.devstack import LocalStack

    with LocalStack(environment=ENVIRONMENT, log=lambda _line: None) as running:
        if not running.database_enabled:
            pytest.skip(f"the local stack has no database: {running.database_skip_reason}")
        yield running


@pytest.fixture(scope="module")
def emulator(stack) -> Iterator:
    from pipeline.aws_emulator import running

    with running() as server:
        yield server


@pytest.fixture(scope="module")
def secrets(stack, emulator):
    return emulator.client("secretsmanager", stack.environment.region)


@pytest.fixture(scope="module")
def smoke_secret(secrets) -> str:
    """Created empty, as Terraform creates it: the admin task writes the only versions."""
    return secrets.create_secret(Name=f"{PREFIX}/smoke-key", Description="deploy smoke key")["ARN"]


@pytest.fixture(scope="module")
def kms_key(stack, emulator) -> str:
    """The gateway secrets' key: the admin task creates access secrets only with it."""
    return emulator.client("kms", stack.environment.region).create_key()["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def aws(emulator, smoke_secret, kms_key) -> dict[str, str]:
    return {
        "GATEWAY_ACCESS_KMS_KEY_ID": kms_key,
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any
        "GATEWAY_SMOKE_KEY_SECRET_ID": smoke_secret,
        "GATEWAY_ACCESS_SECRET_PREFIX": PREFIX,
    }


def stored_key(secrets, secret_id: str) -> str:
    return json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])["key"]


def chat(stack, key: str) -> str:
    client = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=key, max_retries=0, timeout=60)
    answer = client.chat.completions.create(
        model=stack.environment.aliases("chat")[0],
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=20,
    )
    return answer.choices[0].message.content or ""


def assert_no_value_in(run, *values: str) -> None:
    for value in values:
        assert value not in run.stdout and value not in run.stderr


def service_logs(stack) -> str:
    return "".join(p.read_text(errors="replace") for p in (stack.work_dir / "logs").glob("*.log"))


# ---------------------------------------------------------------- smoke-key
def test_smoke_key_is_minted_into_its_secret_and_chats_through_the_public_entry(stack, secrets, aws):
    run = run_admin(stack, ["smoke-key", "--env", ENVIRONMENT], aws=aws)

    assert run.returncode == 0, run.stderr[-3000:]
    value = stored_key(secrets, aws["GATEWAY_SMOKE_KEY_SECRET_ID"])
    assert value.startswith("sk-")
    assert re.search(r"smoke key deploy-smoke-\d{8}T\d{6}Z: models .* expires ", run.stdout)
    assert "previous smoke key: none" in run.stdout
    assert_no_value_in(run, value)
    assert value not in service_logs(stack)
    assert chat(stack, value)
    print(f"smoke-key (first run): {run.seconds} s")


def test_smoke_key_is_scoped_to_the_catalogue_for_two_hours_and_refused_on_management_routes(
    stack, secrets, aws
):
    value = stored_key(secrets, aws["GATEWAY_SMOKE_KEY_SECRET_ID"])
    master = {"Authorization": f"Bearer {stack.master_key}"}
    info = httpx.get(
        f"{stack.admin_url}/key/info",
        params={"key": _hash(value)},
        headers=master,
        timeout=30,
    ).json()["info"]
    assert sorted(info["models"]) == sorted(stack.environment.aliases())
    assert info["max_budget"] == 1.0
    expires = datetime.fromisoformat(info["expires"].replace("Z", "+00:00"))
    assert timedelta(hours=1, minutes=55) < expires - datetime.now(UTC) <= timedelta(hours=2)
    assert info["metadata"]["purpose"] == "deploy-smoke"
    assert info["user_id"] is None and info.get("team_id") is None  # no admin role through a user or team

    as_smoke = {"Authorization": f"Bearer {value}"}
    for method, path, body in (
        ("POST", "/key/generate", {}),
        ("POST", "/team/new", {"team_alias": "by-smoke-key"}),
        ("POST", "/user/new", {}),
        ("GET", "/team/list", None),
    ):
        answer = httpx.request(method, f"{stack.admin_url}{path}", json=body, headers=as_smoke, timeout=30)
        assert answer.status_code in (401, 403), (path, answer.status_code, answer.text[:200])


def test_a_second_run_replaces_the_key_and_deletes_the_one_the_secret_held(stack, secrets, aws):
    first = stored_key(secrets, aws["GATEWAY_SMOKE_KEY_SECRET_ID"])
    time.sleep(1)  # the alias carries a one-second stamp

    run = run_admin(stack, ["smoke-key", "--env", ENVIRONMENT], aws=aws)

    assert run.returncode == 0, run.stderr[-3000:]
    second = stored_key(secrets, aws["GATEWAY_SMOKE_KEY_SECRET_ID"])
    assert second != first
    assert re.search(r"previous smoke key deploy-smoke-\d{8}T\d{6}Z: deleted", run.stdout)
    assert_no_value_in(run, first, second)
    assert chat(stack, second)
    master = {"Authorization": f"Bearer {stack.master_key}"}
    gone = httpx.get(
        f"{stack.admin_url}/key/info", params={"key": _hash(first)}, headers=master, timeout=30
    ).json()["info"]
    assert gone["status"] == "deleted"
    # The serving process keeps a key it looked up in memory for LiteLLM's 60 s (user_api_key_cache):
    # the deleted key is refused there once that entry expires.
    began = time.monotonic()
    while True:
        try:
            chat(stack, first)
        except openai.AuthenticationError:
            break
        assert time.monotonic() - began < 75, "the deleted key still answers after the 60 s key cache"
        time.sleep(3)
    print(f"smoke-key (second run): {run.seconds} s; old key refused after {time.monotonic() - began:.0f} s")


def _hash(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()


# ---------------------------------------------------------------- access
def test_access_plan_apply_plan_through_the_admin_command_is_empty_at_the_end(stack, secrets, aws):
    """The smoke keys minted above are the admin task's, not drift: the last plan is empty with them there."""
    from modules.config import load as load_config
    from modules.config.access import load_access

    environment = ROOT / "environments" / ENVIRONMENT
    declared = load_access(environment, catalogue=[m.alias for m in load_config(environment).models])

    plan = run_admin(stack, ["access", "plan", "--env", ENVIRONMENT], aws=aws)
    assert plan.returncode == 2, plan.stderr[-3000:]
    assert f"Plan: {len(declared.teams) + len(declared.service_keys)} to create" in plan.stdout

    apply = run_admin(stack, ["access", "apply", "--env", ENVIRONMENT], aws=aws)
    assert apply.returncode == 0, apply.stderr[-3000:]
    values = []
    for key in declared.service_keys:
        name = f"{PREFIX}/access/{key.alias}"
        assert f"Secrets Manager secret {name}" in apply.stdout
        values.append(secrets.get_secret_value(SecretId=name)["SecretString"])
        assert secrets.describe_secret(SecretId=name)["KmsKeyId"] == aws["GATEWAY_ACCESS_KMS_KEY_ID"]
    assert all(value.startswith("sk-") for value in values)
    assert_no_value_in(apply, *values)

    again = run_admin(stack, ["access", "plan", "--env", ENVIRONMENT], aws=aws)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "No changes. The gateway holds exactly what access.yaml declares." in again.stdout
    print(f"access plan {plan.seconds} s, apply {apply.seconds} s, plan {again.seconds} s")


def test_a_long_lived_key_wearing_the_smoke_mark_is_drift_and_expired_smoke_keys_are_swept(stack, aws):
    """Only keys shaped as smoke-key makes them stay out of drift; smoke-key deletes expired ones."""
    master = {"Authorization": f"Bearer {stack.master_key}"}
    mark = {"managed_by": "admin smoke-key", "purpose": "deploy-smoke"}

    def generate(alias: str, **extra) -> str:
        body = {"key_alias": alias, "metadata": mark, **extra}
        answer = httpx.post(f"{stack.admin_url}/key/generate", json=body, headers=master, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    forged = generate("deploy-smoke-forged")  # no expiry: a key hidden behind the mark
    left_behind = generate("deploy-smoke-19990101T000000Z", duration="1s")  # a failed run's key, expired
    time.sleep(2)

    plan = run_admin(stack, ["access", "plan", "--env", ENVIRONMENT], aws=aws)
    assert plan.returncode == 2, plan.stderr[-3000:]
    drift = plan.stdout[plan.stdout.index("Drift") :]
    assert "deploy-smoke-forged" in drift and "deploy-smoke-19990101T000000Z" not in drift

    minted = run_admin(stack, ["smoke-key", "--env", ENVIRONMENT], aws=aws)
    assert minted.returncode == 0, minted.stderr[-3000:]
    assert "expired smoke keys deleted: 1" in minted.stdout
    info = httpx.get(f"{stack.admin_url}/key/info", params={"key": left_behind}, headers=master, timeout=30)
    assert info.json()["info"]["status"] == "deleted"
    httpx.post(f"{stack.admin_url}/key/delete", json={"keys": [forged]}, headers=master, timeout=30)


def test_a_key_that_cannot_be_stored_is_deleted_again_and_the_run_fails(stack, aws):
    missing = {**aws, "GATEWAY_SMOKE_KEY_SECRET_ID": f"{PREFIX}/no-such-secret"}

    run = run_admin(stack, ["smoke-key", "--env", ENVIRONMENT], aws=missing)

    assert run.returncode == 1
    found = re.search(
        r"could not be stored \(ResourceNotFoundException\); (deploy-smoke-\S+) was deleted again", run.stderr
    )
    assert found, run.stderr[-2000:]
    listed = httpx.get(
        f"{stack.admin_url}/key/list",
        params={"key_alias": found.group(1)},
        headers={"Authorization": f"Bearer {stack.master_key}"},
        timeout=30,
    ).json()
    assert listed["keys"] == []


# ---------------------------------------------------------------- stopping
def test_sigterm_while_litellm_starts_stops_it_and_exits_1(stack, aws, tmp_path):
    env = {**admin_environment(stack, aws), "GATEWAY_SCRATCH_DIR": str(tmp_path / "scratch")}
    process = subprocess.Popen(
        [sys.executable, *ADMIN_COMMAND, "access", "plan", "--env", ENVIRONMENT],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = None
    for line in process.stderr:
        found = re.search(r"starting LiteLLM on (http://127\.0\.0\.1:\d+)", line)
        if found:
            url = found.group(1)
            break
    assert url, "the admin command never said where LiteLLM listens"
    time.sleep(2)  # LiteLLM is importing
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)

    assert process.returncode == 1
    assert "stopped by SIGTERM" in err
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and str(tmp_path) in _cmdline(pid)]
    assert left == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health/liveliness", timeout=5)


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
