"""The bench measures the runtime the image ships: same log level, same worker rule (issue 19, part 4).

Both sides go through the entrypoint's own defaults, so a Dockerfile ENV, a task-definition variable
or a local-stack knob that sets either one differently fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from gateway import contract, entrypoint
from gateway.devstack import proxy
from gateway.perf import bench, bench_variants

ROOT = Path(__file__).resolve().parents[3]


def _image_environment() -> dict[str, str]:
    """The runtime stage's ENV lines (what every container starts with before its task's variables)."""
    text = (ROOT / "gateway" / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text[text.index("AS runtime") :]
    env: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line[4:]))
    return env


def _bench_environments(tmp_path: Path) -> dict[str, dict[str, str]]:
    """The proxy environment the local stack gives each of the bench's default variants."""
    labels = bench.parse_args([]).variants.split(",")
    out = {}
    for label in labels:
        spec = bench_variants.parse_variant(label)
        out[label] = proxy.proxy_environment(dict(spec.env), home=tmp_path / label)
    return out


def test_the_bench_runs_the_log_level_the_image_runs(tmp_path):
    image = entrypoint.with_command_defaults(_image_environment())["LITELLM_LOG"]
    assert image == entrypoint.DEFAULT_LOG_LEVEL == "WARNING"
    for label, env in _bench_environments(tmp_path).items():
        assert entrypoint.with_command_defaults(env)["LITELLM_LOG"] == image, label


def test_the_bench_runs_the_worker_count_a_one_vcpu_task_runs(tmp_path):
    """Fargate's 1-vCPU task gets default_workers(1) from modules/ (tests/modules/test_service.py)."""
    for label, env in _bench_environments(tmp_path).items():
        assert env[proxy.WORKERS_VARIABLE] == str(contract.default_workers(1)), label


def test_the_image_sets_neither_the_log_level_nor_the_workers():
    assert not {"LITELLM_LOG", "GATEWAY_WORKERS", "NUM_WORKERS"} & set(_image_environment())
