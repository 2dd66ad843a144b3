"""`python -m gateway.entrypoint admin <program>`: management calls from inside the VPC, as a one-off task.

    admin smoke-key --env ENV                          mint the deploy smoke's scoped key
    admin access plan|apply --env ENV [--allow-delete]  reconcile environments/ENV/access.yaml

The public entry serves no admin route (docs/gateway.md, "Admin access: a one-off ECS task"), so
the task starts its own LiteLLM on 127.0.0.1 (one worker, a free port), against the gateway's
database with the gateway's master key and the same rendered catalogue, runs one program against
it, stops it (also on error or SIGTERM) and exits with the program's code. That LiteLLM serves no
model traffic, so its config drops what only traffic uses (`admin_config`): no Redis, no tracing
callbacks, no guardrail, and the task needs none of their variables or network paths.

A key's value goes from /key/generate straight to Secrets Manager; it is never printed or logged.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# /app in the image, which ships environments/*/{config,access}.yaml beside gateway/.
ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ROOT / "environments"
LOOPBACK = "127.0.0.1"
SMOKE_KEY_SECRET_VARIABLE = "GATEWAY_SMOKE_KEY_SECRET_ID"  # noqa: S105  # a variable name
ACCESS_PREFIX_VARIABLE = "GATEWAY_ACCESS_SECRET_PREFIX"
# New access secrets are created with this KMS key: the task role may create them with no other.
ACCESS_KMS_VARIABLE = "GATEWAY_ACCESS_KMS_KEY_ID"
# The deploy smoke's key: every alias of the catalogue, for one smoke run with room to spare.
SMOKE_KEY_MAX_BUDGET = 1.0  # US dollars; the chain's smoke spends well under a cent
SMOKE_KEY_JSON_KEY = "key"  # the stack output smoke_key_json_key names it too
# LiteLLM's import alone takes 15-45 s on a busy machine, 11-17 s on a quiet one.
START_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 30
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
# Only traffic uses these; the admin LiteLLM drops them (and so needs no Redis, Phoenix or guardrail).
TRAFFIC_ONLY_SETTINGS = {
    "litellm_settings": ("callbacks", "cache", "cache_params"),
    "router_settings": ("redis_host", "redis_port", "redis_password", "cache_kwargs"),
}
TRAFFIC_ONLY_SECTIONS = ("guardrails",)


# What the admin process keeps of its environment besides the contract's `admin` variables: the
# image's ENV, what ECS and Fargate set, and the entrypoint's defaults. Everything else is dropped
# before any client exists, because whoever may run the task may override its environment (ECS has
# no IAM condition on that): an HTTP_PROXY would carry the master key from this process to its own
# LiteLLM through someone else's proxy, AWS credentials or an endpoint of another account would
# receive the keys this command stores, a NODE_OPTIONS or LD_PRELOAD would run code in a child.
RUNTIME_VARIABLES = frozenset(
    {
        "PATH", "HOME", "HOSTNAME", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
        "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
        "GATEWAY_SCRATCH_DIR", "GATEWAY_WORKERS", "CHECKPOINT_DISABLE",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4", "ECS_AGENT_URI",
    }
)  # fmt: skip
RUNTIME_PREFIXES = ("LC_", "PRISMA_")
# Kept only with an endpoint on this machine's loopback: the local emulator (tests, nox -s integration).
# In AWS the task role's credentials and the real endpoints are the only ones.
LOCAL_AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def kept_environment(
    environ: Mapping[str, str], defaults: Iterable[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """(what the admin process keeps, the names it drops): the contract's admin variables, the runtime's,
    `defaults` (the entrypoint's), and the local emulator's only when its endpoint is a loopback one."""
    from urllib.parse import urlsplit

    from gateway import contract

    allowed = set(RUNTIME_VARIABLES) | set(defaults)
    allowed |= {v.name for v in contract.VARIABLES if "admin" in v.commands}
    if urlsplit(environ.get("AWS_ENDPOINT_URL", "")).hostname in LOOPBACK_HOSTS:
        allowed |= set(LOCAL_AWS_VARIABLES)
    kept = {k: v for k, v in environ.items() if k in allowed or k.startswith(RUNTIME_PREFIXES)}
    return kept, sorted(set(environ) - set(kept))


class AdminError(Exception):
    """The admin program cannot run or failed; the message names what (never a key's value)."""


class _ArgumentError(AdminError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2, which `access plan` means "changes"
        raise _ArgumentError(f"{self.prog}: {message}")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="python -m gateway.entrypoint admin", description=__doc__.splitlines()[0])
    programs = top.add_subparsers(dest="program", required=True, parser_class=_Parser)
    smoke = programs.add_parser("smoke-key", help="mint the deploy smoke's scoped key into its secret")
    smoke.add_argument("--env", required=True, help="the environment (its catalogue's aliases)")
    access = programs.add_parser("access", help="reconcile environments/ENV/access.yaml")
    access.add_argument("command", choices=("plan", "apply"))
    access.add_argument("--env", required=True, help="environments/<ENV>/access.yaml in the image")
    access.add_argument("--allow-delete", action="store_true", help="carry out deletions (refused otherwise)")
    return top


# ---------------------------------------------------------------- the admin LiteLLM
def admin_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The served config without what only model traffic uses: same catalogue, database and master key."""
    out = copy.deepcopy(dict(config))
    for section, names in TRAFFIC_ONLY_SETTINGS.items():
        for name in names:
            (out.get(section) or {}).pop(name, None)
    for section in TRAFFIC_ONLY_SECTIONS:
        out.pop(section, None)
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class _Stopped(Exception):
    """SIGTERM (ECS stopping the task) or SIGINT: LiteLLM is stopped on the way out."""


@contextmanager
def _signals_stop() -> Iterator[None]:
    def stop(signum: int, _frame: object) -> None:
        for sig in previous:  # once: a second signal must not cut LiteLLM's stop short
            signal.signal(sig, signal.SIG_IGN)
        raise _Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def local_litellm(
    argv: list[str],
    env: Mapping[str, str],
    url: str,
    *,
    log: Callable[..., None],
    timeout: float = START_TIMEOUT_SECONDS,
) -> Iterator[subprocess.Popen]:
    """LiteLLM started in its own process group, ready (/health/readiness answers 200), always stopped.

    Its output goes to stderr (CloudWatch in AWS), keeping stdout for the program's own lines.
    """
    import httpx

    process = subprocess.Popen(  # argv, no shell
        argv, env=dict(env), stdout=sys.stderr, stderr=sys.stderr, start_new_session=True
    )
    try:
        began = time.monotonic()
        while True:
            if process.poll() is not None:
                raise AdminError(f"LiteLLM exited with code {process.returncode} before it was ready")
            try:
                if httpx.get(f"{url}/health/readiness", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - began > timeout:
                raise AdminError(f"LiteLLM was not ready on {url} within {timeout:.0f} s")
            time.sleep(0.5)
        log(f"admin: LiteLLM ready on {url} in {time.monotonic() - began:.1f} s", admin="ready")
        yield process
    finally:
        _stop(process)
        log("admin: LiteLLM stopped", admin="stopped", exit_code=process.returncode)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to LiteLLM's whole process group (its database engine too), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, 10)):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        with suppress(ProcessLookupError):  # the leader is gone; a child it left behind still goes
            os.killpg(process.pid, signal.SIGKILL)
        return


# ---------------------------------------------------------------- programs
def smoke_key(
    admin: Any,
    secrets: Any,
    *,
    secret_id: str,
    environment: str,
    models: list[str],
    out: Callable[[str], None] = print,
    now: datetime | None = None,
) -> int:
    """Mint a scoped key, store it in `secret_id` as {"key": …}, then delete the key the secret held before.

    Read the previous value first: a secret that cannot be read fails the run before anything is minted.
    A key minted but not stored is deleted again, so no unusable key is left behind.
    """
    from gateway.access.gateway import AccessError
    from gateway.access.state import SMOKE_KEY_ALIAS_PREFIX, SMOKE_KEY_LIFETIME, SMOKE_KEY_MARK

    now = now or datetime.now(UTC)
    previous = _stored_key(secrets, secret_id)
    alias = f"{SMOKE_KEY_ALIAS_PREFIX}{now:%Y%m%dT%H%M%SZ}"
    created = admin.post(
        "/key/generate",
        {
            "key_alias": alias,
            "models": models,
            "duration": f"{int(SMOKE_KEY_LIFETIME.total_seconds() // 60)}m",
            "max_budget": SMOKE_KEY_MAX_BUDGET,
            "metadata": {
                SMOKE_KEY_MARK[0]: SMOKE_KEY_MARK[1],
                "purpose": "deploy-smoke",
                "environment": environment,
            },
        },
    )
    value, token = created["key"], created.get("token") or hashlib.sha256(created["key"].encode()).hexdigest()
    try:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({SMOKE_KEY_JSON_KEY: value}))
    except Exception as error:
        admin.post("/key/delete", {"keys": [token]})
        raise AdminError(
            f"secret {secret_id}: the key could not be stored ({type(error).__name__}); "
            f"{alias} was deleted again"
        ) from None
    out(
        f"smoke key {alias}: models {', '.join(models)}, max_budget {SMOKE_KEY_MAX_BUDGET}, "
        f"expires {created.get('expires')}; stored in secret {secret_id} (JSON key {SMOKE_KEY_JSON_KEY!r})"
    )
    if previous is None:
        out("previous smoke key: none")
    else:
        _delete_previous(admin, hashlib.sha256(previous.encode()).hexdigest(), out, AccessError)
    _sweep_expired(admin, now, out)
    return EXIT_OK


def _delete_previous(admin: Any, old: str, out: Callable[[str], None], access_error: type[Exception]) -> None:
    """Delete the key the secret held before, by its hash: no value in a request or an error."""
    try:
        info = admin.key_info(old)
    except access_error as error:
        if "HTTP 404" not in str(error):
            raise
        info = {"status": "deleted"}
    if info.get("status") == "deleted":  # LiteLLM answers deleted keys from its archive
        out("previous smoke key: already deleted")
        return
    admin.post("/key/delete", {"keys": [old]})
    out(f"previous smoke key {info.get('key_alias') or info.get('key_name')}: deleted")


def _sweep_expired(admin: Any, now: datetime, out: Callable[[str], None]) -> None:
    """Delete expired deploy-smoke keys a failed run left behind (minted, never the secret's last)."""
    from gateway.access.gateway import parse_time, smoke_key

    expired = [raw for raw in admin.list_keys() if smoke_key(raw) and parse_time(raw["expires"]) <= now]
    if expired:
        admin.post("/key/delete", {"keys": [raw["token"] for raw in expired]})
    out(f"expired smoke keys deleted: {len(expired)}")


def _stored_key(secrets: Any, secret_id: str) -> str | None:
    """The key the smoke-key secret holds, or None (created empty by Terraform: no version yet)."""
    try:
        raw = secrets.get_secret_value(SecretId=secret_id).get("SecretString")
    except secrets.exceptions.ResourceNotFoundException:
        return None
    try:
        stored = json.loads(raw or "null")
    except ValueError:
        return None
    value = stored.get(SMOKE_KEY_JSON_KEY) if isinstance(stored, dict) else None
    return value if isinstance(value, str) and value else None


def access(admin: Any, store: Any, access_config: Any, command: str, *, allow_delete: bool) -> int:
    from gateway.access.reconcile import reconcile

    code, _planned = reconcile(command, access_config, admin, store, allow_delete=allow_delete)
    return code


# ---------------------------------------------------------------- the command
def _required(env: Mapping[str, str], name: str, program: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise AdminError(f"admin {program} needs {name} (set by the admin task definition)")
    return value


def _check_environment(env: Mapping[str, str], environment: str) -> None:
    """A task of one environment never applies another's declaration."""
    running = env.get("GATEWAY_ENVIRONMENT", "").strip()
    if running and running != "local" and running != environment:
        raise AdminError(
            f"--env {environment}: this task runs GATEWAY_ENVIRONMENT={running}; allowed: {running}"
        )
    if not (ENVIRONMENTS / environment / "config.yaml").is_file():
        known = sorted(p.name for p in ENVIRONMENTS.iterdir() if (p / "config.yaml").is_file())
        raise AdminError(
            f"--env {environment}: no {ENVIRONMENTS / environment / 'config.yaml'}; "
            f"allowed: {', '.join(known)}"
        )


def _secrets_client(region: str) -> Any:
    import boto3  # AWS_ENDPOINT_URL (the local emulator) is honoured by boto3 itself

    return boto3.client("secretsmanager", region_name=region)


def main(argv: list[str], settings: Any, env: Mapping[str, str], *, log: Callable[..., None]) -> int:
    """Parse, check everything that can be checked before LiteLLM starts, run the program, stop LiteLLM."""
    from gateway import entrypoint

    try:
        args = parser().parse_args(argv)
        _check_environment(env, args.env)
        region = env["AWS_REGION"].strip()
        if args.program == "smoke-key":
            secret_id = _required(env, SMOKE_KEY_SECRET_VARIABLE, "smoke-key")
            models = list(dict.fromkeys(m.alias for m in settings.models))

            def program(admin: Any) -> int:
                return smoke_key(
                    admin, _secrets_client(region), secret_id=secret_id, environment=args.env, models=models
                )
        else:
            from gateway.access.secrets import SecretsManagerStore
            from modules.config import ConfigError
            from modules.config import load as load_config
            from modules.config.access import load_access

            prefix = _required(env, ACCESS_PREFIX_VARIABLE, "access")
            kms_key_id = env.get(ACCESS_KMS_VARIABLE, "").strip() or None
            try:
                config = load_config(ENVIRONMENTS / args.env)
                catalogue = list(dict.fromkeys(model.alias for model in config.models))
                declared = load_access(ENVIRONMENTS / args.env, catalogue=catalogue)
            except ConfigError as error:
                raise AdminError(str(error)) from None

            def program(admin: Any) -> int:
                store = SecretsManagerStore(
                    prefix, region=region, client=_secrets_client(region), kms_key_id=kms_key_id
                )
                return access(admin, store, declared, args.command, allow_delete=args.allow_delete)
    except AdminError as error:
        log(f"admin: {error}", level="ERROR")
        return EXIT_ERROR

    port = free_port()
    # One worker on the loopback, whatever the task's variables say: nothing else may reach it.
    local = replace(settings, host=LOOPBACK, port=port, workers=1, trace_content=False)
    path = entrypoint.prepare_scratch(local, admin_config(entrypoint.rendered_config(local)))
    proxy_env = entrypoint.proxy_environment(local, env)
    log_config = local.scratch / "log_config.json"
    log_config.write_text(json.dumps(entrypoint.uvicorn_log_config(proxy_env["LITELLM_LOG"].upper())))
    url = f"http://{LOOPBACK}:{port}"
    log(f"admin {args.program}: starting LiteLLM on {url}", program=args.program, environment=args.env)
    from botocore.exceptions import BotoCoreError, ClientError

    from gateway.access.gateway import AccessError, GatewayAdmin

    proxy_argv = entrypoint.proxy_command(local, path, log_config)
    try:
        with (
            _signals_stop(),
            local_litellm(proxy_argv, proxy_env, url, log=log),
            GatewayAdmin(url, env["LITELLM_MASTER_KEY"].strip()) as admin,
        ):
            code = program(admin)
    except (AdminError, AccessError) as error:
        log(f"admin {args.program}: {error}", level="ERROR")
        return EXIT_ERROR
    except (
        BotoCoreError,
        ClientError,
    ) as error:  # Secrets Manager: the message names the call, never a value
        log(f"admin {args.program}: Secrets Manager: {error}", level="ERROR")
        return EXIT_ERROR
    except _Stopped as stopped:
        log(f"admin {args.program}: stopped by {stopped}", level="ERROR")
        return EXIT_ERROR
    log(f"admin {args.program}: exit {code}", program=args.program, exit_code=code)
    return code
