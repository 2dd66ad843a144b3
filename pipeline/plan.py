"""Plan one environment and leave everything a reviewer and `pipeline.apply` need.

    python -m pipeline.plan dev [--image-tag TAG] [--detailed-exitcode] [--out-dir plans]
                                [--github-output] [--aws-endpoint URL --local-backend DIR]

The image comes from --image-tag (a tag or a sha256: digest; Terraform variable
`image_tag`), else from what the environment runs now, so pull-request and drift
plans do not propose rolling the image back.

Writes, under the output folder: `<env>.tfplan` (the saved plan), `<env>.tfplan.sha256`
(its checksum, `sha256sum` format), `<env>.plan.json` (`terraform show -json`, its
sensitive values redacted by pipeline.summary), `<env>.plan.txt`, `<env>.plan.md` (the
summary posted on the pull request), `<env>.plan.meta.json` (what apply checks) and
`policy-<env>/`. With --github-output,
`plan_sha256` and `image_tag` also go to $GITHUB_OUTPUT: carried as job outputs, the
checksum reaches the apply job by a path the artifact cannot rewrite.

Exit codes: 0 planned; 1 error; 2 changes pending (only with --detailed-exitcode,
for drift detection); 3 the policy gate failed. The summary is written first in
every case but an error, so CI can post it whatever the outcome.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pipeline.github import write_output
from pipeline.summary import PolicyResult, redacted_plan_text, render_summary
from pipeline.terraform import TerraformError, terraform, terraform_env
from pipeline.validate import DEFAULT_STACKS, find_stacks

ROOT = Path(__file__).resolve().parents[1]
EXIT_ERROR, EXIT_CHANGES, EXIT_POLICY = 1, 2, 3


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Set by `pipeline.chain run` for its subprocesses: one local run is one commit, as one workflow run
# is, even when the working tree's HEAD moves meanwhile.
COMMIT_VARIABLE = "PIPELINE_COMMIT"


def git_sha(repo: Path) -> str:
    """HEAD of the checkout, or 'unknown' outside git (a plan can still be made, but apply will refuse)."""
    if os.environ.get(COMMIT_VARIABLE):
        return os.environ[COMMIT_VARIABLE]
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def state_identity(stack: Path, env: dict[str, str]) -> dict[str, object]:
    """Lineage and serial of the current state (None before the first apply).

    Recorded with the plan so that apply can say precisely why a plan is stale.
    """
    pulled = terraform(["state", "pull"], stack, env=env, capture=True).stdout.strip()
    if not pulled:
        return {"lineage": None, "serial": None}
    state = json.loads(pulled)
    return {"lineage": state.get("lineage"), "serial": state.get("serial")}


def paths(out_dir: Path, environment: str) -> dict[str, Path]:
    """Every file plan writes and apply reads, in one place."""
    return {
        "plan": out_dir / f"{environment}.tfplan",
        "checksum": out_dir / f"{environment}.tfplan.sha256",
        "json": out_dir / f"{environment}.plan.json",
        "text": out_dir / f"{environment}.plan.txt",
        "summary": out_dir / f"{environment}.plan.md",
        "meta": out_dir / f"{environment}.plan.meta.json",
        "policy": out_dir / f"policy-{environment}",
    }


def synth(environment: str, args: argparse.Namespace) -> None:
    """Run main.py for this environment only, with the local-run pass-through flags."""
    command = [sys.executable, str(ROOT / "main.py"), environment, "--out", str(args.stacks_dir.parent)]
    if args.aws_endpoint:
        command += ["--aws-endpoint", args.aws_endpoint]
    if args.local_backend:
        command += ["--local-backend", str(args.local_backend)]
    args.stacks_dir.parent.parent.mkdir(parents=True, exist_ok=True)  # main.py creates only the last level
    print(f"== synth {environment}", flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def run_policy_gate(environment: str, plan_json: Path, report_dir: Path) -> PolicyResult | None:
    """The policy gate over this plan (policies/gate.py); None when this checkout has no gate.

    The stacks, Dockerfile and workflows are gated in the checks job; here only
    the plan, which alone shows values known after synth (ids, ARNs, defaults).
    """
    if not (ROOT / "policies" / "gate.py").is_file():
        print("policy gate: policies/gate.py is missing, so the summary says 'not run'", flush=True)
        return None
    print("== policy gate over the plan", flush=True)
    command = [
        sys.executable,
        "-m",
        "policies.gate",
        "--env",
        environment,
        "--plan-json",
        str(plan_json.resolve()),
    ]
    command += ["--only-plan", "--report-dir", str(report_dir.resolve())]
    done = subprocess.run(command, cwd=ROOT, check=False)
    summary_file = report_dir / "summary.json"
    if not summary_file.is_file():
        return PolicyResult(False, (f"the gate exited {done.returncode} without writing {summary_file}",))
    summary = json.loads(summary_file.read_text())
    waived = summary.get("waived") or []
    return PolicyResult(
        passed=bool(summary.get("passed")) and done.returncode == 0,
        failures=tuple(summary.get("failures") or ()),
        report=f"{report_dir.name}/ (SARIF, JUnit, summary.json)",
        note=f"{len(waived)} finding(s) waived (policies/waivers.yaml)." if waived else "",
    )


def deployed_image_tag(stack: Path, env: dict[str, str]) -> str | None:
    """The image the environment runs now (the stack's `image_tag` output), if it was ever applied."""
    done = terraform(["output", "-json"], stack, env=env, capture=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        return None
    value = (json.loads(done.stdout).get("image_tag") or {}).get("value")
    return value if isinstance(value, str) and value else None


def choose_image(requested: str | None, stack: Path, env: dict[str, str]) -> str:
    """The image to plan with: the one asked for, else the one deployed, so that pull-request
    and drift plans show configuration changes rather than an image roll-back."""
    image = requested or env.get("TF_VAR_image_tag") or deployed_image_tag(stack, env)
    if not image:
        raise FileNotFoundError(
            "no --image-tag given and the environment has no deployed image yet: pass --image-tag TAG"
        )
    print(f"== image: {image}{'' if requested else ' (currently deployed)'}", flush=True)
    return image


def make_plan(stack: Path, out: dict[str, Path], env: dict[str, str], image: str) -> bool:
    """plan -out, show; returns whether the plan changes anything."""
    planned = terraform(
        [
            "plan",
            "-input=false",
            "-lock-timeout=5m",
            "-detailed-exitcode",
            f"-var=image_tag={image}",
            f"-out={out['plan'].resolve()}",
        ],
        stack,
        env=env,
        check=False,
    )
    if planned.returncode not in (0, 2):
        raise TerraformError(["plan"], planned.returncode)
    shown = terraform(["show", "-json", str(out["plan"].resolve())], stack, env=env, capture=True).stdout
    out["json"].write_text(redacted_plan_text(shown))  # an artifact: no sensitive value in it
    text = terraform(["show", "-no-color", str(out["plan"].resolve())], stack, env=env, capture=True).stdout
    out["text"].write_text(text)
    return planned.returncode == 2


def write_metadata(
    out: dict[str, Path],
    environment: str,
    stack: Path,
    args: argparse.Namespace,
    state: dict[str, object],
    image: str,
) -> dict[str, object]:
    """What the plan was made from; apply refuses when any of it has moved."""
    meta = {
        "environment": environment,
        "git_sha": git_sha(args.repo),
        "config_hash": file_hash(stack / "cdk.tf.json"),
        "plan_hash": file_hash(out["plan"]),
        "image_tag": image,
        "stack_dir": str(stack.resolve()),
        "state": state,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out["meta"].write_text(json.dumps(meta, indent=2) + "\n")
    out["checksum"].write_text(f"{meta['plan_hash']}  {out['plan'].name}\n")
    return meta


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Plan one environment: plan file, JSON, policy, summary.")
    parser.add_argument("environment")
    parser.add_argument(
        "--image-tag", help="gateway image tag or sha256: digest (default: the one deployed now)"
    )
    parser.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    parser.add_argument(
        "--github-output", action="store_true", help="write plan_sha256 and image_tag to $GITHUB_OUTPUT"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("plans"), help="default: %(default)s")
    parser.add_argument("--stacks-dir", type=Path, default=DEFAULT_STACKS, help="default: %(default)s")
    parser.add_argument("--aws-endpoint", metavar="URL", help="local runs: send AWS calls to an emulator")
    parser.add_argument("--local-backend", type=Path, metavar="DIR", help="local runs: state in DIR")
    parser.add_argument("--no-synth", action="store_true", help="plan the stack already in --stacks-dir")
    parser.add_argument(
        "--skip-policy", action="store_true", help="local experiments: summary says 'not run'"
    )
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose commit is recorded")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    args.stacks_dir = args.stacks_dir.resolve()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = paths(args.out_dir, args.environment)
    for stale in (out["plan"], out["checksum"], out["meta"], out["summary"]):
        stale.unlink(missing_ok=True)  # a failed run must not leave an older plan looking current
    try:
        if not args.no_synth:
            synth(args.environment, args)
        stack = find_stacks(args.stacks_dir, [args.environment])[args.environment]
        env = terraform_env()
        terraform(["init", "-input=false", "-no-color", "-reconfigure"], stack, env=env, capture=True)
        image = choose_image(args.image_tag, stack, env)
        changed = make_plan(stack, out, env, image)
        meta = write_metadata(out, args.environment, stack, args, state_identity(stack, env), image)
        if args.github_output:
            write_output("plan_sha256", str(meta["plan_hash"]))
            write_output("image_tag", image)
    except (TerraformError, FileNotFoundError, subprocess.CalledProcessError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    policy = None if args.skip_policy else run_policy_gate(args.environment, out["json"], out["policy"])
    summary = render_summary(
        json.loads(out["json"].read_text()),
        environment=args.environment,
        policy=policy,
        plan_text=out["text"].read_text(),
        artifact_hint=f"The whole plan is in the `plan-{args.environment}` artifact.",
    )
    image_line = f"**Image:** `{json.loads(out['meta'].read_text())['image_tag']}`"
    out["summary"].write_text(f"{summary.rstrip()}\n\n{image_line}\n")
    print(f"== {args.environment}: summary in {out['summary']} ({time.monotonic() - started:.1f} s in all)")
    if policy is not None and not policy.passed:
        return EXIT_POLICY
    if args.detailed_exitcode and changed:
        print(f"{args.environment}: infrastructure and configuration differ (drift or pending changes)")
        return EXIT_CHANGES
    return 0


if __name__ == "__main__":
    sys.exit(main())
