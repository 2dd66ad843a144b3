"""The workflow contract: every value a workflow reads has a producer.

GitHub evaluates a reference to an output or a variable that nothing sets to an empty string,
silently: a step reading `steps.apply.outputs.gateway_secret_arn` that the apply never writes
runs with ''. This module finds every `steps.<id>.outputs.<name>`, `needs.<job>.outputs.<name>`,
`jobs.<job>.outputs.<name>`, `inputs.<name>` and `vars.<NAME>` reference in the workflows and
names each one without a producer. Producers are derived from the source, never listed here:

- a step output is what the step's command writes to $GITHUB_OUTPUT: for `nox -s apply -- …
  --github-output` (pipeline.apply writes the stack's non-sensitive outputs) the outputs of the
  synthesized stacks; for any other `python -m pipeline.…` command or nox session running one,
  the names its output writers write, read from the module's source (`written_outputs`); an
  action's outputs (`uses:`) are not known offline, so a reference to one fails;
- a job output (`jobs.<id>.outputs`), or the `workflow_call` outputs of the workflow a job calls;
- an input the workflow declares (`workflow_call` / `workflow_dispatch`), and every input a caller
  passes must be declared by the called workflow, every required one passed;
- a variable documented in docs/gitops.md, "In GitHub" (a back-quoted `NAME`, or a pattern such as
  `PLAN_ROLE_ARN_<ENV>`); `vars[matrix.<field>]` or `vars[inputs.<field>]` when <field> is a
  field of the environments' matrix (pipeline.environments) and every environment's value is
  documented.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import lint_workflows

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
VARIABLES_DOC = ROOT / "docs" / "gitops.md"
VARIABLES_SECTION = "### In GitHub"
NOXFILE = ROOT / "noxfile.py"
APPLY_MODULE = "pipeline.apply"

REFERENCE = re.compile(
    r"\bvars\[\s*(?P<ctx>matrix|inputs)\.(?P<key>[\w-]+)\s*\]"
    r"|\b(?P<kind>steps|needs|jobs)\.(?P<owner>[\w-]+)\.outputs\.(?P<name>[\w-]+)"
    r"|\bvars\.(?P<var>\w+)"
    r"|\binputs\.(?P<input>[\w-]+)"
)
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
DOCUMENTED = re.compile(r"`([A-Z][A-Z0-9_]*(?:<[A-Z]+>[A-Z0-9_]*)*)`")
SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    reference: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reference}: {self.reason}"


@dataclass
class Producers:
    """What exists to be read: stack outputs, documented variables, the environments' matrix."""

    stack_outputs: frozenset[str]
    documented: tuple[re.Pattern[str], ...]
    matrix: list[dict[str, object]]

    def documents(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.documented)


# ---------------------------------------------------------------- producers, from the source
def stack_output_names(stacks: dict[str, dict]) -> frozenset[str]:
    """Outputs every synthesized stack has and pipeline.apply writes (it leaves sensitive ones out)."""
    names = [
        {name for name, output in (doc.get("output") or {}).items() if not output.get("sensitive")}
        for doc in stacks.values()
    ]
    return frozenset(set.intersection(*names)) if names else frozenset()


def documented_variables(doc: Path = VARIABLES_DOC) -> tuple[re.Pattern[str], ...]:
    """Back-quoted upper-case names in the document's `VARIABLES_SECTION` (what a team creates in
    GitHub); `<ENV>`-style parts match any upper-case word."""
    text = doc.read_text(encoding="utf-8")
    start = text.find(VARIABLES_SECTION)
    section = text[start : text.find("\n## ", start)] if start >= 0 else ""
    patterns = []
    for name in set(DOCUMENTED.findall(section)):
        parts = re.split(r"<[A-Z]+>", name)
        patterns.append(re.compile("[A-Z0-9_]+".join(map(re.escape, parts))))
    return tuple(patterns)


def _command(text: str, env: dict[str, str]) -> list[str]:
    """argv of one run line, with the step's variables replaced by stand-in words."""
    text = SHELL_VARIABLE.sub(lambda m: "stand-in" if m.group(1) in env else m.group(0), text)
    return shlex.split(text)


def _source(module: str) -> ast.Module | None:
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    return ast.parse(path.read_text(encoding="utf-8")) if path.is_file() else None


def session_module(session: str, noxfile: Path = NOXFILE) -> str | None:
    """The pipeline module a nox session runs (`"-m", "pipeline.x"` in its function), if any."""
    for node in ast.parse(noxfile.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and _session_name(node) == session:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Constant) and str(inner.value).startswith("pipeline."):
                    return str(inner.value)
    return None


def _session_name(node: ast.FunctionDef) -> str:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    return node.name


def _module_and_args(argv: list[str]) -> tuple[str, list[str]] | None:
    """('pipeline.x', args) for `python -m pipeline.x …` or a nox session running it; else None."""
    if argv[:2] == ["nox", "-s"] and len(argv) > 2:
        module = session_module(argv[2])
        rest = argv[3:]
        return (module, rest[1:] if rest[:1] == ["--"] else []) if module else None
    if len(argv) > 2 and argv[0].endswith(("python", "python3")) and argv[1] == "-m":
        return argv[2], argv[3:]
    return None


def _option(args: list[str], dest: str) -> str | None:
    flag = "--" + dest.replace("_", "-")
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def written_outputs(module: str, args: list[str]) -> set[str]:
    """The names a module's writers put in $GITHUB_OUTPUT, read from its source.

    A writer is a call to `write_output(name, …)`/`write_github_output(name, …)` or
    `write_github_outputs({name: …})`; a name is a string, a module constant, or `args.<dest>`
    (the step's `--dest` value, else the option's default). Every writer in the module counts,
    whichever subcommand the step runs.
    """
    tree = _source(module)
    if tree is None:
        return set()
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    defaults: dict[str, str] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
        if name == "add_argument" and call.args and isinstance(call.args[0], ast.Constant):
            for keyword in call.keywords:
                if keyword.arg == "default" and isinstance(keyword.value, ast.Constant):
                    defaults[str(call.args[0].value).lstrip("-").replace("-", "_")] = str(keyword.value.value)

    def resolve(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "args":
            return _option(args, node.attr) or defaults.get(node.attr)
        return None

    found: set[str] = set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
        if name in ("write_output", "write_github_output") and call.args:
            found |= {resolve(call.args[0])} - {None}  # type: ignore[arg-type]
        elif name == "write_github_outputs" and call.args and isinstance(call.args[0], ast.Dict):
            found |= {resolve(k) for k in call.args[0].keys if k is not None} - {None}  # type: ignore[misc]
    return found


def step_outputs(step: dict, producers: Producers) -> set[str] | None:
    """What a step writes to $GITHUB_OUTPUT; None when it runs an action (its outputs are not known here)."""
    if "uses" in step:
        return None
    env = {str(k): str(v) for k, v in (step.get("env") or {}).items()}
    found: set[str] = set()
    for line in lint_workflows._run_commands(str(step.get("run", ""))):
        parsed = _module_and_args(_command(line, env))
        if parsed is None:
            continue
        module, args = parsed
        if module == APPLY_MODULE:
            # pipeline.apply writes every non-sensitive stack output, whatever they are.
            found |= producers.stack_outputs if "--github-output" in args else set()
        else:
            found |= written_outputs(module, args)
    return found


def _workflow_call(workflow: dict) -> dict:
    on = workflow.get("on") or {}
    return (on.get("workflow_call") or {}) if isinstance(on, dict) else {}


def _declared_inputs(workflow: dict) -> set[str]:
    on = workflow.get("on") or {}
    if not isinstance(on, dict):
        return set()
    return {
        name
        for trigger in ("workflow_call", "workflow_dispatch")
        for name in ((on.get(trigger) or {}).get("inputs") or {})
    }


def _called(job: dict, workflows_dir: Path) -> dict | None:
    uses = str(job.get("uses", ""))
    if not uses.startswith("./.github/workflows/"):
        return None
    return lint_workflows.load(workflows_dir / Path(uses).name)


def job_outputs(job: dict, workflows_dir: Path) -> set[str]:
    called = _called(job, workflows_dir)
    if called is not None:
        return set(_workflow_call(called).get("outputs") or {})
    return set(job.get("outputs") or {})


# ---------------------------------------------------------------- references
def _expressions(node: Any, key: str = "") -> Iterator[str]:
    """Expression text in a workflow node: `${{ … }}` anywhere, and whole `if:` conditions."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _expressions(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item, key)
    elif isinstance(node, str):
        if key == "if" and "${{" not in node:
            yield node
        yield from EXPRESSION.findall(node)


def _variable_fields(producers: Producers) -> set[str]:
    return {k for entry in producers.matrix for k, v in entry.items() if k.endswith("_variable")}


def _check_variable(ref: re.Match[str], producers: Producers) -> str | None:
    if ref.group("var"):
        name = ref.group("var")
        return None if producers.documents(name) else "not documented as a variable in docs/gitops.md"
    key = ref.group("key")
    if key not in _variable_fields(producers):
        fields = ", ".join(sorted(_variable_fields(producers))) or "none"
        return f"{key!r} is not a matrix field naming a variable (pipeline.environments: {fields})"
    missing = [str(e[key]) for e in producers.matrix if not producers.documents(str(e[key]))]
    return f"{', '.join(missing)} not documented in docs/gitops.md" if missing else None


def check_workflow(path: Path, producers: Producers) -> list[Problem]:
    workflow = lint_workflows.load(path)
    jobs: dict[str, dict] = workflow.get("jobs") or {}
    inputs = _declared_inputs(workflow)
    problems: list[Problem] = []

    def scan(node: Any, where: str, steps: dict[str, dict] | None, needs: set[str] | None) -> None:
        for text in _expressions(node):
            for ref in REFERENCE.finditer(text):
                reason = None
                if ref.group("var") or ref.group("key"):
                    reason = _check_variable(ref, producers)
                elif ref.group("input"):
                    if ref.group("input") not in inputs:
                        reason = f"the workflow declares no input {ref.group('input')!r}"
                elif ref.group("kind") == "steps":
                    reason = _check_step(ref, steps, producers)
                elif ref.group("kind") == "needs":
                    reason = _check_needs(ref, needs, jobs, path.parent)
                else:  # jobs.<id>.outputs: a reusable workflow's own outputs
                    owner = jobs.get(ref.group("owner"))
                    if where != "workflow_call outputs":
                        reason = "jobs.<id>.outputs is read only in on.workflow_call.outputs"
                    elif owner is None or ref.group("name") not in job_outputs(owner, path.parent):
                        reason = f"job {ref.group('owner')!r} declares no output {ref.group('name')!r}"
                if reason:
                    problems.append(Problem(path.name, where, ref.group(0), reason))

    scan({k: v for k, v in workflow.items() if k not in ("jobs", "on")}, "workflow", None, None)
    scan(_workflow_call(workflow).get("outputs") or {}, "workflow_call outputs", None, None)
    for job_id, job in jobs.items():
        needs = job.get("needs") or []
        needs_set = {needs} if isinstance(needs, str) else set(needs)
        steps = {str(s["id"]): s for s in job.get("steps") or [] if isinstance(s, dict) and "id" in s}
        scan(job, f"job {job_id}", steps, needs_set)
        problems += _check_call(path.name, job_id, job, path.parent)
    return problems


def _check_step(ref: re.Match[str], steps: dict[str, dict] | None, producers: Producers) -> str | None:
    step_id, name = ref.group("owner"), ref.group("name")
    if steps is None or step_id not in steps:
        return f"no step with id {step_id!r} in this job"
    written = step_outputs(steps[step_id], producers)
    if written is None:
        return f"step {step_id!r} runs an action whose outputs cannot be checked here"
    if name not in written:
        shown = ", ".join(sorted(written)) or "nothing"
        return f"step {step_id!r} writes no output {name!r} (it writes: {shown})"
    return None


def _check_needs(ref: re.Match[str], needs: set[str] | None, jobs: dict, workflows_dir: Path) -> str | None:
    owner, name = ref.group("owner"), ref.group("name")
    if needs is None or owner not in needs:
        return f"job {owner!r} is not in this job's needs"
    if owner not in jobs:
        return f"no job {owner!r}"
    if name not in job_outputs(jobs[owner], workflows_dir):
        return f"job {owner!r} declares no output {name!r}"
    return None


def _check_call(file: str, job_id: str, job: dict, workflows_dir: Path) -> list[Problem]:
    """A caller passes only inputs the called workflow declares, and every required one."""
    called = _called(job, workflows_dir)
    if called is None:
        return []
    declared = (_workflow_call(called).get("inputs")) or {}
    passed = set(job.get("with") or {})
    where = f"job {job_id}"
    problems = [
        Problem(file, where, f"with.{name}", f"{job['uses']} declares no input {name!r}")
        for name in sorted(passed - set(declared))
    ]
    problems += [
        Problem(file, where, f"with.{name}", f"{job['uses']} requires input {name!r}")
        for name, spec in declared.items()
        if (spec or {}).get("required") and name not in passed
    ]
    return problems


def check(workflows_dir: Path, producers: Producers) -> list[Problem]:
    """Every reference without a producer, over every workflow in the folder."""
    files = sorted([*workflows_dir.glob("*.yml"), *workflows_dir.glob("*.yaml")])
    return [problem for path in files for problem in check_workflow(path, producers)]
