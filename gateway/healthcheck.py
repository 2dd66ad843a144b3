"""Container health check: exit 0 when the proxy answers /health/liveliness, else 1.

Standard library only, so the image needs no curl. Used by the Dockerfile
HEALTHCHECK and the ECS task definition (`python -m gateway.healthcheck`).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from gateway import contract

TIMEOUT_SECONDS = 3.0


def url(env: dict[str, str] | None = None) -> str:
    port = (env if env is not None else os.environ).get("PORT", "").strip() or str(contract.PORT)
    return f"http://127.0.0.1:{int(port)}{contract.HEALTH_PATH}"


def check(target: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:  # noqa: S310  # fixed http URL
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main() -> int:
    try:
        target = url()
    except ValueError:
        print("healthcheck: PORT is not an integer", file=sys.stderr)
        return 1
    healthy = check(target)
    if not healthy:
        print(f"healthcheck: {target} did not answer 200", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
