"""Run Terraform the same way in CI, in nox sessions and in tests.

Every caller goes through here so that provider installation (an offline
filesystem mirror when the machine has one, the public registry otherwise),
non-interactive flags and progress output are decided once.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIRROR_VARIABLE = "TF_PROVIDER_MIRROR"
DEFAULT_MIRROR = Path("/opt/tf-plugins")
TERRAFORM_BIN_VARIABLE = "TERRAFORM_BIN"


class TerraformError(RuntimeError):
    """A terraform command exited non-zero while the caller required success."""

    def __init__(self, args: list[str], returncode: int, stderr: str | None = None) -> None:
        detail = f"\n{stderr.strip()}" if stderr else ""
        super().__init__(f"`{shlex.join(['terraform', *args])}` failed with exit code {returncode}{detail}")
        self.returncode = returncode


def provider_mirror(environ: dict[str, str] | None = None) -> Path | None:
    """The filesystem mirror to install providers from, or None to use the registry.

    `TF_PROVIDER_MIRROR` wins; set it to an empty string to force the registry.
    A mirror that is named but missing is an error: silently falling back to a
    download would hide a broken offline setup.
    """
    environ = os.environ if environ is None else environ
    if MIRROR_VARIABLE in environ:
        value = environ[MIRROR_VARIABLE]
        if not value:
            return None
        path = Path(value)
        if not path.is_dir():
            raise FileNotFoundError(f"{MIRROR_VARIABLE}={value} is not a directory")
        return path
    return DEFAULT_MIRROR if DEFAULT_MIRROR.is_dir() else None


def cli_config(mirror: Path | None) -> str:
    """Terraform CLI configuration text: mirror-only installation, or nothing special."""
    if mirror is None:
        return "# no provider mirror: providers come from their registries\n"
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror.resolve()}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )


def _write_cli_config(text: str) -> Path:
    """Write the config once per content into the temp dir (content-addressed, so parallel runs agree)."""
    folder = Path(tempfile.gettempdir()) / "llm-gateway-terraform"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"cli-{hashlib.sha256(text.encode()).hexdigest()[:16]}.tfrc"
    if not path.exists():
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(text)
        scratch.replace(path)
    return path


def terraform_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ plus a CLI config that points at the provider mirror, and no prompts.

    Without a mirror, a CLI config the user already has is kept (it may hold
    registry credentials); a preset path to a file that does not exist is
    replaced, since Terraform warns about it on every command.
    """
    env = dict(os.environ)
    mirror = provider_mirror(env)
    current = env.get("TF_CLI_CONFIG_FILE")
    if mirror is not None or not (current and Path(current).is_file()):
        env["TF_CLI_CONFIG_FILE"] = str(_write_cli_config(cli_config(mirror)))
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    env.update(extra or {})
    return env


def terraform(
    args: list[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    capture: bool = False,
    check: bool = True,
    capture_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `terraform <args>` in `cwd`, streaming its output, and report how long it took.

    With `capture`, stdout is returned instead of printed (for `show -json`,
    `output -json`). stderr streams so errors stay visible; with `capture_stderr`
    it is also returned (printed once Terraform exits), for callers that name the error.
    """
    binary = os.environ.get(TERRAFORM_BIN_VARIABLE, "terraform")
    command = [binary, *args]
    print(f"$ {shlex.join(['terraform', *args])}  (in {cwd})", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env if env is not None else terraform_env(),
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture_stderr else None,
        text=True,
        check=False,
    )
    if capture_stderr and result.stderr:
        print(result.stderr, file=sys.stderr, end="", flush=True)
    elapsed = time.monotonic() - started
    print(
        f"  terraform {args[0] if args else ''} exited {result.returncode} after {elapsed:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if check and result.returncode != 0:
        raise TerraformError(args, result.returncode)
    return result
