"""Synthesize one Terraform stack per environment folder.

    python main.py [env ...] [--environments-dir DIR] [--out DIR]
                   [--aws-endpoint URL] [--local-backend DIR]

Writes <out>/stacks/<project>-<env>/cdk.tf.json. A bad environment file stops
with one line naming the file, the field and what is allowed (exit code 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Node 20 is end-of-life for jsii; its banner is noise in every synth.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from modules.config import ConfigError, EnvironmentConfig, load_all

ROOT = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Synthesize the gateway's Terraform stacks, one per environment."
    )
    parser.add_argument(
        "environments", nargs="*", metavar="env", help="environments to synthesize (default: all)"
    )
    parser.add_argument(
        "--environments-dir",
        type=Path,
        default=ROOT / "environments",
        help="folder holding one sub-folder per environment (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("cdktf.out"), help="output folder (default: %(default)s)"
    )
    parser.add_argument(
        "--aws-endpoint",
        metavar="URL",
        help="send every AWS API call to this URL (a local emulator such as moto)",
    )
    parser.add_argument(
        "--local-backend",
        type=Path,
        metavar="DIR",
        help="keep state in DIR/<stack>.tfstate instead of the S3 backend",
    )
    return parser.parse_args(argv)


def synth(configs: list[EnvironmentConfig], args: argparse.Namespace) -> list[Path]:
    """Build every stack in one app and write them; returns the stack files."""
    started = time.perf_counter()
    print("  loading CDKTF and the AWS provider bindings (jsii starts node)...", flush=True)
    from modules import cdk
    from modules.stack import GatewayStack

    print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)

    app = cdk.App(outdir=str(args.out), stack_traces=False)
    for config in configs:
        started = time.perf_counter()
        GatewayStack(
            app,
            config.stack_id,
            config=config,
            aws_endpoint=args.aws_endpoint,
            local_backend=args.local_backend,
        )
        print(f"  built {config.stack_id} in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    app.synth()
    print(f"  wrote {len(configs)} stack(s) in {time.perf_counter() - started:.1f} s", flush=True)
    return [args.out / "stacks" / c.stack_id / "cdk.tf.json" for c in configs]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        configs = load_all(args.environments_dir, args.environments or None)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"synthesizing {', '.join(c.stack_id for c in configs)} into {args.out}/", flush=True)
    for path in synth(configs, args):
        print(f"  {path} ({path.stat().st_size // 1024} KiB)")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
