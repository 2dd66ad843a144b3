"""`python -m pipeline.access` — what `nox -s access` runs.

    plan  [--env ENV] [--url URL --key KEY] [--allow-delete]   the diff between access.yaml and the gateway
    apply [--env ENV] [--url URL --key KEY] [--allow-delete]   carry it out (idempotent)
    diff  [--env ENV] --base REF [--markdown FILE]             what a branch changes in access.yaml

Without --url a local stack is started (database mode), reconciled and stopped: the same
target as smoke and the perf tools (gateway/devstack/target.py). With --url, URL is the
gateway's admin entry (in AWS: reached from inside the VPC, never the public entry) and the
key its master key (--key or $GATEWAY_API_KEY / $LITELLM_API_KEY).

Exit codes, like `terraform plan -detailed-exitcode`: plan 0 no changes and no drift,
2 changes or drift; apply 0 done; diff 0 same, 2 changed; 1 any error (bad access.yaml,
an API call that failed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from gateway.access.diff import render
from gateway.access.gateway import AccessError, GatewayAdmin
from gateway.access.reconcile import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    declared_diff,
    live_markdown,
    markdown,
    reconcile,
)
from gateway.access.secrets import FileStore, SecretsManagerStore, SecretStore
from modules.config import ConfigError
from modules.config import load as load_config
from modules.config.access import ACCESS_FILE, AccessConfig, load_access

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ROOT / "environments"
LOCAL_SECRETS = ROOT / ".work" / "access"  # git-ignored (.work/)


def _base_access(env: str, ref: str, catalogue: list[str]) -> AccessConfig | None:
    shown = subprocess.run(
        ["git", "show", f"{ref}:environments/{env}/{ACCESS_FILE}"], cwd=ROOT, capture_output=True, text=True
    )
    if shown.returncode != 0:
        return None  # the base has no access.yaml for this environment: everything is new
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / env
        folder.mkdir()
        (folder / ACCESS_FILE).write_text(shown.stdout, encoding="utf-8")
        return load_access(folder, catalogue=catalogue)


def _store(args: argparse.Namespace, env: str, local_folder: Path) -> SecretStore:
    kind = args.secret_store or ("aws" if args.url else "file")
    if kind == "file":
        return FileStore(args.secrets_dir or local_folder)
    config = load_config(ENVIRONMENTS / env)
    return SecretsManagerStore(config.stack_id, region=config.aws.region)


def _parser() -> argparse.ArgumentParser:
    from gateway.devstack.target import add_target_arguments

    parser = argparse.ArgumentParser(prog="python -m pipeline.access", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("plan", "apply", "diff"))
    parser.add_argument("--env", default="dev", help="environments/<ENV>/access.yaml (default: dev)")
    add_target_arguments(parser)
    parser.add_argument("--allow-delete", action="store_true", help="carry out deletions (refused otherwise)")
    parser.add_argument(
        "--secret-store",
        choices=("file", "aws"),
        help="where new key values go: aws (Secrets Manager; default with --url) or file (default locally)",
    )
    parser.add_argument(
        "--secrets-dir", type=Path, help=f"the file store's folder (default {LOCAL_SECRETS}/<env>)"
    )
    parser.add_argument("--base", default="origin/main", help="diff: the git ref to compare with")
    parser.add_argument(
        "--markdown",
        type=Path,
        help="also write the result as Markdown (diff: the PR comment's Access section)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from gateway.devstack.target import gateway_target, run_stack_command, strip_separator

    args = _parser().parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    try:
        config = load_config(ENVIRONMENTS / args.env)
        catalogue = list(dict.fromkeys(model.alias for model in config.models))
        access = load_access(ENVIRONMENTS / args.env, catalogue=catalogue)
        if args.command == "diff":
            planned = declared_diff(access, _base_access(args.env, args.base, catalogue))
            print(render(planned, target=f"{args.base} (declared)"))
            if args.markdown:  # plans/ does not exist yet when the PR job runs this before its plan
                args.markdown.parent.mkdir(parents=True, exist_ok=True)
                args.markdown.write_text(markdown(planned, args.base), encoding="utf-8")
            return EXIT_OK if not planned.changes else EXIT_CHANGES
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR

    def run(args: argparse.Namespace) -> int:
        with gateway_target(args.url, args.key, environment=args.env, log=print) as chosen:
            url = chosen.stack.admin_url if chosen.local else chosen.url
            folder = (
                chosen.stack.work_dir / "secrets" / "access" if chosen.local else LOCAL_SECRETS / args.env
            )
            if chosen.local and not chosen.stack.database_enabled:
                print(
                    f"error: the local stack has no database ({chosen.stack.database_skip_reason})",
                    file=sys.stderr,
                )
                return EXIT_ERROR
            try:
                with GatewayAdmin(url, chosen.key) as admin:
                    code, planned = reconcile(
                        args.command,
                        access,
                        admin,
                        _store(args, args.env, folder),
                        allow_delete=args.allow_delete,
                    )
                if args.markdown:
                    args.markdown.write_text(live_markdown(planned, args.command), encoding="utf-8")
            except AccessError as err:
                print(f"error: {err}", file=sys.stderr)
                return EXIT_ERROR
            return code

    return run_stack_command(run, args)


if __name__ == "__main__":
    sys.exit(main())
