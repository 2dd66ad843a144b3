"""The whole gateway on one machine: Postgres, Redis, Phoenix, the Bedrock emulator, LiteLLM.

Reused by the smoke, load, eval and bench tools:

    with LocalStack(variant="full") as stack:
        stack.gateway_url, stack.master_key, stack.emulator_url, stack.phoenix_url

`gateway_url` is the public entry of the local front (gateway/devstack/front.py), which lets
through only what the public load balancer does (policies/routes.yaml); `admin_url` also lets
the admin routes through; `proxy_url` is LiteLLM itself, for tools that measure the proxy.

Only Bedrock is emulated. Everything binds 127.0.0.1 on free ports and keeps
its data under one work folder; every process dies with the stack.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from gateway.devstack import app_role, database_mode, system
from gateway.devstack.catalogue import Environment, load_environment
from gateway.devstack.emulator import Emulator, start_emulator
from gateway.devstack.front import Front, start_front
from gateway.devstack.memory import Usage, tree_usage
from gateway.devstack.phoenix_server import Phoenix, launch_phoenix
from gateway.devstack.ports import PortAllocator
from gateway.devstack.postgres import Postgres, start_postgres
from gateway.devstack.proxy import Gateway, generated_key, launch_gateway, proxy_environment, start_migration
from gateway.devstack.readiness import NotReady
from gateway.devstack.redis_server import Redis, start_redis
from gateway.devstack.supervisor import Supervisor
from gateway.devstack.system import REPO

WORK_ROOT = REPO / ".work" / "devstack"
KEEP_RUNS = 5  # older run folders are pruned so repeated smokes do not fill the disk
OWNER_FILE = "owner.pid"  # a run folder whose owner still runs is never pruned (parallel stacks)
# Any id works: the emulator enforces policies/guardrail.yaml whatever id it is called with.
LOCAL_GUARDRAIL_ID, LOCAL_GUARDRAIL_VERSION = "local-guardrail", "1"
SERVICES = ("postgres", "redis", "emulator", "phoenix", "gateway", "front")


class StackError(Exception):
    """The stack could not start; the message names the service and shows its log's last lines."""


class LocalStack:
    """Starts the services in dependency order, with readiness checks, and stops them all."""

    def __init__(
        self,
        *,
        variant: str = "full",
        disable: tuple[str, ...] = (),
        environment: str = "dev",
        work_dir: Path | None = None,
        log: Callable[[str], None] = print,
        trace_content: bool | None = None,
        latency: str = "instant",
        master_key: str | None = None,
    ) -> None:
        self.variant = variant
        self.latency = latency  # the Bedrock emulator's timing profile (gateway/emulator/latency.py)
        self.disable = tuple(disable)
        self.extra_gateways: dict[str, Gateway] = {}
        self._contract_values: dict[str, str] = {}
        self._ports: PortAllocator | None = None
        self.environment: Environment = load_environment(environment)
        # Prompts in the local Phoenix only where the environment records them (None: as it does).
        self.trace_content = self.environment.trace_content if trace_content is None else trace_content
        self.work_dir = (
            Path(work_dir) if work_dir else WORK_ROOT / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        )
        self.log = log
        # A given key: the integration chain's, read from the emulated Secrets Manager through a stack output.
        self.master_key = master_key or generated_key()
        self.timings: dict[str, float] = {}
        self.database_enabled = False
        self.database_skip_reason = ""
        self.postgres: Postgres | None = None
        self.redis: Redis | None = None
        self.phoenix: Phoenix | None = None
        self.emulator: Emulator | None = None
        self.gateway: Gateway | None = None
        self.front: Front | None = None
        self.phoenix_project = f"{self.environment.project}-local"
        self._supervisor: Supervisor | None = None

    # ------------------------------------------------------------ addresses
    @property
    def gateway_url(self) -> str:
        """The public entry: served routes only, as through the load balancer."""
        return self._require(self.front).url

    @property
    def admin_url(self) -> str:
        """The local-only admin entry: served and admin routes (in AWS: a one-off task, docs/gateway.md)."""
        return self._require(self.front).admin_url

    @property
    def proxy_url(self) -> str:
        """LiteLLM directly, without the front: what the benchmarks measure."""
        return self._require(self.gateway).url

    @property
    def emulator_url(self) -> str:
        return self._require(self.emulator).url

    @property
    def phoenix_url(self) -> str:
        return self._require(self.phoenix).url

    @staticmethod
    def _require(service):
        if service is None:
            raise RuntimeError("the stack is not running")
        return service

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        began = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / OWNER_FILE).write_text(f"{os.getpid()}\n")
        _prune_old_runs(self.work_dir.parent, keep=KEEP_RUNS, current=self.work_dir)
        self.log(f"work folder {self.work_dir}")
        self._supervisor = Supervisor(self.work_dir / "logs")
        try:
            self._start_services()
        except BaseException as err:
            self.stop()
            if isinstance(err, (NotReady, RuntimeError)) and not isinstance(err, StackError):
                raise StackError(self._explain(err)) from err
            raise
        self.timings["total"] = time.monotonic() - began
        self.log(f"stack ready in {self.timings['total']:.1f} s; memory {self.memory().describe()}")

    def stop(self) -> None:
        """Stop every service and verify that no process of theirs is left."""
        if self._supervisor is None:
            return
        count = len(self._supervisor.started)
        if self.database_enabled:
            # LiteLLM writes its pending spend on SIGTERM: stop it while PostgreSQL still answers
            # (otherwise it retries against a stopped database until the grace period runs out).
            gateways = [g.child for g in (self.gateway, *self.extra_gateways.values()) if g is not None]
            for child in gateways:
                if child.alive():
                    self._supervisor.stop(child)
        self._supervisor.close()
        survivors = self._supervisor.survivors()
        self.timings["stop"] = self._supervisor.stop_seconds
        self._supervisor = None
        if survivors:
            self.log(f"WARNING: processes survived the stop: {survivors}")
        else:
            self.log(f"stopped {count} processes in {self.timings['stop']:.1f} s; none left running")

    def _start_services(self) -> None:
        sup = self._supervisor
        assert sup is not None
        ports = PortAllocator()
        total = len(SERVICES)
        user = system.service_user(log=self._note)
        # Phoenix takes the longest to boot and depends on nothing: it starts first, in the background.
        phoenix_started = time.monotonic()
        pending_phoenix = launch_phoenix(sup, self.work_dir / "phoenix", ports(), ports())
        # So does the question whether LiteLLM can have its database (a few seconds offline).
        mode = database_mode.precheck()
        probe = database_mode.start_probe(sup) if mode is None else None

        self._step(1, total, "postgres")
        self.postgres = self._timed(
            "postgres",
            lambda: start_postgres(sup, self.work_dir / "postgres", ports(), user=user, log=self._note),
        )
        self._done(1, total, "postgres", f"{self.postgres.host}:{self.postgres.port}")

        self._step(2, total, "redis")
        self.redis = self._timed(
            "redis", lambda: start_redis(sup, self.work_dir / "redis", ports(), user=user, log=self._note)
        )
        self._done(2, total, "redis", f"{self.redis.host}:{self.redis.port}")

        self._step(3, total, "emulator")
        self.emulator = self._timed(
            "emulator",
            lambda: start_emulator(sup, ports(), region=self.environment.region, latency=self.latency),
        )
        self._done(3, total, "emulator", self.emulator.url)

        if probe is not None:
            mode = database_mode.finish_probe(sup, probe)
        assert mode is not None
        self.database_enabled = mode.enabled
        if not mode.enabled:
            self.database_skip_reason = mode.reason
            self.log(
                f"      database: SKIPPED for LiteLLM (no virtual keys, budgets or spend): {mode.reason}; "
                f"PostgreSQL runs, unused"
            )
        contract = self._contract(pending_phoenix.service)
        migration = None
        if mode.enabled:
            self.log("      database: migrating the schema (python -m gateway.entrypoint migrate)")
            migration_started = time.monotonic()
            migration = start_migration(
                sup, proxy_environment(self._migration_contract(contract), home=self.work_dir / "gateway")
            )
            try:
                migration.wait_for_schema()  # LiteLLM's request-log indexes are then built while it starts
                # migrate created the application role; the gateway logs in with this password.
                password = app_role.new_password()
                app_role.write_secret(self.database_password_file, password)
                app_role.set_password(self.postgres.url, app_role.APP_ROLE, password)
            except RuntimeError as err:
                # As when the engine cannot run: say why, serve without the database (checks skip).
                migration = None
                self.database_enabled = False
                last = str(err).splitlines()[-1][:200]
                self.database_skip_reason = f"the schema could not be migrated: {last}"
                self.log(f"      database: SKIPPED for LiteLLM: {err}")
                contract = self._contract(pending_phoenix.service)
            self.timings["migrate"] = time.monotonic() - migration_started

        # The gateway's hard dependencies are ready. Phoenix only receives its traces, and no request
        # is sent before both are ready, so LiteLLM's long import overlaps Phoenix's boot.
        gateway_started = time.monotonic()
        pending_gateway = launch_gateway(
            sup, ports(), contract, home=self.work_dir / "gateway", variant=self.variant, disable=self.disable
        )
        self._note(f"gateway starting on {pending_gateway.service.url} while phoenix finishes booting")

        self._step(4, total, "phoenix")
        self.phoenix = pending_phoenix.wait(progress=self._still_waiting("phoenix", phoenix_started))
        self.timings["phoenix"] = time.monotonic() - phoenix_started
        self._done(4, total, "phoenix", f"{self.phoenix.url} (booting since the stack started)")

        self._step(5, total, "gateway")
        self.gateway = pending_gateway.wait(progress=self._still_waiting("gateway", gateway_started))
        self.timings["gateway"] = time.monotonic() - gateway_started
        if migration is not None:
            try:
                migration.finish()
            except RuntimeError as err:  # the schema is in; the indexes are for speed
                self.log(f"      WARNING: LiteLLM's request-log indexes were not built: {err}")
            self.timings["migrate, total"] = time.monotonic() - migration_started
        self._done(5, total, "gateway", self.gateway.url)

        self._step(6, total, "front")
        gateway_url = self.gateway.url
        self.front = self._timed("front", lambda: start_front(sup, gateway_url, ports(), ports()))
        self._done(6, total, "front", f"public {self.front.url}, admin {self.front.admin_url}")
        self._contract_values = contract
        self._ports = ports

    def add_gateway(
        self,
        label: str,
        *,
        variant: str = "full",
        disable: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
        database: bool = True,
    ) -> Gateway:
        """Another proxy on the same services (the benchmark's variants share one Redis, emulator, Phoenix).

        Its supervisor name is `gateway-<label>` (log: logs/gateway-<label>.log); it stops with the stack.
        `database=False` leaves out the contract's DATABASE_* (the benchmark's database-off twin).
        """
        sup = self._supervisor
        if sup is None or self.gateway is None or self._ports is None:
            raise RuntimeError("the stack is not running")
        name = f"gateway-{label}"
        began = time.monotonic()
        contract = self._contract_values
        if not database:
            contract = {k: v for k, v in contract.items() if not k.startswith("DATABASE_")}
        pending = launch_gateway(
            sup, self._ports(), contract, home=self.work_dir / name,
            variant=variant, disable=tuple(disable), extra_env=extra_env, name=name,
        )  # fmt: skip
        gateway = pending.wait(progress=self._still_waiting(name, began))
        self.extra_gateways[label] = gateway
        self.log(f"      {name} ready in {time.monotonic() - began:.1f} s  {gateway.url}")
        return gateway

    def _contract(self, phoenix: Phoenix) -> dict[str, str]:
        """docs/contracts.md "Container runtime contract", pointing at the local services."""
        assert self.postgres and self.redis and self.emulator
        contract = {
            "GATEWAY_ENVIRONMENT": "local",
            "GATEWAY_MODELS": self.environment.gateway_models_json(),
            "AWS_REGION": self.environment.region,
            "AWS_ACCESS_KEY_ID": self.emulator.access_key,
            "AWS_SECRET_ACCESS_KEY": self.emulator.secret_key,
            "AWS_BEDROCK_RUNTIME_ENDPOINT": self.emulator.url,
            "GUARDRAIL_ID": LOCAL_GUARDRAIL_ID,
            "GUARDRAIL_VERSION": LOCAL_GUARDRAIL_VERSION,
            "REDIS_HOST": self.redis.host,
            "REDIS_PORT": str(self.redis.port),
            "REDIS_SSL": "false",
            "REDIS_PASSWORD": self.redis.password,
            "PHOENIX_COLLECTOR_ENDPOINT": phoenix.collector_endpoint,
            "PHOENIX_PROJECT_NAME": self.phoenix_project,
            "GATEWAY_TRACE_CONTENT": "true" if self.trace_content else "false",
            "LITELLM_MASTER_KEY": self.master_key,
            "LITELLM_SALT_KEY": "sk-" + secrets.token_urlsafe(32),
            # The environment file's request limits, as the task definition carries them.
            **self.environment.request_limits.to_env(),
        }
        if self.database_enabled:
            # The gateway connects as the application role, never as the owner (who only migrates); its
            # password is re-read from the file when PostgreSQL refuses the one it holds (rotation).
            contract.update(
                {
                    "DATABASE_HOST": self.postgres.host,
                    "DATABASE_PORT": str(self.postgres.port),
                    "DATABASE_NAME": self.postgres.database,
                    "DATABASE_USERNAME": app_role.APP_ROLE,
                    "DATABASE_PASSWORD_FILE": str(self.database_password_file),
                    "DATABASE_SSLMODE": "disable",  # loopback only; in AWS the default, require, applies
                }
            )
        return contract

    def _migration_contract(self, contract: dict[str, str]) -> dict[str, str]:
        """The migration task's: the owner's credentials, and the application role to create."""
        assert self.postgres
        migration = {k: v for k, v in contract.items() if k != "DATABASE_PASSWORD_FILE"}
        migration.update(
            {
                "DATABASE_USERNAME": self.postgres.username,
                "DATABASE_PASSWORD": self.postgres.password,
                "DATABASE_APP_USERNAME": app_role.APP_ROLE,
            }
        )
        return migration

    @property
    def contract(self) -> dict[str, str]:
        """The runtime contract its gateway got (docs/contracts.md), pointing at the local services."""
        if not self._contract_values:
            raise RuntimeError("the stack is not running")
        return dict(self._contract_values)

    @property
    def database_password_file(self) -> Path:
        """The application role's password, as a mounted secret would hold it (mode 600)."""
        return self.work_dir / "secrets" / "database-password"

    # ------------------------------------------------------------ reporting
    def dead_services(self) -> list[str]:
        """Services that exited while the stack was meant to be running."""
        if self._supervisor is None:
            return []
        return [child.name for child in list(self._supervisor.children) if not child.alive()]

    def memory(self) -> Usage:
        """The stack's memory now, summed over every service's process tree."""
        if self._supervisor is None:
            return Usage(rss=0, pss=None, processes=0)
        return tree_usage(child.pid for child in list(self._supervisor.children))

    def memory_by_service(self) -> dict[str, Usage]:
        if self._supervisor is None:
            return {}
        return {child.name: tree_usage([child.pid]) for child in list(self._supervisor.children)}

    def _timed(self, name: str, start):
        began = time.monotonic()
        result = start()
        self.timings[name] = time.monotonic() - began
        return result

    def _step(self, index: int, total: int, name: str) -> None:
        self.log(f"[{index}/{total}] {name} …")

    def _done(self, index: int, total: int, name: str, where: str) -> None:
        self.log(f"[{index}/{total}] {name} ready in {self.timings[name]:.1f} s  {where}")

    def _still_waiting(self, name: str, since: float) -> Callable[[float], None]:
        def report(_elapsed: float) -> None:
            self._note(
                f"{name}: still starting after {time.monotonic() - since:.0f} s (log: logs/{name}.log)"
            )

        return report

    def _note(self, message: str) -> None:
        self.log(f"      {message}")

    def _explain(self, err: BaseException) -> str:
        """The error plus the last lines of the log of the service that did not become ready."""
        lines = [str(err)]
        service = getattr(err, "service", None)
        log_file = self.work_dir / "logs" / f"{service}.log"
        if service and log_file.exists():
            tail = log_file.read_text(errors="replace").splitlines()[-40:]
            lines += [f"--- last lines of {log_file} ---", *tail]
        return "\n".join(lines)


def _prune_old_runs(root: Path, *, keep: int, current: Path) -> None:
    """Delete the oldest run folders beyond `keep`, except any whose stack is still running."""
    runs = sorted(p for p in root.iterdir() if p.is_dir() and p != current)
    for old in runs[: max(0, len(runs) - (keep - 1))]:
        if not _owner_running(old):
            shutil.rmtree(old, ignore_errors=True)


def _owner_running(run: Path) -> bool:
    try:
        pid = int((run / OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists()
