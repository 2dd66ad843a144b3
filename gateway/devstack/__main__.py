"""`python -m gateway.devstack serve`: what `nox -s serve` runs (smoke: `python -m gateway.smoke`).

serve                       start the local stack, print how to use it, wait for Ctrl-C
"""

from __future__ import annotations

import argparse
import sys
import time

from gateway.devstack.stack import LocalStack
from gateway.devstack.target import add_stack_arguments, run_stack_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway.devstack", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_stack_arguments(sub.add_parser("serve", help="run the local stack until Ctrl-C"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    args_in = [a for i, a in enumerate(args_in) if not (a == "--" and i <= 1)]  # `serve -- --variant …`
    args = _parser().parse_args(args_in)
    return run_stack_command(serve, args)


# ---------------------------------------------------------------- serve
def serve(args: argparse.Namespace) -> int:
    with LocalStack(
        variant=args.variant, environment=args.environment, work_dir=args.work_dir, latency=args.latency
    ) as stack:
        print(_usage(stack))
        try:
            while True:
                time.sleep(2)
                dead = stack.dead_services()
                if dead:
                    print(
                        f"stopped unexpectedly: {', '.join(dead)}; logs in {stack.work_dir / 'logs'}",
                        file=sys.stderr,
                    )
                    return 1
        except KeyboardInterrupt:
            print("\nstopping the local stack …")
    return 0


def _usage(stack: LocalStack) -> str:
    aliases = stack.environment.aliases("chat")
    alias = aliases[0] if aliases else "nova-lite"
    db = "on" if stack.database_enabled else f"off ({stack.database_skip_reason})"
    traces = "with" if stack.trace_content else "without"
    return f"""
The gateway is running (variant {stack.variant}); press Ctrl-C to stop everything.

  gateway      {stack.gateway_url}
  admin        {stack.admin_url}
  master key   {stack.master_key}
  Phoenix UI   {stack.phoenix_url}  (project {stack.phoenix_project})
  emulator     {stack.emulator_url}  (control API: {stack.emulator_url}/_emulator/stats)
  models       {", ".join(stack.environment.aliases())}
  database     {db}
  traces       {traces} prompt and answer text (as {stack.environment.name})
  logs         {stack.work_dir / "logs"}
  memory       {stack.memory().describe()}

  export OPENAI_BASE_URL={stack.gateway_url}/v1 OPENAI_API_KEY={stack.master_key}
  curl -s $OPENAI_BASE_URL/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" \\
       -H 'Content-Type: application/json' \\
       -d '{{"model": "{alias}", "messages": [{{"role": "user", "content": "Hello"}}]}}'
  python -c 'import openai; print(openai.OpenAI().chat.completions.create(model="{alias}", \\
       messages=[{{"role": "user", "content": "Hello"}}]).choices[0].message.content)'
"""


if __name__ == "__main__":
    sys.exit(main())
