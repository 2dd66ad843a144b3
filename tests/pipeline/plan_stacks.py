"""Small real stacks for the plan and apply tests: a git checkout, terraform_data resources, local state."""

from __future__ import annotations

import json
import subprocess

from pipeline import plan


def make_repo(tmp_path):
    """A git checkout and a synthesized-looking stack with local state."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        cwd=repo,
        check=True,
    )
    return repo


def write_stack(tmp_path, resources, environment="dev"):
    stack = tmp_path / "out" / "stacks" / f"llm-gateway-{environment}"
    stack.mkdir(parents=True, exist_ok=True)
    body = {
        "terraform": {"backend": {"local": {"path": str(tmp_path / f"{environment}.tfstate")}}},
        "resource": {"terraform_data": {name: {"input": value} for name, value in resources.items()}},
        "variable": {"image_tag": {"type": "string"}},
        "output": {
            "gateway_url": {"value": "http://gateway.example"},
            "image_tag": {"value": "${var.image_tag}"},
        },
    }
    (stack / "cdk.tf.json").write_text(json.dumps(body))
    return stack


def run_plan(tmp_path, repo, *extra, environment="dev"):
    return plan.main(
        [
            environment,
            "--no-synth",
            "--skip-policy",
            "--stacks-dir",
            str(tmp_path / "out" / "stacks"),
            "--out-dir",
            str(tmp_path / "plans"),
            "--repo",
            str(repo),
            *extra,
        ]
    )
