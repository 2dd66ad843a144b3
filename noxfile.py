"""Every job this repository does, locally and in CI: `nox -l` lists them.

Sessions share three hash-locked virtual environments (requirements/*.txt)
instead of one per session: the CDKTF provider bindings and LiteLLM weigh
1.3 GB together, and installing them once per session would dominate CI time.
checkov and the Phoenix server get their own environments because their pins
conflict with LiteLLM's (checkov) or slow down every client import (Phoenix).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
VENVS = ROOT / ".nox" / "_envs"
LOCKS = ROOT / "requirements"

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", "synth", "validate", "policy"]
nox.options.error_on_missing_interpreters = True

# lock name -> dependency groups of pyproject.toml it resolves
LOCK_SETS = {
    "bootstrap": ["bootstrap"],
    "dev": ["infra", "gateway", "devtools", "aws-emulator", "lint"],
    "policy": ["policy"],
    "phoenix": ["phoenix-server"],
}
# The container's own lock lives beside its Dockerfile.
IMAGE_LOCK = ROOT / "gateway" / "requirements.lock"
# The official openai Node SDK the smoke's Node check calls (package-lock.json pins it by hash).
NODE_SDK = ROOT / "gateway" / "smoke" / "node_sdk"
# Prisma's WebAssembly query engine behind the native binary's interface: LiteLLM's database locally.
PRISMA_ENGINE = ROOT / "gateway" / "prisma_engine"


def _quiet_env() -> dict[str, str]:
    """Environment every session shares: offline-safe and quiet."""
    env = {
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CHECKPOINT_DISABLE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


def venv(session: nox.Session, name: str) -> Path:
    """Create (once) the named locked venv and return its bin directory.

    A stamp of the lock file's hash makes re-runs skip the install; a changed
    lock reinstalls.
    """
    lock = LOCKS / f"{name}.txt"
    path = VENVS / name
    bin_dir = path / "bin"
    stamp = path / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and (bin_dir / "python").exists():
        return bin_dir
    session.log(f"installing the '{name}' environment from {lock.relative_to(ROOT)} (first run only)")
    if path.exists():
        shutil.rmtree(path)
    session.run(sys.executable, "-m", "venv", str(path), external=True)
    session.run(
        str(bin_dir / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--require-hashes",
        "--no-deps",
        "-r",
        str(lock),
        external=True,
    )
    stamp.write_text(digest)
    return bin_dir


def node_packages(session: nox.Session, folder: Path) -> None:
    """`npm ci` a hash-locked package folder (once per lock), when Node is there; else the check skips."""
    npm = shutil.which("npm")
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if npm is None or (stamp.exists() and stamp.read_text() == digest):
        return
    session.log(f"installing {folder.relative_to(ROOT)}'s npm packages from its lock (first run only)")
    session.run(
        npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(folder), external=True
    )
    stamp.write_text(digest)


def database_engine(session: nox.Session) -> None:
    """LiteLLM's database engine for the local stack and its tests: npm packages, then the Prisma client.

    The client is generated in its own process before pytest starts: a process that has imported
    prisma-client-py's stub (LiteLLM's proxy imports it) cannot pick up a client generated later.
    Where it cannot be generated (no Node), the reason is printed and the stack runs without it.
    """
    node_packages(session, PRISMA_ENGINE)
    py(session, "-m", "gateway.prisma_engine", "generate", success_codes=[0, 1])


def stack_tool(session: nox.Session, module: str, *args: str) -> None:
    """Run a tool that starts a local stack (or targets one): Phoenix's venv and the database engine first."""
    venv(session, "phoenix")
    database_engine(session)
    py(session, "-m", module, *args, *session.posargs)


def run_in(session: nox.Session, bin_dir: Path, *args: str, env: dict[str, str] | None = None, **kw):
    """Run a command with `bin_dir` first on PATH (as if the venv were active)."""
    full_env = {
        **_quiet_env(),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(bin_dir.parent),
        "NOX_POLICY_BIN": str(VENVS / "policy" / "bin"),
        "NOX_PHOENIX_BIN": str(VENVS / "phoenix" / "bin"),
        **(env or {}),
    }
    # nox looks programs up on its own PATH, not the one passed in env: resolve venv tools here.
    program = bin_dir / args[0]
    if program.exists():
        args = (str(program), *args[1:])
    return session.run(*args, env=full_env, external=True, **kw)


def py(session: nox.Session, *args: str, venv_name: str = "dev", **kw):
    """Run `python <args>` inside a locked venv."""
    bin_dir = venv(session, venv_name)
    return run_in(session, bin_dir, str(bin_dir / "python"), *args, **kw)


# ---------------------------------------------------------------- checks
@nox.session
def lint(session: nox.Session) -> None:
    """ruff, hadolint on the Dockerfile, and the workflow linter."""
    bin_dir = venv(session, "dev")
    run_in(session, bin_dir, "ruff", "check", ".")
    run_in(session, bin_dir, "ruff", "format", "--check", ".")
    hadolint_config = str(ROOT / "gateway" / ".hadolint.yaml")
    run_in(session, bin_dir, "hadolint", "--config", hadolint_config, str(ROOT / "gateway" / "Dockerfile"))
    py(session, "-m", "pipeline.lint_workflows")


@nox.session
def tests(session: nox.Session) -> None:
    """pytest: constructs, config, gateway config, emulator protocol, renderers, policies."""
    venv(session, "policy")  # policy tests run checkov from its own venv
    venv(session, "phoenix")  # the admin command's tests start a local stack (Phoenix is part of it)
    database_engine(session)  # its tests drive it against PostgreSQL
    py(session, "-m", "pytest", *session.posargs)


@nox.session
def synth(session: nox.Session) -> None:
    """Synthesize every environment, or those named after `--` (nox -s synth -- prod)."""
    py(session, "main.py", *session.posargs)


@nox.session
def validate(session: nox.Session) -> None:
    """Offline `terraform init` + `terraform validate` of each synthesized stack."""
    py(session, "main.py", *session.posargs)
    py(session, "-m", "pipeline.validate", *session.posargs)


@nox.session
def policy(session: nox.Session) -> None:
    """The checkov gate: synthesized stacks, Dockerfile, workflows, with policies/ and waivers."""
    py(session, "main.py")
    venv(session, "policy")
    py(session, "-m", "policies.gate", *session.posargs)


# ---------------------------------------------------------------- gateway
@nox.session
def build(session: nox.Session) -> None:
    """Build the gateway image tagged with the commit SHA, then prove it serves with its database."""
    node_packages(session, PRISMA_ENGINE)  # the wasm engine route copies them into the image
    py(session, "-m", "gateway.build", *session.posargs)


@nox.session
def serve(session: nox.Session) -> None:
    """The local stack (Bedrock emulator, Postgres, Redis, Phoenix, LiteLLM) until Ctrl-C."""
    stack_tool(session, "gateway.devstack", "serve")


@nox.session
def smoke(session: nox.Session) -> None:
    """Local stack up, client checks, down; or checks only with `-- --url URL --key KEY`."""
    node_packages(session, NODE_SDK)
    stack_tool(session, "gateway.smoke")


@nox.session
def access(session: nox.Session) -> None:
    """Teams and keys as code: `-- plan|apply [--env ENV] [--url URL --key KEY]`, `-- diff --base REF`."""
    diff = session.posargs[:1] == ["diff"]
    if not diff and "--url" not in session.posargs:
        venv(session, "phoenix")  # no --url: a local stack is started, as for smoke
        database_engine(session)
    # plan: exit 2 (changes or drift) fails the session, as drift should; diff: 2 only means "changed".
    py(session, "-m", "pipeline.access", *session.posargs, success_codes=[0, 2] if diff else [0])


@nox.session
def load(session: nox.Session) -> None:
    """Locust load test (headless; thresholds as arguments) against the local stack or `--url`."""
    stack_tool(session, "gateway.perf.load")


@nox.session(name="eval")
def eval_(session: nox.Session) -> None:
    """SQuAD exact-match/F1 evaluation through a Phoenix experiment, per model alias."""
    stack_tool(session, "gateway.perf.squad")


@nox.session
def bench(session: nox.Session) -> None:
    """Added latency and CPU per request over direct: full vs the reference design vs bare (same run)."""
    stack_tool(session, "gateway.perf.bench")


@nox.session
def soak(session: nox.Session) -> None:
    """Memory per worker under steady load: `-- --minutes N` (default 30) at 60 % of capacity."""
    stack_tool(session, "gateway.perf.soak")


@nox.session
def workers(session: nox.Session) -> None:
    """1 against 2 uvicorn workers, proxy pinned to 1 and 2 vCPU: `-- --workers 1,2 --cpus 1,2`."""
    stack_tool(session, "gateway.perf.workers")


@nox.session
def ttft(session: nox.Session) -> None:
    """Time to first token, direct vs through the gateway (streamed, realistic latency): issue 19."""
    stack_tool(session, "gateway.perf.ttft")


@nox.session
def costs(session: nox.Session) -> None:
    """In-process prices of single parts, finer than the bench resolves: `-- tracing|routing [flags]`."""
    tools = {"tracing": "gateway.perf.tracing_cost", "routing": "gateway.perf.routing_cost"}
    chosen = session.posargs[:1] or list(tools)
    if chosen[0] not in tools:
        session.error(f"unknown part {chosen[0]!r}: choose from {', '.join(tools)} (or none for both)")
    for name in chosen:
        session.log(f"costs: {name} ({tools[name]})")
        py(session, "-m", tools[name], *session.posargs[1:])


# ---------------------------------------------------------------- delivery
@nox.session
def environments(session: nox.Session) -> None:
    """The environments' matrix for the workflows, in deploy order (`-- --matrix [--github-output]`)."""
    py(session, "-m", "pipeline.environments", *session.posargs)


@nox.session
def plan(session: nox.Session) -> None:
    """Plan one environment (`-- dev`): plan file, plan JSON, policy gate, Markdown summary."""
    venv(session, "policy")
    py(session, "-m", "pipeline.plan", *session.posargs)


@nox.session
def apply(session: nox.Session) -> None:
    """Apply the saved plan of one environment (`-- dev`); refuses a stale plan."""
    py(session, "-m", "pipeline.apply", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """The deploy chain per stage against the AWS emulator (plan, apply, seed, migrate, smoke, promote),
    then dev's lifecycle (read-back checks, an in-place change, re-plan, destroy: pipeline/integration.py).

    `-- --stages dev,prod` or `-- --smoke-all` run the chain only; `-- lifecycle [--env dev]` the lifecycle.
    """
    venv(session, "policy")
    if session.posargs[:1] == ["lifecycle"]:
        py(session, "-m", "pipeline.integration", *session.posargs[1:])
        return
    venv(session, "phoenix")  # the smoke step's local stack
    database_engine(session)
    node_packages(session, NODE_SDK)
    py(session, "-m", "pipeline.chain", "run", *session.posargs)
    if not session.posargs:
        py(session, "-m", "pipeline.integration")


# ---------------------------------------------------------------- maintenance
@nox.session
def lock(session: nox.Session) -> None:
    """Re-resolve requirements/*.txt and gateway/requirements.lock with hashes (needs uv)."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        session.error("uv is not on PATH: `pip install uv==0.13.9` first")
    common = [
        "--python-version",
        "3.11",
        "--python-platform",
        "x86_64-manylinux_2_28",
        "--generate-hashes",
        "--custom-compile-command",
        "nox -s lock",
    ]
    for name, groups in LOCK_SETS.items():
        flags = [f for g in groups for f in ("--group", g)]
        session.run(
            uv,
            "pip",
            "compile",
            "pyproject.toml",
            *flags,
            *common,
            "-o",
            f"requirements/{name}.txt",
            external=True,
        )
    session.run(
        uv,
        "pip",
        "compile",
        "pyproject.toml",
        "--group",
        "gateway",
        *common,
        "-o",
        str(IMAGE_LOCK.relative_to(ROOT)),
        external=True,
    )
    bad = subprocess.run(
        ["grep", "-lE", r"^litellm==1\.82\.(7|8)\b", *map(str, LOCKS.glob("*.txt")), str(IMAGE_LOCK)],
        capture_output=True,
        text=True,
    ).stdout
    if bad:
        session.error(f"a compromised litellm release was resolved in: {bad}")
