"""A Python base image made from Debian packages, for machines that cannot pull one.

mmdebstrap builds a minimal bookworm root filesystem (python3 from Debian, the
venv module, CA certificates, and the C++ runtime Node.js needs for Prisma's
WebAssembly engine server, gateway/prisma_engine) from the Debian archive, which
apt reaches where container registries are not. The tarball is imported into the builder's local
storage and handed to gateway/Dockerfile as BASE_IMAGE. The tag carries a hash
of the package list, so a changed list builds a new base and an unchanged one is
reused.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SUITE = "bookworm"
# libstdc++6: the C++ runtime the official Node.js build links against (the image's wasm engine route
# installs it from PyPI, gateway/node.lock: Debian bookworm's nodejs 18 crashes Prisma's WebAssembly engine).
PACKAGES = ("python3", "python3-venv", "ca-certificates", "libstdc++6")
REPOSITORY = "localhost/llm-gateway-base"
IMPORT_CONTAINER = "gateway-base-import"
# mmdebstrap leaves these behind; a container image does not need them.
EXCLUDED_PATHS = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")


def base_tag(suite: str = SUITE, packages: Sequence[str] = PACKAGES) -> str:
    digest = hashlib.sha256(" ".join([suite, *sorted(packages)]).encode()).hexdigest()[:12]
    return f"{REPOSITORY}:{suite}-{digest}"


def mmdebstrap_command(output: Path, suite: str = SUITE, packages: Sequence[str] = PACKAGES) -> list[str]:
    return [
        "mmdebstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        *(f"--dpkgopt=path-exclude={path}" for path in EXCLUDED_PATHS),
        # Licences stay.
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--format=tar",
        suite,
        str(output),
    ]


def import_commands(builder: str, tarball: Path, tag: str, storage: Sequence[str] = ()) -> list[list[str]]:
    """Commands that turn the root filesystem tarball into a local image called `tag`."""
    config = ["--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    if builder in ("docker", "podman"):
        return [[builder, "import", *config, str(tarball), tag]]
    # buildah has no import: a scratch container, the tarball unpacked into it, committed.
    return [
        ["buildah", *storage, "from", "--name", IMPORT_CONTAINER, "scratch"],
        ["buildah", *storage, "add", IMPORT_CONTAINER, str(tarball), "/"],
        ["buildah", *storage, "config", "--env", config[1].removeprefix("ENV "), IMPORT_CONTAINER],
        ["buildah", *storage, "commit", "--rm", IMPORT_CONTAINER, tag],
    ]


def exists_command(builder: str, tag: str, storage: Sequence[str] = ()) -> list[str]:
    if builder == "buildah":
        return ["buildah", *storage, "inspect", "--type", "image", tag]
    return [builder, "image", "inspect", tag]


def ensure_base(
    builder: str,
    storage: Sequence[str] = (),
    log: Callable[[str], None] = print,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> str:
    """Build and import the Debian base unless the builder already has it; return its tag."""
    tag = base_tag()
    if run(exists_command(builder, tag, storage), capture_output=True, check=False).returncode == 0:
        log(f"base: reusing {tag}")
        return tag
    if builder == "buildah":  # a container left by an interrupted import would block the name
        run(["buildah", *storage, "rm", IMPORT_CONTAINER], capture_output=True, check=False)
    with tempfile.TemporaryDirectory(prefix="gateway-base-") as scratch:
        tarball = Path(scratch) / "rootfs.tar"
        log(f"base: mmdebstrap {SUITE} --variant=minbase with {', '.join(PACKAGES)} (about 30-40 s)")
        started = time.monotonic()
        run(mmdebstrap_command(tarball), check=True)
        size_mb = tarball.stat().st_size / 1e6
        log(f"base: root filesystem {size_mb:.0f} MB in {time.monotonic() - started:.0f} s")
        for command in import_commands(builder, tarball, tag, storage):
            run(command, check=True, capture_output=builder == "buildah")
    log(f"base: imported as {tag}")
    return tag
