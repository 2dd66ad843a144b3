"""Read the GitHub environments' protection back and compare it with what the repository relies on.

    python -m pipeline.github_protection [--repo OWNER/NAME] [--environments-dir DIR]

The deploy's safety rests on settings that live in GitHub, not in this repository
(docs/gitops.md, "In GitHub"): every environment folder has a GitHub environment of the
same name that deploys from `main` only, those whose `delivery.approval` is true require a
reviewer with "Prevent self-review" on, and the `build` environment (its role pushes to the
registry every stage pulls from) deploys from `main` only. A setting switched off in the UI
would pass every test here, so the deploy reads them back through the REST API before its
first stage and stops, naming each gap, when one is missing. Needs the job token's
`actions: read`. Exit 0: as declared; 1: a gap or an API error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.config import ConfigError, load_all
from pipeline.github import GitHub, GitHubError, client_from_env

ROOT = Path(__file__).resolve().parents[1]
BUILD_ENVIRONMENT = "build"  # deploy.yml's build job: pushes the image
DEPLOY_BRANCH = "main"


@dataclass(frozen=True)
class Expected:
    """What one GitHub environment must enforce."""

    name: str
    reviewers: bool  # required reviewers with "Prevent self-review"
    why: str


def expectations(environments_dir: Path) -> list[Expected]:
    """The build environment, then one per environment folder, from its `delivery.approval`."""
    wanted = [Expected(BUILD_ENVIRONMENT, False, "its role pushes the image every stage runs")]
    for config in sorted(load_all(environments_dir), key=lambda c: (c.delivery.order, c.name)):
        why = f"environments/{config.name}: delivery.approval is {str(config.delivery.approval).lower()}"
        wanted.append(Expected(config.name, config.delivery.approval, why))
    return wanted


def gaps(expected: Expected, environment: dict[str, Any] | None, branches: list[dict[str, Any]]) -> list[str]:
    """Each way the GitHub environment falls short of `expected`, in words a maintainer can act on."""
    if environment is None:
        return [f"{expected.name}: no GitHub environment of that name ({expected.why})"]
    found = []
    policy = environment.get("deployment_branch_policy")
    allowed = sorted(b.get("name", "") for b in branches if b.get("type", "branch") == "branch")
    tags = sorted(b.get("name", "") for b in branches if b.get("type") == "tag")
    if not policy:
        found.append(
            f"{expected.name}: deploys from any branch; set deployment branches to '{DEPLOY_BRANCH}' only"
        )
    elif policy.get("protected_branches"):
        found.append(
            f"{expected.name}: deploys from every protected branch; set a custom policy of "
            f"'{DEPLOY_BRANCH}' only"
        )
    elif allowed != [DEPLOY_BRANCH] or tags:
        found.append(
            f"{expected.name}: deployment branch policies {allowed + [f'tag {t}' for t in tags]}; "
            f"want exactly ['{DEPLOY_BRANCH}']"
        )
    if expected.reviewers:
        rules = [
            r for r in environment.get("protection_rules") or [] if r.get("type") == "required_reviewers"
        ]
        if not rules or not any(rule.get("reviewers") for rule in rules):
            found.append(f"{expected.name}: no required reviewers ({expected.why})")
        elif not all(rule.get("prevent_self_review") for rule in rules):
            found.append(
                f"{expected.name}: 'Prevent self-review' is off, so the author can approve their own "
                f"deploy ({expected.why})"
            )
    return found


def check(client: GitHub, wanted: list[Expected]) -> tuple[list[str], list[str]]:
    """(report lines, gaps) for every expected environment, read through the API."""
    present = {env["name"]: env for env in client.list_environments()}
    lines, found = [], []
    for expected in wanted:
        environment = present.get(expected.name)
        policy = (environment or {}).get("deployment_branch_policy") or {}
        branches = client.branch_policies(expected.name) if policy.get("custom_branch_policies") else []
        problems = gaps(expected, environment, branches)
        found.extend(problems)
        need = "main only" + (", reviewers, no self-review" if expected.reviewers else "")
        lines.append(f"  {expected.name:<12} {need:<40} {'ok' if not problems else 'GAP'}")
        if environment and environment.get("can_admins_bypass") and expected.reviewers:
            lines.append(f"  {'':<12} note: administrators may bypass its rules (can_admins_bypass)")
    return lines, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Compare the GitHub environments' protection with the repo's."
    )
    parser.add_argument("--repo", help="owner/name (default: GITHUB_REPOSITORY)")
    parser.add_argument("--environments-dir", type=Path, default=ROOT / "environments")
    args = parser.parse_args(argv)
    try:
        lines, found = check(client_from_env(args.repo), expectations(args.environments_dir))
    except (ConfigError, ValueError, GitHubError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("GitHub environments (read back through the API):")
    print("\n".join(lines))
    for gap in found:
        print(f"error: {gap}", file=sys.stderr)
    if found:
        print(f"{len(found)} gap(s): fix them in Settings > Environments (docs/gitops.md, 'In GitHub')")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
