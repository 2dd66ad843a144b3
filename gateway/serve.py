"""LiteLLM's own CLI, serving the gateway's request layer (gateway/asgi.py) instead of LiteLLM's bare app.

    python -m gateway.serve --config … --host … --port … --num_workers … --log_config …

The arguments are LiteLLM's (`python -m litellm.proxy.proxy_cli`), and so is everything the CLI
does before serving: the environment it sets up for the app, the database URL, workers, the log
config and the graceful-shutdown timeout. The one change is uvicorn's import string,
`litellm.proxy.proxy_server:app` -> `gateway.asgi:app`, which wraps that same app. If LiteLLM stops
building its uvicorn arguments where this expects, serving refuses to start rather than run
without the layer (tests/gateway/test_asgi.py also checks the CLI still calls it).
"""

from __future__ import annotations

from typing import Any

LITELLM_APP = "litellm.proxy.proxy_server:app"
GATEWAY_APP = "gateway.asgi:app"


def patch_cli(helpers: Any) -> None:
    """Make LiteLLM's CLI hand uvicorn GATEWAY_APP; refuse if its arguments no longer name LITELLM_APP."""
    original = helpers.get_default_unvicorn_init_args

    def gateway_uvicorn_args(*args: Any, **kwargs: Any) -> dict:
        uvicorn_args = original(*args, **kwargs)
        if uvicorn_args.get("app") != LITELLM_APP:
            raise RuntimeError(
                f"LiteLLM's uvicorn target is {uvicorn_args.get('app')!r}, not {LITELLM_APP!r}: "
                "gateway/serve.py must be updated for this LiteLLM version"
            )
        uvicorn_args["app"] = GATEWAY_APP
        return uvicorn_args

    helpers.get_default_unvicorn_init_args = staticmethod(gateway_uvicorn_args)


def main() -> None:
    from litellm.proxy import proxy_cli

    patch_cli(proxy_cli.ProxyInitializationHelpers)
    proxy_cli.run_server()  # click reads sys.argv


if __name__ == "__main__":
    main()
