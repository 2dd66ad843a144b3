"""The contract between the infrastructure and the image is written once (gateway/contract.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway import contract

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "environments" / "dev" / "config.yaml"


def test_the_contract_module_needs_only_the_standard_library():
    tree = ast.parse((ROOT / "gateway" / "contract.py").read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "json", "collections", "dataclasses", "typing"}


@pytest.mark.parametrize(("cpus", "workers"), [(0.25, 1), (0.5, 1), (1, 1), (2, 1), (4, 2), (8, 4), (16, 8)])
def test_one_worker_per_two_cpus_and_at_least_one(cpus, workers):
    assert contract.default_workers(cpus) == workers


def test_the_catalogue_survives_its_writer_and_parser():
    from gateway import render

    models = render.catalogue_from_env_file(DEV)
    assert contract.catalogue_from_json(contract.catalogue_to_json(models)) == models


def test_the_catalogue_json_is_compact_and_in_config_order():
    models = contract.parse_catalogue(
        [{"alias": "b", "model_id": "m2"}, {"alias": "a", "model_id": "m1", "fallbacks": ["b"]}]
    )
    assert contract.catalogue_to_json(models) == (
        '[{"alias":"b","model_id":"m2","mode":"chat","fallbacks":[]},'
        '{"alias":"a","model_id":"m1","mode":"chat","fallbacks":["b"]}]'
    )


def test_the_local_stack_serves_the_catalogue_the_task_definition_carries():
    from gateway.devstack.catalogue import load_environment
    from modules import config as env_config

    cfg = env_config.load(ROOT / "environments" / "dev")
    assert load_environment("dev").gateway_models_json() == contract.catalogue_to_json(cfg.models)


def test_no_other_module_writes_the_catalogue_json():
    """A second writer is how the catalogue's copies drifted (three writers with different rules)."""
    writers = []
    for path in [*ROOT.glob("gateway/**/*.py"), *ROOT.glob("modules/**/*.py")]:
        if path.name == "contract.py" or "node_modules" in path.parts:
            continue
        text = path.read_text()
        if '"model_id": m.model_id' in text or "'model_id': m.model_id" in text:
            writers.append(str(path.relative_to(ROOT)))
    assert not writers


def _documented_variables() -> set[tuple[str, str]]:
    """(name, source) of docs/contracts.md's runtime table: `environment`, or `secret` for ECS `secrets`."""
    text = (ROOT / "docs" / "contracts.md").read_text()
    section = text.split("## Container runtime contract", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        source = "secret" if "secrets" in cells[1] else "environment"
        rows.update((name.strip("` "), source) for name in cells[0].split(","))
    return rows


def test_docs_contracts_table_lists_exactly_the_variables_a_task_definition_may_pass():
    table = {(v.name, v.source) for v in contract.VARIABLES if v.source != "local"}
    assert _documented_variables() == table


def test_every_local_knob_is_named_in_the_docs():
    text = (ROOT / "docs" / "contracts.md").read_text()
    missing = [v.name for v in contract.VARIABLES if v.source == "local" and f"`{v.name}`" not in text]
    assert not missing


def test_a_variable_has_one_row_per_source():
    seen = [(v.name, v.source) for v in contract.VARIABLES]
    assert len(seen) == len(set(seen))


def test_the_entrypoint_requires_what_the_contract_says():
    from gateway import entrypoint

    assert contract.required("always") == entrypoint.ALWAYS_REQUIRED
    assert contract.required("full") == entrypoint.FULL_REQUIRED
    assert contract.required("database") == entrypoint.DATABASE_REQUIRED


def test_the_entrypoint_runs_the_contracts_worker_rule():
    from gateway import entrypoint

    assert entrypoint.default_workers is contract.default_workers


def test_the_local_stack_sets_only_contract_variables_of_the_gateways_own():
    """Names the gateway defines (GATEWAY_*, DATABASE_*) that the local stack sets must be in the contract."""
    from gateway.devstack import proxy

    source = (ROOT / "gateway" / "devstack" / "proxy.py").read_text() + (
        ROOT / "gateway" / "devstack" / "stack.py"
    ).read_text()
    import re

    ours = set(re.findall(r'"((?:GATEWAY|DATABASE)_[A-Z_]+)"', source))
    known = {v.name for v in contract.VARIABLES}
    assert proxy is not None and ours <= known, sorted(ours - known)


def _dockerfile_env_names() -> set[str]:
    import re

    text = (ROOT / "gateway" / "Dockerfile").read_text().replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names.update(re.findall(r"(\w+)=", line[4:]))
    return names


def test_the_dockerfile_sets_no_runtime_setting_of_the_contract_but_its_writable_mount():
    """The entrypoint owns runtime defaults (a Dockerfile LITELLM_LOG=INFO once overrode its WARNING);
    the image states only its own facts, such as where its one writable mount is."""
    image_facts = {"GATEWAY_SCRATCH_DIR", "GATEWAY_PRISMA_ENGINE"}
    overlap = _dockerfile_env_names() & {v.name for v in contract.VARIABLES} - image_facts
    assert not overlap


def test_the_dockerfile_sets_none_of_the_defaults_the_entrypoint_owns_for_every_command():
    """LITELLM_LOCAL_MODEL_COST_MAP and JSON_LOGS once sat in the Dockerfile only because `migrate`
    imported litellm before the entrypoint's defaults applied; now the entrypoint sets them first."""
    from gateway import entrypoint

    assert {"LITELLM_LOG", "LITELLM_LOCAL_MODEL_COST_MAP", "JSON_LOGS"} <= set(entrypoint.COMMAND_DEFAULTS)
    assert not _dockerfile_env_names() & set(entrypoint.COMMAND_DEFAULTS)


def test_an_explicit_value_wins_over_the_entrypoints_command_default():
    from gateway import entrypoint

    env = entrypoint.with_command_defaults({"LITELLM_LOG": "ERROR", "JSON_LOGS": ""})
    assert env["LITELLM_LOG"] == "ERROR"
    assert env["JSON_LOGS"] == "true"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"


def test_every_variable_the_entrypoint_reads_is_in_the_contract():
    """Read from the entrypoint's source, so a new variable fails here until the table has it."""
    import re

    from gateway import entrypoint

    source = (ROOT / "gateway" / "entrypoint.py").read_text()
    literal = re.findall(r'(?:_value|_int|_flag)\(env, "([A-Z_]+)"|env(?:\.get\(|\[)"([A-Z_]+)"', source)
    constant = re.findall(r"(?:_value|_int|_flag)\(env, ([A-Z_]+_VARIABLE)\)", source)
    read = {a or b for a, b in literal} | {getattr(entrypoint, name) for name in constant}
    assert {"DATABASE_HOST", "GATEWAY_MODELS", "IAM_TOKEN_DB_AUTH"} <= read  # the scan finds what it should
    assert read <= {v.name for v in contract.VARIABLES}, sorted(read - {v.name for v in contract.VARIABLES})
