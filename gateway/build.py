"""Build the gateway image with whichever builder this machine has, then prove it serves with its database.

    nox -s build                      # local: tag <repo>:<git sha>; verify migrate, a key, a chat call
    nox -s build -- --base official --prisma native --push <account>.dkr.ecr.<region>.amazonaws.com/<repo>

Builders are tried in order: docker (only with a reachable daemon), podman,
buildah. Every image carries LiteLLM's Prisma client and a query engine, or the
build fails (choose()): `--base official` (the release) is the digest-pinned
Python image with Prisma's native engines, downloaded at build time; `--base
debian` is a base made here from Debian packages with mmdebstrap
(gateway/base_image.py) with Prisma's WebAssembly engine behind the project's
engine server (gateway/prisma_engine), the local stack's route. `--base auto`
takes the official base when it can be pulled, else says loudly that it fell
back to the unpinned Debian base; it cannot push.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway import base_image, prisma_engine, render

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "gateway" / "Dockerfile"
REPOSITORY = "llm-gateway"
BUILDERS = ("docker", "podman", "buildah")
# Rootless-friendly and daemonless: what works as root inside a container too.
BUILDAH_STORAGE = ("--storage-driver", "vfs")
CA_CANDIDATES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
DEFAULT_CA = Path("/etc/ssl/certs/ca-certificates.crt")
INSTALL_HINT = "install one: `apt-get install -y buildah mmdebstrap` (Debian/Ubuntu, no daemon needed)"


def shipped_paths(dockerignore: Path = ROOT / ".dockerignore") -> tuple[str, ...]:
    """The files and folders the image ships: the build context's allow-list (its `!` lines)."""
    lines = (line.strip() for line in dockerignore.read_text().splitlines())
    return tuple(line[1:].rstrip("/") for line in lines if line.startswith("!"))


# What goes into the image: a change to one of these makes the tag -dirty.
IMAGE_INPUTS = (".dockerignore", "gateway/Dockerfile", *shipped_paths())


BASES = ("auto", "official", "debian")
ENGINES = ("auto", "native", "wasm")  # auto: native on the official base, wasm on the Debian base
# What the verification's chat call sends: a model of the dev catalogue the emulator answers.
VERIFY_MODEL = "nova-lite"
VERIFY_GUARDRAIL = ("build-check", "1")


class NoBuilder(RuntimeError):
    """No container builder works here; the message says what each candidate lacks."""


class Refused(ValueError):
    """The flags ask for an image this build will not make; the message says what to pass instead."""


@dataclass(frozen=True)
class Choice:
    """The base and Prisma engine the build uses, and what the caller must be told about them."""

    base: str  # official | debian | custom
    base_image: str | None  # None: build the Debian base (gateway/base_image.py)
    engine: str  # native | wasm
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Builder:
    name: str
    executable: str

    @property
    def base(self) -> list[str]:
        """The builder invocation every command starts with."""
        if self.name == "buildah":
            return [self.executable, *BUILDAH_STORAGE]
        return [self.executable]


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    tags: tuple[str, ...]
    base_image: str | None
    prisma_engine: str
    git_sha: str
    secrets: Mapping[str, Path] = field(default_factory=dict)
    context: Path = ROOT
    dockerfile: Path = DOCKERFILE


# ---------------------------------------------------------------- pure: detection and commands
def detect_builder(
    which: Callable[[str], str | None] = shutil.which,
    works: Callable[[list[str]], tuple[bool, str]] | None = None,
) -> Builder:
    """The first builder that works, in BUILDERS order; NoBuilder says why each failed."""
    works = works or _works
    reasons = []
    for name in BUILDERS:
        executable = which(name)
        if executable is None:
            reasons.append(f"{name}: not installed")
            continue
        probe = (
            [executable, "info"]
            if name in ("docker", "podman")
            else [executable, *BUILDAH_STORAGE, "version"]
        )
        ok, detail = works(probe)
        if ok:
            return Builder(name, executable)
        what = "no reachable daemon" if name == "docker" else "not usable"
        reasons.append(f"{name}: installed but {what} ({detail})")
    raise NoBuilder("no container builder works here:\n  " + "\n  ".join(reasons) + f"\n{INSTALL_HINT}")


def _works(command: list[str]) -> tuple[bool, str]:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, str(error)
    last = (result.stderr or result.stdout).strip().splitlines()
    return result.returncode == 0, (last[-1][:160] if last else f"exit {result.returncode}")


def image_tags(repository: str, sha: str, dirty: bool) -> tuple[str, ...]:
    """<repo>:<full sha> and <repo>:<short sha>; `-dirty` when the image inputs have uncommitted changes."""
    if not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise ValueError(f"not a full git SHA: {sha!r}")
    suffix = "-dirty" if dirty else ""
    return (f"{repository}:{sha}{suffix}", f"{repository}:{sha[:12]}{suffix}")


def check_flags(base: str, engine: str, *, base_image: str | None, push: bool) -> None:
    """Refuse, before any work, a combination that could ship an image nobody chose."""
    if push and base_image is None and base == "auto":
        raise Refused(
            "--push with --base auto is refused: auto may fall back to the unpinned Debian base. Name "
            "the base: --base official (the release), or --base debian / --base-image for a test registry"
        )
    if base_image is not None and engine == "auto":
        raise Refused(
            "--base-image needs --prisma native or --prisma wasm (auto cannot tell what that base holds)"
        )


def choose(
    base: str, engine: str, *, official: str, pullable: bool | None, pull_error: str = "",
    base_image: str | None = None,
) -> Choice:  # fmt: skip
    """The base and engine for these flags; `pullable` says whether the official base could be pulled.

    Never a silent fallback: `--base official` that cannot be pulled is refused, and `--base auto`
    falling back to the Debian base returns warnings saying so.
    """
    if base not in BASES or engine not in ENGINES:
        raise Refused(f"--base must be one of {', '.join(BASES)} and --prisma one of {', '.join(ENGINES)}")
    warnings: list[str] = []
    if base_image is not None:
        kind, image = "custom", base_image
    elif base == "official" or (base == "auto" and pullable):
        if not pullable:
            raise Refused(f"--base official: cannot pull {official}: {pull_error or 'pull failed'}")
        kind, image = "official", official
    else:
        kind, image = "debian", None
        if base == "auto":
            warnings.append(
                f"--base auto could not pull the pinned official base {official} "
                f"({pull_error or 'pull failed'}): using the Debian base built here from Debian packages, "
                "NOT pinned by digest. "
                "A release build passes --base official and fails instead."
            )
    if engine == "auto":
        engine = "wasm" if kind == "debian" else "native"
    return Choice(kind, image, engine, tuple(warnings))


def build_command(builder: Builder, request: BuildRequest) -> list[str]:
    args = {"PRISMA_ENGINE": request.prisma_engine, "GIT_SHA": request.git_sha}
    if request.base_image:
        args["BASE_IMAGE"] = request.base_image
    command = [*builder.base, "bud" if builder.name == "buildah" else "build"]
    if builder.name in ("buildah", "podman"):
        # The docker format keeps HEALTHCHECK and SHELL, which OCI image configs drop.
        command += ["--format", "docker"]
    if builder.name == "buildah":
        # No --layers: with vfs storage every cached step is a full copy of the
        # root filesystem (about 15 GB for this Dockerfile); one layer per stage is not.
        command += ["--isolation", "chroot"]
    command += ["--file", str(request.dockerfile)]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    for name, path in request.secrets.items():
        command += ["--secret", f"id={name},src={path}"]
    for tag in request.tags:
        command += ["--tag", tag]
    return [*command, str(request.context)]


def build_environment(builder: Builder) -> dict[str, str]:
    # Build secrets need BuildKit with the docker CLI.
    return {**os.environ, "DOCKER_BUILDKIT": "1"} if builder.name == "docker" else dict(os.environ)


def push_commands(builder: Builder, tag: str, destination: str) -> list[list[str]]:
    """Tag `<destination>:<tag's version>` and push it."""
    remote = f"{destination}:{tag.rsplit(':', 1)[1]}"
    if builder.name == "buildah":
        return [[*builder.base, "push", tag, f"docker://{remote}"]]
    return [[*builder.base, "tag", tag, remote], [*builder.base, "push", remote]]


def pull_command(builder: Builder, image: str) -> list[str]:
    return (
        [*builder.base, "pull", "--quiet", image]
        if builder.name != "docker"
        else [builder.executable, "pull", image]
    )


def default_base_image(dockerfile: Path = DOCKERFILE) -> str:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise ValueError(f"{dockerfile}: no `ARG BASE_IMAGE=<default>` line")
    return match.group(1)


def ca_bundle(env: Mapping[str, str]) -> Path | None:
    """The CA bundle pip uses on this machine (a TLS-intercepting proxy needs it inside the build)."""
    for name in CA_CANDIDATES:
        if env.get(name) and Path(env[name]).is_file():
            return Path(env[name])
    return DEFAULT_CA if DEFAULT_CA.is_file() else None


def verification_env(
    port: int, master_key: str, models_json: str, redis_port: int = 9, *,
    database: Mapping[str, str] | None = None, bedrock: Mapping[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """The runtime contract with local stand-ins: full variant, a local (or no) Redis, and when given
    a local PostgreSQL (`database`: DATABASE_* and LITELLM_SALT_KEY) and the Bedrock emulator (`bedrock`)."""
    return {
        "GATEWAY_ENVIRONMENT": "build-check",
        "GATEWAY_MODELS": models_json,
        "AWS_REGION": "us-east-1",
        "GUARDRAIL_ID": VERIFY_GUARDRAIL[0],
        "GUARDRAIL_VERSION": VERIFY_GUARDRAIL[1],
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "REDIS_SSL": "false",
        "PHOENIX_COLLECTOR_ENDPOINT": "http://127.0.0.1:9/v1/traces",
        "PHOENIX_PROJECT_NAME": "build-check",
        "LITELLM_MASTER_KEY": master_key,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "GATEWAY_WORKERS": "1",
        **(database or {}),
        **(bedrock or {}),
    }


# ---------------------------------------------------------------- effects
def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def inputs_dirty() -> bool:
    return bool(git("status", "--porcelain", "--", *IMAGE_INPUTS))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, timeout: float) -> float:
    """Seconds until /health/liveliness answers 200; raises when the process dies or time runs out."""
    started = time.monotonic()
    url = f"http://127.0.0.1:{port}/health/liveliness"
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the container exited with {process.returncode} before it was healthy")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def stop(process: subprocess.Popen, grace: float = 30) -> int:
    """SIGTERM, as ECS does; returns the exit code (SIGKILL after `grace` seconds)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def buildah_rootfs(builder: Builder, image: str) -> Iterator[tuple[Path, dict]]:
    """The image's root filesystem mounted on the host, and its OCI config; removed afterwards."""
    container = subprocess.run(
        [*builder.base, "from", "--pull-never", image], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        mount = subprocess.run(
            [*builder.base, "mount", container], capture_output=True, text=True, check=True
        ).stdout.strip()
        inspect = subprocess.run(
            [*builder.base, "inspect", "--type", "image", image], capture_output=True, text=True, check=True
        ).stdout
        yield Path(mount), json.loads(inspect)["OCIv1"]["config"]
    finally:
        subprocess.run([*builder.base, "umount", container], capture_output=True, check=False)
        subprocess.run([*builder.base, "rm", container], capture_output=True, check=False)


def rootfs_run_command(
    rootfs: Path, config: Mapping, env: Mapping[str, str], command: Sequence[str] | None = None
) -> list[str]:
    """Run the image's entrypoint as a runtime would: its user, its env, read-only root, tmpfs /tmp.

    A private mount namespace (unshare) keeps the read-only remount and the
    tmpfs away from the host; chroot --userspec drops to the image's numeric user.
    The host's /etc/hosts and /etc/resolv.conf are bound in read-only, as every
    container runtime provides them (a Debian base has no /etc/hosts, so
    `localhost`, where prisma-client-py reaches its engine, would not resolve).
    No --fork: every step execs the next, so the SIGTERM sent to this process
    lands on the proxy itself, as a runtime's stop would.
    """
    user = config.get("User", "0:0")
    image_env = dict(item.split("=", 1) for item in config.get("Env", []))
    argv = [*config.get("Entrypoint", []), *(config.get("Cmd", []) if command is None else command)]
    exports = " ".join(f"{k}={_sh(v)}" for k, v in {**image_env, **env}.items())
    script = (
        f"set -e; root={_sh(str(rootfs))}; "
        'mount --bind "$root" "$root"; '
        'for f in hosts resolv.conf; do [ -e "$root/etc/$f" ] || : > "$root/etc/$f"; '
        'mount --bind "/etc/$f" "$root/etc/$f"; mount -o remount,bind,ro "$root/etc/$f"; done; '
        'mount -o remount,bind,ro "$root"; '
        'mount -t tmpfs -o mode=1777,size=512m tmpfs "$root/tmp"; '
        'mount --rbind /dev "$root/dev"; mount -t proc proc "$root/proc"; '
        f'cd "$root"; exec chroot --userspec={_sh(user)} "$root" /usr/bin/env -i {exports} '
        + " ".join(_sh(a) for a in argv)
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def _sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


@contextlib.contextmanager
def local_redis() -> Iterator[int]:
    """A throwaway redis-server on 127.0.0.1 when one is installed; else a closed port (errors expected)."""
    executable = shutil.which("redis-server")
    if executable is None:
        log("verify: redis-server not installed; the proxy will log Redis connection errors")
        yield 9
        return
    port = free_port()
    server = subprocess.Popen(
        [executable, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    log(f"verify: redis-server on 127.0.0.1:{port} for the cache and rate-limit counters")
    try:
        yield port
    finally:
        stop(server, grace=5)


@contextlib.contextmanager
def image_runner(
    builder: Builder, image: str
) -> Iterator[Callable[[Mapping[str, str], Sequence[str]], list[str]]]:
    """Gives the command running the image with an environment and a command (migrate, serve)."""
    if builder.name == "buildah":
        with buildah_rootfs(builder, image) as (rootfs, config):
            yield lambda env, command: rootfs_run_command(rootfs, config, env, command)
        return
    tmpfs = ["--read-only", "--tmpfs", "/tmp"]  # noqa: S108  # the container's own /tmp

    def run(env: Mapping[str, str], command: Sequence[str]) -> list[str]:
        env_flags = [flag for k, v in env.items() for flag in ("--env", f"{k}={v}")]
        return [*builder.base, "run", "--rm", *tmpfs, "--network", "host", *env_flags, image, *command]

    yield run


def postgres_bin_dir(root: Path = Path("/usr/lib/postgresql")) -> Path | None:
    """The newest Debian/Ubuntu PostgreSQL's bin folder here (GitHub's runners have 16, not on PATH)."""
    found = [initdb.parent for initdb in root.glob("*/bin/initdb") if initdb.parts[-3].isdigit()]
    return max(found, key=lambda folder: int(folder.parts[-2]), default=None)


@contextlib.contextmanager
def local_database_and_bedrock(scratch: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """A throwaway PostgreSQL and the Bedrock emulator (the local stack's own helpers, gateway/devstack),
    as the contract's DATABASE_* and AWS variables; stopped afterwards."""
    from gateway.devstack import system
    from gateway.devstack.emulator import start_emulator
    from gateway.devstack.postgres import start_postgres
    from gateway.devstack.supervisor import Supervisor

    newest = postgres_bin_dir()
    if newest is not None and shutil.which("initdb") is None:
        # Appended: the stack's own PostgreSQL 15 is looked for first (gateway/devstack/postgres.py).
        os.environ["PATH"] = f"{os.environ.get('PATH', '')}{os.pathsep}{newest}"
    with Supervisor(scratch / "logs") as supervisor:
        started = time.monotonic()
        user = system.service_user(log=log)
        postgres = start_postgres(supervisor, scratch / "postgres", free_port(), user=user, log=log)
        log(f"verify: PostgreSQL on {postgres.host}:{postgres.port} in {time.monotonic() - started:.1f} s")
        emulator = start_emulator(supervisor, free_port(), region="us-east-1")
        log(f"verify: Bedrock emulator on {emulator.url}")
        database = {
            "DATABASE_HOST": postgres.host,
            "DATABASE_PORT": str(postgres.port),
            "DATABASE_NAME": postgres.database,
            "DATABASE_USERNAME": postgres.username,
            "DATABASE_PASSWORD": postgres.password,
            "DATABASE_SSLMODE": "disable",  # loopback only
            "LITELLM_SALT_KEY": "sk-" + os.urandom(18).hex(),
        }
        bedrock = {
            "AWS_ACCESS_KEY_ID": emulator.access_key,
            "AWS_SECRET_ACCESS_KEY": emulator.secret_key,
            "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator.url,
        }
        yield database, bedrock


def http_json(method: str, url: str, body: object = None, key: str | None = None, timeout: float = 60):
    """(status, parsed JSON body or {}) for one request; HTTP errors are answers, not exceptions."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310  # 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, {"raw": raw[:300].decode(errors="replace")}


def wait_database_ready(base_url: str, process: subprocess.Popen, timeout: float) -> float:
    """Seconds until /health/readiness reports the database connected."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(
                f"the container exited with {process.returncode} before its database was ready"
            )
        with contextlib.suppress(OSError):
            status, body = http_json("GET", f"{base_url}/health/readiness", timeout=5)
            last = body.get("db") if isinstance(body, dict) else body
            if status == 200 and last == "connected":
                return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(
        f"/health/readiness did not report db: connected within {timeout:.0f} s (last: {last!r})"
    )


def exercise_database(base_url: str, master_key: str) -> dict[str, float | int]:
    """A key made with the master key through /key/generate, a chat call with it, a wrong key refused."""
    facts: dict[str, float | int] = {}
    started = time.monotonic()
    status, body = http_json("POST", f"{base_url}/key/generate", {"key_alias": "build-check"}, master_key)
    facts["key_generate_ms"] = round((time.monotonic() - started) * 1000)
    key = body.get("key") if isinstance(body, dict) else None
    if status != 200 or not str(key).startswith("sk-"):
        raise RuntimeError(f"/key/generate answered {status}: {str(body)[:300]}")
    log(f"verify: /key/generate with the master key: 200, a new key in {facts['key_generate_ms']} ms")
    chat = {"model": VERIFY_MODEL, "messages": [{"role": "user", "content": "What is Amazon Bedrock?"}]}
    status, body = http_json("POST", f"{base_url}/v1/chat/completions", chat, "sk-" + os.urandom(18).hex())
    facts["wrong_key_status"] = status
    if status != 401:
        raise RuntimeError(f"a key the database does not hold got {status}, not 401: {str(body)[:300]}")
    log("verify: chat with a key the database does not hold: 401")
    started = time.monotonic()
    status, body = http_json("POST", f"{base_url}/v1/chat/completions", chat, key)
    facts["chat_ms"] = round((time.monotonic() - started) * 1000)
    try:
        answer = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        answer = ""
    if status != 200 or not answer:
        raise RuntimeError(f"chat with the generated key answered {status}: {str(body)[:300]}")
    log(
        f"verify: chat with the generated key ({VERIFY_MODEL}, on the emulator): 200 in {facts['chat_ms']} ms"
    )
    return facts


def verify_admin(
    command: Callable[[Mapping[str, str], Sequence[str]], list[str]], env: Mapping[str, str], scratch: Path
) -> dict[str, float]:
    """The admin task's command in the image: its own LiteLLM on the loopback, the image's own
    environments/dev/access.yaml through gateway/access and modules/config; on the fresh database
    every declared object is to create (exit 2)."""
    admin_env = {**env, "GATEWAY_ENVIRONMENT": "dev", "GATEWAY_ACCESS_SECRET_PREFIX": "build-check"}
    log("verify: `admin access plan --env dev` (the one-off admin task, LiteLLM on the container's loopback)")
    started = time.monotonic()
    done = subprocess.run(
        command(admin_env, ["admin", "access", "plan", "--env", "dev"]),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    seconds = round(time.monotonic() - started, 1)
    (scratch / "admin.log").write_text(done.stdout + done.stderr)
    summary = next((line for line in done.stdout.splitlines() if line.startswith("Plan: ")), "")
    if done.returncode != 2 or "to create" not in summary:
        sys.stdout.write((done.stdout + done.stderr)[-4000:])
        raise RuntimeError(f"the image's `admin access plan` exited {done.returncode}, expected 2 (changes)")
    log(f"verify: admin access plan exit 2 in {seconds} s: {summary}")
    return {"admin_plan_s": seconds}


def verify(builder: Builder, image: str, timeout: float) -> dict[str, float | int]:
    """Prove the image serves with its database: migrate a local PostgreSQL with the image's `migrate`,
    serve (production `full` config, read-only root), make a key, chat with it, refuse a wrong one; stop."""
    port = free_port()
    models = render.catalogue_to_json(
        render.catalogue_from_env_file(ROOT / "environments" / "dev" / "config.yaml")
    )
    master_key = "sk-" + os.urandom(18).hex()
    facts: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory(prefix="gateway-verify-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o755)  # PostgreSQL runs as an unprivileged user below it
        with contextlib.ExitStack() as stack:
            database, bedrock = stack.enter_context(local_database_and_bedrock(scratch))
            redis_port = stack.enter_context(local_redis())
            env = verification_env(port, master_key, models, redis_port, database=database, bedrock=bedrock)
            command = stack.enter_context(image_runner(builder, image))

            migrate_log = scratch / "migrate.log"
            log("verify: `migrate` (the image's entrypoint, as the ECS migration task runs it)")
            started = time.monotonic()
            with migrate_log.open("w") as sink:
                migration = subprocess.Popen(command(env, ["migrate"]), stdout=sink, stderr=subprocess.STDOUT)
                try:
                    code = migration.wait(timeout=600)
                except subprocess.TimeoutExpired:
                    stop(migration)
                    code = -1
            facts["migrate_s"] = round(time.monotonic() - started, 1)
            lines = migrate_log.read_text().splitlines()
            if code != 0:
                sys.stdout.write("\n".join(lines[-30:]) + "\n")
                raise RuntimeError(f"the image's `migrate` exited {code}")
            summary = next((line for line in reversed(lines) if '"schema": "ready"' in line), "")
            log(f"verify: migrate exit 0 in {facts['migrate_s']} s: {str(summary)[:200]}")
            facts.update(verify_admin(command, env, scratch))

            output = scratch / "container.log"
            log(f"verify: starting {image} (serve, read-only root, tmpfs /tmp) on 127.0.0.1:{port}")
            base_url = f"http://127.0.0.1:{port}"
            with output.open("w") as sink:
                process = subprocess.Popen(command(env, ["serve"]), stdout=sink, stderr=subprocess.STDOUT)
                try:
                    facts["healthy_after_s"] = round(wait_healthy(port, process, timeout), 1)
                    log(f"verify: /health/liveliness answered 200 after {facts['healthy_after_s']} s")
                    facts["db_ready_after_s"] = round(
                        facts["healthy_after_s"] + wait_database_ready(base_url, process, timeout), 1
                    )
                    log(
                        f"verify: /health/readiness reports db: connected after {facts['db_ready_after_s']} s"
                    )
                    facts.update(exercise_database(base_url, master_key))
                except (RuntimeError, OSError):
                    stop(process)
                    sys.stdout.write(output.read_text()[-4000:])
                    raise
                facts["exit_code"] = stop(process)
        lines = output.read_text().splitlines()
        # -15: uvicorn drains, then re-raises the SIGTERM it caught (uvicorn/server.py, capture_signals).
        log(f"verify: stopped with SIGTERM, exit {facts['exit_code']}; {len(lines)} log lines")
        for line in [line for line in lines if re.search(r'"level": "(WARNING|ERROR|CRITICAL)"', line)][:10]:
            log(f"verify: container said: {line[:220]}")
        if not any('"database": true' in line for line in lines if "starting litellm" in line):
            raise RuntimeError("the entrypoint did not start LiteLLM with its database")
        if any("prisma-query-engine PID" in line and "exited" in line for line in lines):
            raise RuntimeError("the query engine died while the gateway served (see the lines above)")
        if any("lost on exit" in line for line in lines):
            raise RuntimeError("LiteLLM lost spend rows on shutdown: its query engine went before it drained")
    return facts


def image_facts(builder: Builder, image: str) -> dict[str, str]:
    """Image id and size as the builder reports them."""
    if builder.name == "buildah":
        listed = subprocess.run(
            [*builder.base, "images", "--json", image], capture_output=True, text=True, check=True
        ).stdout
        entry = json.loads(listed)[0]
        return {"id": entry["id"][:12], "size": entry["size"]}
    raw = subprocess.run(
        [builder.executable, "image", "inspect", image], capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(raw)[0]
    return {"id": data["Id"].removeprefix("sha256:")[:12], "size": f"{int(data['Size']) / 1e6:.0f} MB"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.build", description=__doc__.splitlines()[0])
    parser.add_argument("--repository", default=REPOSITORY, help="local image name (default: %(default)s)")
    parser.add_argument(
        "--base",
        choices=BASES,
        default="auto",
        help="official: the digest-pinned Python image (release); debian: built here with mmdebstrap; "
        "auto: official if pullable, else debian with a warning (cannot --push)",
    )
    parser.add_argument(
        "--base-image", help="use this image as BASE_IMAGE (overrides --base; needs --prisma)"
    )
    parser.add_argument(
        "--prisma",
        choices=ENGINES,
        default="auto",
        help="the query engine in the image: native (downloaded from Prisma's hosts at build time), "
        "wasm (gateway/prisma_engine on the base's Node.js); auto: native on official, wasm on debian",
    )
    parser.add_argument("--push", metavar="REGISTRY/REPO", help="push the SHA tags there after the build")
    parser.add_argument("--no-verify", action="store_true", help="skip starting the image")
    parser.add_argument("--verify-timeout", type=float, default=180)
    parser.add_argument(
        "--pip-conf", type=Path, help="a pip.conf for the build (index mirrors), as a build secret"
    )
    args = parser.parse_args(argv)  # fmt: skip

    try:
        check_flags(args.base, args.prisma, base_image=args.base_image, push=bool(args.push))
    except Refused as error:
        print(f"[build] {error}", file=sys.stderr)
        return 2
    session_started = time.monotonic()
    timings: dict[str, float] = {}
    try:
        builder = detect_builder()
    except NoBuilder as error:
        print(f"[build] {error}", file=sys.stderr)
        return 3
    log(f"builder: {builder.name} ({builder.executable})")

    sha = git("rev-parse", "HEAD")
    dirty = inputs_dirty()
    tags = image_tags(args.repository, sha, dirty)
    if dirty:
        log("the image inputs have uncommitted changes: tagging -dirty")

    started = time.monotonic()
    official = default_base_image()
    pullable, pull_error = None, ""
    if args.base_image is None and args.base in ("auto", "official"):
        pulled = subprocess.run(pull_command(builder, official), capture_output=True, text=True, check=False)
        pullable = pulled.returncode == 0
        pull_error = (pulled.stderr.strip().splitlines() or [f"exit {pulled.returncode}"])[-1][:200]
    try:
        choice = choose(
            args.base, args.prisma, official=official, pullable=pullable, pull_error=pull_error,
            base_image=args.base_image,
        )  # fmt: skip
    except Refused as error:
        print(f"[build] {error}", file=sys.stderr)
        return 4
    for warning in choice.warnings:
        print(f"[build] WARNING: {warning}", file=sys.stderr, flush=True)
    base = choice.base_image
    if base is None:
        if shutil.which("mmdebstrap") is None:
            print(
                "[build] mmdebstrap is needed for a Debian base: `apt-get install -y mmdebstrap`",
                file=sys.stderr,
            )
            return 3
        base = base_image.ensure_base(builder.name, builder.base[1:], log=log)
    timings["base_s"] = time.monotonic() - started
    log(f"base: {choice.base} ({base}); Prisma engine: {choice.engine}")
    if choice.engine == "wasm":
        reason = prisma_engine.missing()
        if reason:  # the image copies the engine server's npm packages from here
            print(f"[build] PRISMA_ENGINE=wasm: {reason}", file=sys.stderr)
            return 3

    with tempfile.TemporaryDirectory(prefix="gateway-build-") as scratch:
        secrets: dict[str, Path] = {"pip_conf": Path(scratch) / "pip.conf"}
        secrets["pip_conf"].write_text(args.pip_conf.read_text() if args.pip_conf else "")
        ca = ca_bundle(os.environ)
        secrets["pip_ca"] = ca if ca else Path(scratch) / "empty-ca.pem"
        if not ca:
            secrets["pip_ca"].write_text("")
        request = BuildRequest(
            tags=tags, base_image=base, prisma_engine=choice.engine, git_sha=sha, secrets=secrets
        )
        command = build_command(builder, request)
        log("build: " + " ".join(command))
        started = time.monotonic()
        built = subprocess.run(command, check=False, env=build_environment(builder))
        timings["build_s"] = time.monotonic() - started
        if built.returncode != 0:
            print(f"[build] the image build failed (exit {built.returncode}; see above)", file=sys.stderr)
            return 1

    facts = image_facts(builder, tags[0])
    log(f"image: {tags[0]} id {facts['id']}, {facts['size']}, built in {timings['build_s']:.0f} s")
    verified: dict[str, float | int] = {}
    if not args.no_verify:
        started = time.monotonic()
        try:
            verified = verify(builder, tags[0], args.verify_timeout)
        except Exception as error:  # a missing PostgreSQL too: one clear line, exit 1
            print(f"[build] verify FAILED: {error}", file=sys.stderr)
            return 1
        timings["verify_s"] = time.monotonic() - started
    if args.push:
        for tag in tags:
            for push in push_commands(builder, tag, args.push):
                log("push: " + " ".join(push))
                subprocess.run(push, check=True)
    timings["total_s"] = time.monotonic() - session_started
    summary = {"tags": tags, "builder": builder.name, "base": choice.base, "base_image": base,
               "prisma_engine": choice.engine, "warnings": list(choice.warnings), **facts,
               **{k: round(v, 1) for k, v in timings.items()}, **verified}  # fmt: skip
    log("summary: " + json.dumps(summary))
    log(short_summary(summary))
    return 0


def short_summary(summary: Mapping) -> str:
    """One line for a person: what was built on what, and how long each proof took."""
    base = summary["base"] + (" (UNPINNED: --base auto fell back)" if summary["warnings"] else "")
    line = (
        f"done in {summary['total_s']:.0f} s: {summary['tags'][0]}, {summary['size']}, base {base}, "
        f"Prisma engine {summary['prisma_engine']}, image built in {summary['build_s']:.0f} s"
    )
    if "chat_ms" in summary:
        line += (
            f"; migrate {summary['migrate_s']} s, db ready {summary['db_ready_after_s']} s, "
            f"key {summary['key_generate_ms']} ms, wrong key {summary['wrong_key_status']}, "
            f"chat {summary['chat_ms']} ms"
        )
    return line


if __name__ == "__main__":
    raise SystemExit(main())
