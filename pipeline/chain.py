"""The deploy chain's own steps, and the whole chain against the AWS emulator.

    python -m pipeline.chain check-digest prod [--previous dev --previous staging] [--out-dir plans]
    python -m pipeline.chain promote dev [--out-dir plans] [--smoke-report FILE] [--github-output]
    python -m pipeline.chain stages                       # the stage order, one name a line
    python -m pipeline.chain run [--stages dev,prod] [--smoke-only PART] [--keep]   (nox -s integration)

`promote` runs after a stage's smoke test passed: it records the digest that stage
ran (its apply's `image_tag` output), the commit and the applied plan's SHA-256 in
`<env>.promoted.json`, the hand-over to the next stage. `check-digest` runs after a
later stage's plan: the plan's `image_tag` must be the digest every earlier stage
promoted, at the same commit; the plan summary shown for approval then says so
(or why not, and the step fails). `run` is `nox -s integration`: every stage in
order (plan, check-digest, apply, seed secrets, migrate, smoke key, smoke, access apply,
secret grep, promote),
each against its own emulated account, calling the same commands the
deploy workflow calls (docs/gitops.md "The pipeline's commands").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.plan import COMMIT_VARIABLE, git_sha, paths

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "integration"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# The smoke checks the chain runs by default (name parts, as `nox -s smoke -- --only`): health,
# the model list, a chat per alias, embeddings and wrong keys. The deploy workflow runs them all.
CHAIN_SMOKE = ("health_", "models_listed", "chat[", "chat_streamed", "embedding", "_401")


class ChainError(Exception):
    """A step's precondition does not hold; the message names the stage, file and value."""


# ---------------------------------------------------------------- stages
def stages(environments_dir: Path = ROOT / "environments") -> list[str]:
    """The stage order: pipeline.environments' when it exists, else the environment folders.

    Without it, dev comes first and prod last, any other folder (staging) between them.
    """
    try:
        from pipeline import environments as declared  # DELIVERY's module (issue 17.1)
    except ImportError:
        declared = None
    order = getattr(declared, "stage_order", None) if declared else None
    if callable(order):
        return list(order())
    names = sorted(p.name for p in environments_dir.iterdir() if (p / "config.yaml").is_file())
    rank = {"dev": 0, "prod": 2}
    return sorted(names, key=lambda name: (rank.get(name, 1), name))


# ---------------------------------------------------------------- promote / check-digest
def promoted_path(out_dir: Path, environment: str) -> Path:
    return out_dir / f"{environment}.promoted.json"


def smoke_verdict(report: Path) -> dict[str, int]:
    """Counts of a `gateway.smoke --report` file; a failed or missing check refuses promotion."""
    if not report.is_file():
        raise ChainError(f"no smoke report at {report}: the stage's smoke test did not run")
    from gateway.smoke.runner import PASS, SKIP

    checks = json.loads(report.read_text()).get("checks") or []
    counts: dict[str, int] = {}
    for check in checks:
        counts[check["outcome"]] = counts.get(check["outcome"], 0) + 1
    failed = [c["name"] for c in checks if c["outcome"] not in (PASS, SKIP)]
    if failed or not counts.get(PASS):
        raise ChainError(
            f"{report}: the smoke test did not pass "
            f"({', '.join(failed[:5]) or 'no check passed'}): not promoted"
        )
    return counts


def promote(environment: str, out_dir: Path, smoke_report: Path) -> dict[str, Any]:
    """Record what this stage ran once its smoke test passed: the next stage plans with this digest."""
    out = paths(out_dir, environment)
    outputs_file = out_dir / f"{environment}.outputs.json"
    for needed in (outputs_file, out["meta"]):
        if not needed.is_file():
            raise ChainError(f"{needed} is missing: promote runs after `pipeline.apply {environment}`")
    image = json.loads(outputs_file.read_text()).get("image_tag")
    if not isinstance(image, str) or not DIGEST.fullmatch(image):
        raise ChainError(
            f"{outputs_file}: image_tag is {image!r}; only a digest 'sha256:<64 hex>' is promoted, "
            "never a tag that can move"
        )
    meta = json.loads(out["meta"].read_text())
    record = {
        "environment": environment,
        "image_tag": image,
        "git_sha": meta["git_sha"],
        "plan_sha256": meta["plan_hash"],
        "smoke": smoke_verdict(smoke_report),
        "promoted": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    promoted_path(out_dir, environment).write_text(json.dumps(record, indent=2) + "\n")
    return record


def planned_image(plan_json: dict[str, Any], source: Path) -> str:
    value = ((plan_json.get("variables") or {}).get("image_tag") or {}).get("value")
    if not isinstance(value, str) or not value:
        raise ChainError(f"{source}: the plan has no image_tag variable")
    return value


def check_digest(environment: str, previous: list[str], out_dir: Path) -> str:
    """The plan's image is the digest every earlier stage ran, at the plan's commit; returns the note.

    The note is appended to `<env>.plan.md` (what the approver reads) in both outcomes.
    """
    out = paths(out_dir, environment)
    for needed in (out["json"], out["meta"], out["summary"]):
        if not needed.is_file():
            raise ChainError(f"{needed} is missing: check-digest runs after `pipeline.plan {environment}`")
    image = planned_image(json.loads(out["json"].read_text()), out["json"])
    commit = json.loads(out["meta"].read_text())["git_sha"]
    problems, ran = [], []
    if previous and not DIGEST.fullmatch(image):
        problems.append(f"it plans image_tag {image!r}, not a digest")
    for stage in previous:
        record_file = promoted_path(out_dir, stage)
        if not record_file.is_file():
            problems.append(f"{record_file} is missing ({stage} was not promoted)")
            continue
        record = json.loads(record_file.read_text())
        if record["image_tag"] != image:
            problems.append(f"{stage} ran {record['image_tag']}, this plan deploys {image}")
        elif record["git_sha"] != commit:
            problems.append(f"{stage} ran it at commit {record['git_sha'][:12]}, this plan is {commit[:12]}")
        else:
            passed = record["smoke"].get("pass", 0)
            ran.append(f"{stage} ran (plan {record['plan_sha256'][:12]}, smoke {passed} passed)")
    if problems:
        note = (
            f"> [!CAUTION]\n> **Image:** `{image}` is NOT what the earlier stages ran: "
            + "; ".join(problems)
            + ". Do not approve."
        )
    elif previous:
        note = (
            f"> [!NOTE]\n> **Image:** `{image}` is the digest " + " and ".join(ran) + f", at `{commit[:12]}`."
        )
    else:
        note = f"> [!NOTE]\n> **Image:** `{image}` (first stage: the build's digest), at `{commit[:12]}`."
    summary = out["summary"].read_text().rstrip()
    out["summary"].write_text(f"{summary}\n\n{note}\n")
    if problems:
        raise ChainError(f"{environment}: " + "; ".join(problems))
    return note


def write_github_outputs(values: dict[str, str]) -> None:
    from pipeline.github import write_output

    for name, value in values.items():
        write_output(name, value)


# ---------------------------------------------------------------- the chain against the emulator
@dataclass
class Step:
    stage: str
    name: str
    seconds: float = 0.0
    ok: bool = True
    detail: str = ""


@dataclass
class ChainRun:
    stages: list[str]
    steps: list[Step] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.ok for s in self.steps)


def github_file_values(path: Path) -> dict[str, str]:
    """Read a $GITHUB_OUTPUT / $GITHUB_ENV file back (`name=value` and `name<<DELIM` blocks)."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.is_file() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        values[name] = value
        i += 1
    return values


class Chain:
    """Runs each stage's steps as the workflow does, as subprocesses, in one scratch folder."""

    def __init__(self, work: Path, smoke_only: tuple[str, ...], run: ChainRun) -> None:
        self.work = work
        self.plans = work / "plans"
        self.plans.mkdir(parents=True, exist_ok=True)
        self.smoke_only = smoke_only
        self.run = run
        self.commit = git_sha(ROOT)  # the whole run is this commit, as a workflow run is

    def step(self, stage: str, name: str, action) -> Any:
        step = Step(stage, name)
        self.run.steps.append(step)
        print(f"\n=== {stage}: {name}", flush=True)
        started = time.monotonic()
        try:
            result = action(step)
        except BaseException as error:
            step.ok, step.detail = False, f"{type(error).__name__}: {error}"
            raise
        finally:
            step.seconds = round(time.monotonic() - started, 1)
            print(
                f"=== {stage}: {name} {'ok' if step.ok else 'FAILED'} in {step.seconds:.1f} s {step.detail}"
            )
        return result

    def command(self, argv: list[str], env: dict[str, str], what: str, ok=(0,)) -> int:
        done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, check=False)
        if done.returncode not in ok:
            raise ChainError(f"{what}: `{' '.join(argv[:3])}` exited {done.returncode}")
        return done.returncode

    def stage(self, environment: str, previous: list[str], image: str) -> str:
        from modules.config import load
        from pipeline.aws_emulator import running

        config = load(ROOT / "environments" / environment)
        region = config.aws.region
        github_output = self.work / f"{environment}.github_output"
        with running(account_id=config.aws.account_id) as server:
            from pipeline.integration import Workspace

            print(
                provide_certificate(config.edge.certificate_arn, f"{environment}.gateway.example"), flush=True
            )
            space = Workspace(self.work / environment, environment, server.endpoint, region)
            env = {
                **space.env,
                "GITHUB_OUTPUT": str(github_output),
                "AWS_ENDPOINT_URL": server.endpoint,
                COMMIT_VARIABLE: self.commit,
            }
            stacks = self.work / environment / "out" / "stacks"

            def plan(step: Step) -> None:
                self.command(
                    [
                        "-m", "pipeline.plan", environment, "--image-tag", image,
                        "--out-dir", str(self.plans), "--stacks-dir", str(stacks),
                        "--aws-endpoint", server.endpoint, "--local-backend", str(space.state_dir),
                        "--github-output",
                    ],
                    env,
                    f"{environment} plan",
                )  # fmt: skip
                step.detail = f"plan_sha256 {github_file_values(github_output)['plan_sha256'][:12]}"

            def digest(step: Step) -> None:
                step.detail = check_digest(environment, previous, self.plans).splitlines()[-1]

            def apply(step: Step) -> None:
                sha = github_file_values(github_output)["plan_sha256"]
                argv = ["-m", "pipeline.apply", environment, "--out-dir", str(self.plans)]
                self.command([*argv, "--plan-sha256", sha, "--github-output"], env, f"{environment} apply")
                # The reviewed plan is the applied plan: applying it again must be refused, state moved.
                again = subprocess.run(
                    [sys.executable, *argv, "--plan-sha256", sha],
                    cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                )  # fmt: skip
                errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
                if (
                    again.returncode != 4
                    or len(errors) != 1
                    or "state changed since the plan" not in errors[0]
                ):
                    raise ChainError(f"{environment}: re-applying the applied plan was not refused: {errors}")
                step.detail = f"re-apply refused: {errors[0][:90]}"

            def seed(step: Step) -> None:
                # The stack leaves the key secrets empty (no value in any plan): the workflow writes them.
                argv = ["-m", "pipeline.seed_secrets", environment, "--out-dir", str(self.plans)]
                self.command(argv, env, f"{environment} seed secrets")
                again = subprocess.run(
                    [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
                )
                wrote = ": written (" in again.stdout or ": rotated (" in again.stdout
                if again.returncode != 0 or wrote or again.stdout.count(": unchanged (") != 2:
                    raise ChainError(
                        f"{environment}: a second seed_secrets run was not a no-op: {again.stdout}"
                    )
                step.detail = "master and salt keys written; a second run wrote nothing"

            def migrate(step: Step) -> None:
                from pipeline.integration import IntegrationFailure, Phase, migrate_twice

                space.stack_dir = next(stacks.iterdir())
                phase = Phase("migrate")
                try:
                    checks = migrate_twice(
                        space, lambda service: server.client(service, region), space.work / "migrate", phase
                    )
                except IntegrationFailure as failure:
                    raise ChainError(f"{environment} migrate: {failure}") from None
                failed = [c for c in checks if not c.ok]
                if failed:
                    raise ChainError(
                        f"{environment} migrate: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
                    )
                step.detail = phase.note

            local = LocalGateway(self, environment, server, region, env)

            def smoke(step: Step) -> None:
                self.smoke(environment, env, step, local)

            def hand_over(step: Step) -> str:
                record = promote(environment, self.plans, self.plans / f"{environment}.smoke.json")
                step.detail = f"{record['image_tag'][:19]}… smoke {record['smoke']}"
                return record["image_tag"]

            self.step(environment, "plan", plan)
            self.step(environment, "check-digest", digest)
            self.step(environment, "apply", apply)
            self.step(environment, "seed secrets", seed)
            self.step(environment, "migrate", migrate)
            try:
                self.step(environment, "local stack (admin task definition)", local.start)
                self.step(environment, "smoke key (admin smoke-key)", local.smoke_key)
                self.step(environment, "smoke", smoke)
                self.step(environment, "access apply (admin access apply)", local.access_apply)
            finally:
                local.stop()
            # Last, so the values the admin task wrote (the smoke key, the service keys) are among those
            # searched for, in every report the stage's steps left.
            self.step(
                environment, "secret grep", lambda step: self.secret_grep(environment, space, server, step)
            )
            return self.step(environment, "promote", hand_over)

    def smoke(self, environment: str, env: dict[str, str], step: Step, local: LocalGateway) -> None:
        """Read the key as the workflow does (stack output -> export-secret), smoke the stage's stack."""
        outputs = github_file_values(Path(env["GITHUB_OUTPUT"]))
        github_env = self.work / f"{environment}.github_env"
        github_env.unlink(missing_ok=True)
        self.command(
            [
                "-m", "pipeline.github", "export-secret",
                "--secret-id", outputs.get("smoke_key_secret_arn", ""),
                "--json-key", outputs.get("smoke_key_json_key", ""),
                "--env-name", "GATEWAY_API_KEY",
            ],
            {**env, "GITHUB_ENV": str(github_env)},
            f"{environment} smoke key (stack output smoke_key_secret_arn)",
        )  # fmt: skip
        key = github_file_values(github_env).get("GATEWAY_API_KEY", "")
        if not key:
            raise ChainError(f"{environment}: export-secret wrote no GATEWAY_API_KEY to {github_env}")
        if key == local.master_key:
            raise ChainError(f"{environment}: smoke_key_secret_arn holds the master key, not a scoped key")
        report = self.plans / f"{environment}.smoke.json"
        only = [arg for part in self.smoke_only for arg in ("--only", part)]
        stack = local.require()
        smoke_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "GATEWAY_API_KEY": key,
        }
        code = self.command(
            [
                "-m", "gateway.smoke", "--url", stack.gateway_url, "--environment", environment,
                "--report", str(report), *only,
            ],
            smoke_env,
            f"{environment} smoke",
            ok=(0, 1),
        )  # fmt: skip
        counts = smoke_verdict(report) if code == 0 else None
        if counts is None:
            raise ChainError(f"{environment}: the smoke test failed (report {report})")
        step.detail = f"scoped key from stack output smoke_key_secret_arn; {counts}"

    def secret_grep(self, environment: str, space: Any, server: Any, step: Step) -> None:
        """pipeline.secret_grep (issue 17.4): no generated secret value in stack, state, plan or outputs."""
        from pipeline import secret_grep

        space.stack_dir = next((self.work / environment / "out" / "stacks").iterdir())
        state = json.loads(space.tf("show", "-json", capture=True))
        secrets = secret_grep.generated_secrets(
            secret_grep.secrets_manager_values(server.client("secretsmanager", space.env["AWS_REGION"])),
            secret_grep.state_sensitive_values(state),
        )
        files = [
            *self.plans.glob(f"{environment}.*"),
            space.state_dir,
            space.stack_dir / "cdk.tf.json",
            self.work / f"{environment}.github_output",  # the step outputs the workflow passes on
        ]
        try:
            leaks = secret_grep.find_leaks(secrets, files)
        except ValueError as error:
            raise ChainError(f"{environment} secret grep: {error}") from None
        if leaks:
            raise ChainError(f"{environment}: secret values leaked: " + "; ".join(map(str, leaks[:5])))
        step.detail = f"{len(secrets)} secret values, none in {len(files)} stack/state/plan paths"


# The admin task's command is run here with the task definition's own variables, except those a local
# stand-in replaces: the database (the local stack's, as the serving role) and its sign-in.
STAND_IN_VARIABLES = ("DATABASE_", "IAM_TOKEN_DB_AUTH")
ADMIN_OUTPUTS = ("admin_task_definition_arn", "smoke_key_secret_arn", "smoke_key_json_key")


class LocalGateway:
    """The stage's gateway on this machine, and its admin task run against it (no ECS here).

    `start` reads the admin task definition back from the emulator (its command must be the image's
    `admin`), resolves its secrets as the ECS agent would and starts a local stack with that master
    key, once for the stage. `smoke_key` and `access_apply` run `python -m gateway.entrypoint admin …`
    against that stack's database, with the task's variables and Secrets Manager calls going to the
    emulator, as `python -m pipeline.admin <env> …` runs them in AWS.
    """

    def __init__(self, chain: Chain, environment: str, server: Any, region: str, env: dict[str, str]) -> None:
        self.chain, self.environment, self.server = chain, environment, server
        self.region, self.env = region, env
        self.stack: Any = None
        self.master_key = ""
        self.task_variables: dict[str, str] = {}

    def require(self) -> Any:
        if self.stack is None:
            raise ChainError(f"{self.environment}: the local stack did not start")
        return self.stack

    def start(self, step: Step) -> None:
        from gateway.devstack import LocalStack
        from pipeline import migration_task, stack_outputs

        outputs = stack_outputs.read(self.chain.plans, self.environment, ADMIN_OUTPUTS, ChainError)
        arn = str(outputs["admin_task_definition_arn"])
        try:
            spec = migration_task.task_spec(self.server.client("ecs", self.region), arn)
            secrets = migration_task.resolve_secrets(
                self.server.client("secretsmanager", self.region), spec.secrets
            )
        except migration_task.MigrationTaskError as error:
            raise ChainError(f"{self.environment} admin task: {error}") from None
        if spec.command[:1] != ("admin",):
            raise ChainError(
                f"{self.environment}: {arn} runs {list(spec.command)}, not the image's `admin` command"
            )
        if not secrets.get("LITELLM_MASTER_KEY"):
            raise ChainError(f"{self.environment}: the admin task definition passes no LITELLM_MASTER_KEY")
        self.master_key = secrets["LITELLM_MASTER_KEY"]
        self.task_variables = {
            name: value for name, value in spec.environment.items() if not name.startswith(STAND_IN_VARIABLES)
        }
        # The stack's default work folder: PostgreSQL runs as another user, who cannot enter a mkdtemp folder.
        stack = LocalStack(environment=self.environment, master_key=self.master_key)
        stack.start()
        self.stack = stack
        if not stack.database_enabled:
            raise ChainError(
                f"{self.environment}: the local stack has no database ({stack.database_skip_reason})"
            )
        step.detail = f"{spec.family}: command {' '.join(spec.command[:2])}…; master key from its secrets"

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None

    def run(self, program: list[str]) -> Any:
        """One admin program, as the runner runs the task: its output printed, its exit code returned."""
        from gateway.devstack.admin import run_admin

        aws = {
            **self.task_variables,
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AWS_ACCESS_KEY_ID": self.env.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": self.env.get("AWS_SECRET_ACCESS_KEY", "testing"),
        }
        done = run_admin(self.require(), program, aws=aws)
        for line in done.stdout.splitlines():
            print(f"    {line}", flush=True)
        if done.returncode not in (0, 2):
            for line in done.stderr.splitlines()[-30:]:
                print(f"    {line}", flush=True)
        return done

    def smoke_key(self, step: Step) -> None:
        done = self.run(["smoke-key", "--env", self.environment])
        if done.returncode != 0:
            raise ChainError(f"{self.environment}: admin smoke-key exited {done.returncode}")
        minted = next((line for line in done.stdout.splitlines() if line.startswith("smoke key ")), "")
        step.detail = f"{minted.split(':', 1)[0]} in {done.seconds:.0f} s (LiteLLM start included)"

    def access_apply(self, step: Step) -> None:
        done = self.run(["access", "apply", "--env", self.environment])
        if done.returncode != 0:
            raise ChainError(f"{self.environment}: admin access apply exited {done.returncode}")
        summary = next((line for line in done.stdout.splitlines() if line.startswith("Plan: ")), "")
        step.detail = f"{summary} in {done.seconds:.0f} s"


def provide_certificate(certificate_arn: str | None, domain: str) -> str:
    """Issue the certificate an environment names in the emulated ACM, under that very ARN.

    In AWS the team issues it before the first deploy (docs/gitops.md "What a team must
    create") and the stack only refers to it; the emulator starts empty, and ACM's API
    cannot choose an ARN, so the emulator's backend (in this process) is given it directly.
    """
    if not certificate_arn:
        return "no certificate named"
    from moto.acm.models import CertBundle, acm_backends

    _, _, _, region, account, _ = certificate_arn.split(":", 5)
    bundle = CertBundle.generate_cert(domain, account_id=account, region=region)
    bundle.arn = certificate_arn
    acm_backends[account][region]._certificates[certificate_arn] = bundle
    return f"certificate {certificate_arn.rsplit('/', 1)[-1][:8]}… issued in the emulated ACM"


def build_digest() -> str:
    """Stand-in for the build job's ECR digest: derived from the commit, so every stage gets the same."""
    import hashlib

    return "sha256:" + hashlib.sha256(f"llm-gateway image {git_sha(ROOT)}".encode()).hexdigest()


def run_chain(chosen: list[str], smoke_only: tuple[str, ...], keep: bool) -> int:
    run = ChainRun(chosen)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="chain-"))
    try:
        chain = Chain(work, smoke_only, run)
        image = build_digest()
        print(f"stages: {' -> '.join(chosen)}; build digest (stand-in) {image}", flush=True)
        for index, environment in enumerate(chosen):
            image = chain.stage(environment, chosen[:index], image)
    except ChainError as error:
        run.error = str(error)
    except KeyboardInterrupt:
        run.error = "interrupted"
    except Exception as error:  # a broken step: reported with the table, and the run fails
        run.error = f"{type(error).__name__}: {error}"
    finally:
        total = round(time.monotonic() - started, 1)
        REPORTS.mkdir(parents=True, exist_ok=True)
        report = REPORTS / "chain.json"
        report.write_text(
            json.dumps(
                {
                    "ok": run.ok,
                    "error": run.error,
                    "total_seconds": total,
                    "steps": [asdict(s) for s in run.steps],
                },
                indent=2,
            )
            + "\n"
        )
        print("\n| stage | step | seconds | result |\n|---|---|---:|---|")
        for s in run.steps:
            print(
                f"| {s.stage} | {s.name} | {s.seconds:.1f} | {'ok' if s.ok else 'FAILED'}: {s.detail[:110]} |"
            )
        print(f"| **total** | | {total:.1f} | |")
        print(
            f"\nchain {'PASSED' if run.ok else 'FAILED'}{': ' + run.error if run.error else ''}; "
            f"report {report}"
        )
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if run.ok else 1


# ---------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check-digest", help="after a later stage's plan: its image is what ran before"
    )
    check.add_argument("environment")
    check.add_argument(
        "--previous", action="append", help="an earlier stage (repeatable; default: all before it)"
    )
    check.add_argument("--out-dir", type=Path, default=Path("plans"))
    up = commands.add_parser("promote", help="after a stage's smoke test: hand its digest to the next stage")
    up.add_argument("environment")
    up.add_argument("--out-dir", type=Path, default=Path("plans"))
    up.add_argument("--smoke-report", type=Path, help="default: <out-dir>/<env>.smoke.json")
    up.add_argument("--github-output", action="store_true", help="write digest= to $GITHUB_OUTPUT")
    commands.add_parser("stages", help="print the stage order")
    whole = commands.add_parser("run", help="every stage against the AWS emulator (nox -s integration)")
    whole.add_argument("--stages", help="comma-separated subset, in order (default: all)")
    whole.add_argument(
        "--smoke-only", action="append", help=f"smoke check name parts (default: {', '.join(CHAIN_SMOKE)})"
    )
    whole.add_argument("--smoke-all", action="store_true", help="run every smoke check, as the deploy does")
    whole.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    order = stages()
    try:
        if args.command == "stages":
            print("\n".join(order))
        elif args.command == "check-digest":
            if args.environment not in order:
                raise ChainError(f"unknown stage {args.environment!r}: allowed {', '.join(order)}")
            previous = args.previous if args.previous is not None else order[: order.index(args.environment)]
            print(check_digest(args.environment, previous, args.out_dir))
        elif args.command == "promote":
            report = args.smoke_report or args.out_dir / f"{args.environment}.smoke.json"
            record = promote(args.environment, args.out_dir, report)
            if args.github_output:
                write_github_outputs({"digest": record["image_tag"]})
            print(f"promoted {args.environment}: {record['image_tag']} (smoke {record['smoke']})")
        else:
            chosen = args.stages.split(",") if args.stages else order
            unknown = [name for name in chosen if name not in order]
            if unknown:
                raise ChainError(f"--stages: unknown {', '.join(unknown)}; allowed {', '.join(order)}")
            smoke_only = () if args.smoke_all else tuple(args.smoke_only or CHAIN_SMOKE)
            return run_chain(chosen, smoke_only, args.keep)
    except (ChainError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
