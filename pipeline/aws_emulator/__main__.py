"""Serve the extended moto on 127.0.0.1 until Ctrl-C: `python -m pipeline.aws_emulator [--port N]`."""

from __future__ import annotations

import argparse
import threading

from .server import EmulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--account-id", default=None, help="AWS account id moto answers for")
    args = parser.parse_args()
    server = EmulatorServer(account_id=args.account_id, port=args.port).start()
    print(f"moto with extensions at {server.endpoint} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
