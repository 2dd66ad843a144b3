"""Build the gateway image with whichever builder this machine has, then prove it starts.

    nox -s build                      # tag <repo>:<git sha>; verify /health/liveliness
    nox -s build -- --push 123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-gateway
    nox -s build -- --base debian --no-prisma   # offline: Debian base, no Prisma engines

Builders are tried in order: docker (only with a reachable daemon), podman,
buildah. The base is the digest-pinned official Python image when the builder
can pull it, else (--base auto) one made from Debian packages with mmdebstrap
(gateway/base_image.py). A machine that cannot pull images cannot download the
Prisma engines either, so that case also turns Prisma generation off and says so.
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
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway import base_image, render

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "gateway" / "Dockerfile"
REPOSITORY = "llm-gateway"
BUILDERS = ("docker", "podman", "buildah")
# Rootless-friendly and daemonless: what works as root inside a container too.
BUILDAH_STORAGE = ("--storage-driver", "vfs")
CA_CANDIDATES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
DEFAULT_CA = Path("/etc/ssl/certs/ca-certificates.crt")
INSTALL_HINT = "install one: `apt-get install -y buildah mmdebstrap` (Debian/Ubuntu, no daemon needed)"
# What goes into the image: a change here (and only here) makes the tag -dirty.
IMAGE_INPUTS = (
    ".dockerignore",
    "gateway/Dockerfile",
    "gateway/requirements.lock",
    "gateway/__init__.py",
    "gateway/config.yaml",
    "gateway/entrypoint.py",
    "gateway/healthcheck.py",
    "gateway/render.py",
    "gateway/trace_content.py",
    "gateway/asgi.py",
    "gateway/limits.py",
    "gateway/serve.py",
    "gateway/request_validation.py",
    "gateway/error_shape.py",
    "gateway/migrations.py",
    "gateway/hooks",
)


class NoBuilder(RuntimeError):
    """No container builder works here; the message says what each candidate lacks."""


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
    prisma_generate: bool
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


def build_command(builder: Builder, request: BuildRequest) -> list[str]:
    args = {"PRISMA_GENERATE": "1" if request.prisma_generate else "0", "GIT_SHA": request.git_sha}
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


def verification_env(port: int, master_key: str, models_json: str, redis_port: int = 9) -> dict[str, str]:
    """The runtime contract with local stand-ins: full variant, no database, a local (or no) Redis."""
    return {
        "GATEWAY_ENVIRONMENT": "build-check",
        "GATEWAY_MODELS": models_json,
        "AWS_REGION": "us-east-1",
        "GUARDRAIL_ID": "build-check",
        "GUARDRAIL_VERSION": "1",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "REDIS_SSL": "false",
        "PHOENIX_COLLECTOR_ENDPOINT": "http://127.0.0.1:9/v1/traces",
        "PHOENIX_PROJECT_NAME": "build-check",
        "LITELLM_MASTER_KEY": master_key,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "GATEWAY_WORKERS": "1",
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


def rootfs_run_command(rootfs: Path, config: Mapping, env: Mapping[str, str]) -> list[str]:
    """Run the image's entrypoint as a runtime would: its user, its env, read-only root, tmpfs /tmp.

    A private mount namespace (unshare) keeps the read-only remount and the
    tmpfs away from the host; chroot --userspec drops to the image's numeric user.
    No --fork: every step execs the next, so the SIGTERM sent to this process
    lands on the proxy itself, as a runtime's stop would.
    """
    user = config.get("User", "0:0")
    image_env = dict(item.split("=", 1) for item in config.get("Env", []))
    argv = [*config.get("Entrypoint", []), *config.get("Cmd", [])]
    exports = " ".join(f"{k}={_sh(v)}" for k, v in {**image_env, **env}.items())
    script = (
        f"set -e; root={_sh(str(rootfs))}; "
        'mount --bind "$root" "$root"; mount -o remount,bind,ro "$root"; '
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


def verify(builder: Builder, image: str, timeout: float) -> dict[str, float | int]:
    """Start the image with the production (full) config and no database; poll liveliness; stop it."""
    port = free_port()
    models = render.catalogue_to_json(
        render.catalogue_from_env_file(ROOT / "environments" / "dev" / "config.yaml")
    )
    master_key = "sk-" + os.urandom(18).hex()
    with tempfile.TemporaryDirectory(prefix="gateway-verify-") as scratch:
        output = Path(scratch) / "container.log"
        with contextlib.ExitStack() as stack:
            env = verification_env(port, master_key, models, stack.enter_context(local_redis()))
            if builder.name == "buildah":
                rootfs, config = stack.enter_context(buildah_rootfs(builder, image))
                command = rootfs_run_command(rootfs, config, env)
                how = "rootfs chroot, read-only root, tmpfs /tmp"
            else:
                env_flags = [flag for k, v in env.items() for flag in ("--env", f"{k}={v}")]
                tmpfs = ["--read-only", "--tmpfs", "/tmp"]  # noqa: S108  # the container's own /tmp
                command = [*builder.base, "run", "--rm", *tmpfs, "--network", "host", *env_flags, image]
                how = f"{builder.name} run --read-only --tmpfs /tmp"
            log(f"verify: starting {image} ({how}) on 127.0.0.1:{port}")
            with output.open("w") as sink:
                process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
                try:
                    seconds = wait_healthy(port, process, timeout)
                    log(f"verify: /health/liveliness answered 200 after {seconds:.1f} s")
                except RuntimeError:
                    stop(process)
                    sys.stdout.write(output.read_text()[-4000:])
                    raise
                code = stop(process)
        lines = output.read_text().splitlines()
        log(f"verify: stopped with SIGTERM, exit {code}; {len(lines)} log lines, last: {lines[-1][:160]}")
        for line in [line for line in lines if re.search(r'"level": "(WARNING|ERROR|CRITICAL)"', line)][:10]:
            log(f"verify: container said: {line[:220]}")
        if not any("no database" in line for line in lines):
            raise RuntimeError("the entrypoint did not announce the no-database mode")
    return {"healthy_after_s": round(seconds, 1), "exit_code": code}


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
        choices=("auto", "official", "debian"),
        default="auto",
        help="official: the digest-pinned Python image; debian: mmdebstrap; auto: official if pullable",
    )
    parser.add_argument("--base-image", help="use this image as BASE_IMAGE (overrides --base)")
    parser.add_argument(
        "--prisma",
        choices=("auto", "on", "off"),
        default="auto",
        help="generate the Prisma client at build time (auto: on unless the base was not pullable)",
    )
    parser.add_argument("--no-prisma", dest="prisma", action="store_const", const="off")
    parser.add_argument("--push", metavar="REGISTRY/REPO", help="push the SHA tags there after the build")
    parser.add_argument("--no-verify", action="store_true", help="skip starting the image")
    parser.add_argument("--verify-timeout", type=float, default=180)
    parser.add_argument(
        "--pip-conf", type=Path, help="a pip.conf for the build (index mirrors), as a build secret"
    )
    args = parser.parse_args(argv)  # fmt: skip

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
    base, offline = args.base_image, False
    if base is None and args.base in ("auto", "official"):
        official = default_base_image()
        pulled = subprocess.run(pull_command(builder, official), capture_output=True, text=True, check=False)
        if pulled.returncode == 0:
            base = official
            log(f"base: {official}")
        elif args.base == "official":
            print(f"[build] cannot pull {official}: {pulled.stderr.strip()[-300:]}", file=sys.stderr)
            return 4
        else:
            offline = True
            log(f"base: cannot pull {official} ({pulled.stderr.strip().splitlines()[-1][:120]})")
    if base is None:
        if shutil.which("mmdebstrap") is None:
            print(
                "[build] mmdebstrap is needed for a Debian base: `apt-get install -y mmdebstrap`",
                file=sys.stderr,
            )
            return 3
        base = base_image.ensure_base(builder.name, builder.base[1:], log=log)
    timings["base_s"] = time.monotonic() - started

    prisma = args.prisma == "on" or (args.prisma == "auto" and not offline)
    if not prisma:
        reason = "the registries the Prisma engines come from are unreachable" if offline else "--no-prisma"
        log(f"PRISMA_GENERATE=0 ({reason}): Prisma client NOT generated; this image cannot use a database")

    with tempfile.TemporaryDirectory(prefix="gateway-build-") as scratch:
        secrets: dict[str, Path] = {"pip_conf": Path(scratch) / "pip.conf"}
        secrets["pip_conf"].write_text(args.pip_conf.read_text() if args.pip_conf else "")
        ca = ca_bundle(os.environ)
        secrets["pip_ca"] = ca if ca else Path(scratch) / "empty-ca.pem"
        if not ca:
            secrets["pip_ca"].write_text("")
        request = BuildRequest(
            tags=tags, base_image=base, prisma_generate=prisma, git_sha=sha, secrets=secrets
        )
        command = build_command(builder, request)
        log("build: " + " ".join(command))
        started = time.monotonic()
        subprocess.run(command, check=True, env=build_environment(builder))
        timings["build_s"] = time.monotonic() - started

    facts = image_facts(builder, tags[0])
    log(f"image: {tags[0]} id {facts['id']}, {facts['size']}, built in {timings['build_s']:.0f} s")
    verified = {}
    if not args.no_verify:
        verified = verify(builder, tags[0], args.verify_timeout)
    if args.push:
        for tag in tags:
            for push in push_commands(builder, tag, args.push):
                log("push: " + " ".join(push))
                subprocess.run(push, check=True)
    summary = {"tags": tags, "builder": builder.name, "base_image": base, "prisma_generate": prisma, **facts,
               **{k: round(v, 1) for k, v in timings.items()}, **verified}  # fmt: skip
    log("summary: " + json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
