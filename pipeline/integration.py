"""The real Terraform lifecycle of one environment against a local AWS (moto, extended in-process).

    python -m pipeline.integration [--env dev] [--keep]

synth (provider pointed at the emulator, local state) → init → plan → apply →
migrate: the migration task definition the stack outputs, run here as ECS runs it
(`python -m gateway.entrypoint migrate`, its environment and secrets read back
from the emulator), twice, against a local PostgreSQL standing in for the Aurora
cluster; the second run must apply nothing → check every property that matters
through boto3 → plan again (must be empty: what the emulator reports back matches
the configuration) → change the environment file
(log retention) and prove the plan is an update in place → apply it → destroy →
prove nothing is left. Every phase prints its time; the timings, counts and
check results go to reports/integration/summary.json. Exit code 1 on any
failed check, 2 on a broken run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import migration_task
from pipeline.apply import outputs
from pipeline.aws_emulator import EmulatorServer, inventory, running
from pipeline.stack_checks import Check, StackChecks, state_resources
from pipeline.summary import digest, render_summary
from pipeline.terraform import terraform, terraform_env

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "integration"

# Resources left out of the run because the emulator cannot serve them, with why.
# Empty: every gap found so far is closed in pipeline/aws_emulator.
EXCLUDED: dict[str, str] = {}

# Terraform variables the stack declares (the image to run): any tag will do, nothing pulls it.
VARIABLES = {"image_tag": "integration"}

# The stack output naming the one-off task the deploy runs before the service update.
MIGRATION_OUTPUT = "migration_task_definition_arn"

# The configuration change whose plan must be an update in place.
CHANGED_SETTING = ("observability", "log_retention_days")


class IntegrationFailure(Exception):
    """A phase could not complete: the run stops, cleans up and exits non-zero."""


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    resources: int | None = None
    note: str = ""


@dataclass
class Run:
    environment: str
    endpoint: str = ""
    phases: list[Phase] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=lambda: dict(EXCLUDED))
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        phase = Phase(name)
        self.phases.append(phase)
        print(f"\n=== {name}", flush=True)
        started = time.monotonic()
        try:
            yield phase
        finally:
            phase.seconds = round(time.monotonic() - started, 1)
            extra = f", {phase.resources} resources" if phase.resources is not None else ""
            print(
                f"=== {name}: {phase.seconds:.1f} s{extra}{' - ' + phase.note if phase.note else ''}",
                flush=True,
            )

    def record(self, checks: list[Check]) -> None:
        for check in checks:
            print(
                f"  [{'PASS' if check.ok else 'FAIL'}] {check.name}{'' if check.ok else ': ' + check.detail}"
            )
        self.checks.extend(checks)


# ---------------------------------------------------------------- environment files
def next_retention(current: int) -> int:
    """The next CloudWatch retention above `current` (a value the config accepts)."""
    from modules.config import LOG_RETENTION_DAYS

    larger = [days for days in LOG_RETENTION_DAYS if days > current]
    return larger[0] if larger else LOG_RETENTION_DAYS[0]


def change_setting(config_file: Path, section: str, key: str, value: Any) -> Any:
    """Rewrite one setting of a copied environment file; returns the old value."""
    data = yaml.safe_load(config_file.read_text())
    old = data[section][key]
    data[section][key] = value
    config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return old


# ---------------------------------------------------------------- terraform
class Workspace:
    """One environment's synthesized stack in a scratch folder, and Terraform run on it."""

    def __init__(self, work: Path, environment: str, endpoint: str, region: str) -> None:
        self.work = work
        self.environment = environment
        self.endpoint = endpoint
        self.environments = work / "environments"
        self.state_dir = work / "state"
        self.out = work / "out"
        self.stack_dir: Path | None = None
        self.env = terraform_env(
            {
                # moto accepts any credentials; these keep a developer's real ones out of the run.
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_EC2_METADATA_DISABLED": "true",
                "TF_PLUGIN_CACHE_DIR": "",
            }
        )
        for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE"):
            self.env.pop(variable, None)

    @property
    def config_file(self) -> Path:
        return self.environments / self.environment / "config.yaml"

    def synth(self) -> Path:
        command = [
            sys.executable, "main.py", self.environment,
            "--environments-dir", str(self.environments),
            "--out", str(self.out),
            "--aws-endpoint", self.endpoint,
            "--local-backend", str(self.state_dir),
        ]  # fmt: skip
        result = subprocess.run(command, cwd=ROOT, check=False)
        if result.returncode != 0:
            raise IntegrationFailure(f"synth exited {result.returncode}")
        stacks = sorted((self.out / "stacks").iterdir())
        if len(stacks) != 1:
            raise IntegrationFailure(f"expected one synthesized stack, found {[s.name for s in stacks]}")
        self.stack_dir = stacks[0]
        return self.stack_dir / "cdk.tf.json"

    def tf(self, *args: str, capture: bool = False) -> str:
        assert self.stack_dir is not None, "synth first"
        result = terraform([*args], self.stack_dir, env=self.env, capture=capture, check=False)
        if result.returncode != 0:
            raise IntegrationFailure(f"terraform {args[0]} exited {result.returncode}")
        return result.stdout or ""

    def targets(self) -> list[str]:
        """`-target` flags leaving the EXCLUDED addresses out (none when nothing is excluded)."""
        if not EXCLUDED:
            return []
        stack = json.loads((self.stack_dir / "cdk.tf.json").read_text())  # type: ignore[operator]
        addresses = [f"{kind}.{name}" for kind, items in stack.get("resource", {}).items() for name in items]
        return [f"-target={a}" for a in addresses if not any(a.startswith(x) for x in EXCLUDED)]

    def variables(self) -> list[str]:
        """`-var` flags for the VARIABLES this stack declares."""
        declared = json.loads((self.stack_dir / "cdk.tf.json").read_text()).get("variable", {})  # type: ignore[operator]
        return [f"-var={name}={value}" for name, value in VARIABLES.items() if name in declared]

    def plan(self, name: str) -> dict[str, Any]:
        self.tf(
            "plan", "-input=false", "-no-color", f"-out={name}.tfplan", *self.variables(), *self.targets()
        )
        return json.loads(self.tf("show", "-json", f"{name}.tfplan", capture=True))

    def state(self) -> dict[str, Any]:
        return json.loads(self.tf("show", "-json", capture=True))


# ---------------------------------------------------------------- the run
def _write_summary(run: Run, name: str, plan_json: dict[str, Any]) -> str:
    text = render_summary(plan_json, environment=run.environment, policy=None)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.md").write_text(text)
    return text


def _in_place_problems(plan_json: dict[str, Any]) -> list[str]:
    """Why a plan is not a pure update in place of at least one log group ([] when it is)."""
    changes = digest(plan_json).changes
    problems = [f"{c.address} would {c.action}" for c in changes if c.action != "change"]
    if not any(c.type == "aws_cloudwatch_log_group" and c.action == "change" for c in changes):
        problems.append("no log group is updated")
    return problems


def lifecycle(run: Run, server: EmulatorServer, work: Path, expect: dict[str, Any]) -> None:
    region = expect["region"]

    def client(service: str) -> Any:
        return server.client(service, region)

    space = Workspace(work, run.environment, server.endpoint, region)
    baseline = inventory.take(client)

    with run.phase("synth") as phase:
        stack_file = space.synth()
        stack = json.loads(stack_file.read_text())
        phase.resources = sum(len(items) for items in stack.get("resource", {}).values())
        phase.note = f"{stack_file.relative_to(work)} ({stack_file.stat().st_size // 1024} KiB)"
    with run.phase("init"):
        space.tf("init", "-input=false", "-no-color")
    with run.phase("plan") as phase:
        plan_json = space.plan("initial")
        planned = digest(plan_json)
        phase.resources = planned.counts.get("add", 0)
        _write_summary(run, "plan-initial", plan_json)
        phase.note = ", ".join(f"{n} to {a}" for a, n in sorted(planned.counts.items()))
    with run.phase("apply") as phase:
        space.tf("apply", "-input=false", "-no-color", "initial.tfplan")
        resources = state_resources(space.state())
        phase.resources = sum(len(v) for v in resources.values())
    with run.phase("seed secrets") as phase:  # the stack leaves the LiteLLM key secrets empty
        from pipeline import seed_secrets

        seeded = seed_secrets.seed_all(client("secretsmanager"), outputs(space.stack_dir, space.env))
        phase.resources = sum(o.wrote for o in seeded)
        phase.note = "; ".join(f"{o.name.rsplit('/', 1)[-1]} {o.action}" for o in seeded)
    with run.phase("migrate") as phase:
        run.record(migrate_twice(space, client, work / "migrate", phase))
    with run.phase("check") as phase:
        run.record(StackChecks(client, resources, expect).run())
        phase.resources = phase.resources or sum(len(v) for v in resources.values())
    with run.phase("re-plan") as phase:
        drift = digest(space.plan("converged")).changes
        phase.resources = len(drift)
        run.record(
            [
                Check(
                    "a plan right after the apply has nothing to do",
                    not drift,
                    "; ".join(f"{c.address} would {c.action}" for c in drift) or "no changes",
                )
            ]
        )
    with run.phase("change") as phase:
        section, key = CHANGED_SETTING
        new_value = next_retention(expect["log_retention_days"])
        old_value = change_setting(space.config_file, section, key, new_value)
        phase.note = f"{section}.{key}: {old_value} -> {new_value}"
        space.synth()
        change_json = space.plan("change")
        summary = _write_summary(run, "plan-change", change_json)
        problems = _in_place_problems(change_json)
        changed = digest(change_json).counts.get("change", 0)
        phase.resources = changed
        run.record(
            [
                Check(
                    "the changed setting's plan summary is an update in place, no replacement",
                    not problems
                    and f"**Plan:** {changed} to change." in summary
                    and "[!CAUTION]" not in summary,
                    "; ".join(problems) or f"{changed} in-place update(s), no replacement",
                )
            ]
        )
        space.tf("apply", "-input=false", "-no-color", "change.tfplan")
        after_change = StackChecks(client, state_resources(space.state()), {**expect, key: new_value})
        run.record([c for c in after_change.run() if c.name.startswith("log groups")])
    with run.phase("destroy") as phase:
        phase.resources = sum(len(v) for v in state_resources(space.state()).values())
        space.tf(
            "destroy", "-auto-approve", "-input=false", "-no-color", *space.variables(), *space.targets()
        )
    with run.phase("verify empty") as phase:
        left = inventory.leftovers(baseline, inventory.take(client))
        in_state = sum(len(v) for v in state_resources(space.state()).values())
        phase.resources = sum(len(ids) for ids in left.values()) + in_state
        detail = "; ".join(f"{kind}: {sorted(ids)}" for kind, ids in sorted(left.items()))
        run.record(
            [
                Check(
                    "nothing left in the emulator after destroy", not left, detail or "every service empty"
                ),
                Check("nothing left in the state after destroy", in_state == 0, f"{in_state} in state"),
            ]
        )


def migrate_twice(space: Workspace, client: Callable[[str], Any], scratch: Path, phase: Phase) -> list[Check]:
    """Run the applied migration task definition twice: it applies the schema, then has nothing to apply.

    The command, environment and secrets are the image's and the task definition's, read
    back from the emulator (pipeline/migration_task.py); the database endpoint is replaced:
    the emulated Aurora cluster is an API record, so a local PostgreSQL stands in, its
    master user and password those of the cluster's managed secret.
    """
    assert space.stack_dir is not None, "synth first"
    arn = outputs(space.stack_dir, space.env).get(MIGRATION_OUTPUT)
    if not isinstance(arn, str) or not arn:
        raise IntegrationFailure(f"the applied stack has no {MIGRATION_OUTPUT} output")
    try:
        spec = migration_task.task_spec(client("ecs"), arn)
        secrets = migration_task.resolve_secrets(client("secretsmanager"), spec.secrets)
        argv = migration_task.local_argv(migration_task.image_entrypoint(), spec.command)
    except migration_task.MigrationTaskError as error:
        raise IntegrationFailure(f"migration task {arn}: {error}") from None
    declared = f"{spec.environment.get('DATABASE_HOST')}:{spec.environment.get('DATABASE_PORT')}"
    clusters = client("rds").describe_db_clusters()["DBClusters"]
    endpoints = {f"{c['Endpoint']}:{c['Port']}" for c in clusters}
    for name in ("DATABASE_USERNAME", "DATABASE_PASSWORD"):
        if name not in secrets:
            raise IntegrationFailure(f"migration task {spec.family}: no {name} among its secrets")
    print(f"  task definition {spec.family} (output {MIGRATION_OUTPUT}): command {list(spec.command)}")
    print(f"  database endpoint in the task definition: {declared} (emulated Aurora: no SQL behind it)")
    checks = [
        Check(
            "the migration task's database is the applied Aurora cluster",
            declared in endpoints,
            f"{declared}; clusters: {sorted(endpoints) or 'none'}",
        )
    ]
    try:
        with migration_task.stand_in_database(
            username=secrets["DATABASE_USERNAME"],
            password=secrets["DATABASE_PASSWORD"],
            database=spec.environment.get("DATABASE_NAME", ""),
            log=lambda line: print(f"  {line}"),
        ) as stand_in:
            print(
                f"  STAND-IN: local PostgreSQL at {stand_in.host}:{stand_in.port} (sslmode "
                f"{stand_in.sslmode}) replaces {declared}; user, password and database are the task's"
            )
            image = migration_task.image_environment()
            env = migration_task.task_environment(spec, secrets, stand_in, image=image, scratch=scratch)
            for name in set(migration_task.SCRATCH_VARIABLES) & set(env):
                Path(env[name]).mkdir(parents=True, exist_ok=True)
            print(
                f"  environment: the image's ENV ({', '.join(sorted(image))}; its paths dropped, "
                f"scratch folders local), {len(spec.environment)} task variables, {len(secrets)} secrets"
            )
            runs = []
            for attempt in ("first", "second"):
                print(f"  $ {' '.join(argv[1:])}  ({attempt} run)", flush=True)
                runs.append(migration_task.run_migrate(argv, env))
                print(f"  -> exit {runs[-1].returncode} in {runs[-1].seconds:.1f} s: {runs[-1].message}")
    except migration_task.MigrationTaskError as error:
        raise IntegrationFailure(f"migrate: {error}") from None
    first, second = runs
    phase.note = f"{first.applied} applied, then {second.applied}; stand-in PostgreSQL for {declared}"
    return [*checks, *migrate_verdicts(first, second)]


def migrate_verdicts(first: migration_task.MigrateRun, second: migration_task.MigrateRun) -> list[Check]:
    """The first run applies the schema; the second applies nothing and says so (idempotent)."""
    return [
        Check(
            "migrate (the migration task's command) applies the schema",
            first.returncode == 0 and first.schema_ready and (first.applied or 0) > 0,
            f"exit {first.returncode} in {first.seconds:.1f} s: {first.message}",
        ),
        Check(
            "a second migrate applies nothing and says so",
            second.returncode == 0
            and second.schema_ready
            and second.applied == 0
            and migration_task.NOTHING_TO_APPLY in second.message,
            f"exit {second.returncode} in {second.seconds:.1f} s: {second.message}",
        ),
    ]


def expectations(environment: str, environments_dir: Path) -> dict[str, Any]:
    """What the checks compare against: the environment file and the guardrail definition."""
    from modules.config import load
    from policies.guardrail import load_guardrail

    config = load(environments_dir / environment)
    return {
        "account_id": config.aws.account_id,
        "region": config.aws.region,
        "min_acu": config.database.min_acu,
        "max_acu": config.database.max_acu,
        "log_retention_days": config.observability.log_retention_days,
        "certificate_arn": config.edge.certificate_arn,
        "guardrail": load_guardrail(),
    }


def print_table(run: Run, total: float) -> None:
    print("\n| phase | seconds | resources |\n|---|---:|---:|")
    for phase in run.phases:
        print(
            f"| {phase.name} | {phase.seconds:.1f} | {'' if phase.resources is None else phase.resources} |"
        )
    print(f"| **total** | {total:.1f} | |")
    failed = [c for c in run.checks if not c.ok]
    print(f"\nchecks: {len(run.checks) - len(failed)} passed, {len(failed)} failed")
    if run.excluded:
        print("\n!!! LEFT OUT OF THIS RUN (the emulator cannot serve them):")
        for address, why in run.excluded.items():
            print(f"!!!   {address}: {why}")
    print(f"\nintegration {'PASSED' if run.ok else 'FAILED'}{': ' + run.error if run.error else ''}")


def write_report(run: Run, total: float) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / "summary.json"
    report = {
        "environment": run.environment,
        "ok": run.ok,
        "error": run.error,
        "total_seconds": round(total, 1),
        "phases": [asdict(p) for p in run.phases],
        "checks": [asdict(c) for c in run.checks],
        "excluded": run.excluded,
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None, *, lifecycle_fn: Callable[..., None] = lifecycle) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="dev", help="environment folder under environments/ (default: dev)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (stack, state, plans)")
    args = parser.parse_args(argv)

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.monotonic()
    run = Run(args.env)
    work = Path(tempfile.mkdtemp(prefix=f"integration-{args.env}-"))
    try:
        shutil.copytree(ROOT / "environments", work / "environments")
        expect = expectations(args.env, work / "environments")
        with running(account_id=expect["account_id"]) as server:
            from pipeline.chain import provide_certificate

            run.endpoint = server.endpoint
            print(provide_certificate(expect["certificate_arn"], f"{args.env}.gateway.example"), flush=True)
            print(f"moto (with pipeline.aws_emulator extensions) at {server.endpoint}", flush=True)
            lifecycle_fn(run, server, work, expect)
    except IntegrationFailure as failure:
        run.error = str(failure)
    except KeyboardInterrupt:
        run.error = "interrupted"
    finally:
        total = time.monotonic() - started
        print_table(run, total)
        report = write_report(run, total)
        print(f"report: {report.relative_to(ROOT) if report.is_relative_to(ROOT) else report}")
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if run.error:
        return 2
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
