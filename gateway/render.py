"""Render the final LiteLLM config: gateway/config.yaml + the environment's model catalogue.

The catalogue lives only in environments/<env>/config.yaml; the infrastructure
passes it to the container as the JSON value GATEWAY_MODELS, so one image serves
every environment. Rendering is pure (data in, data out) so tests, the
entrypoint, the local stack and the benchmark all get the same result.

    python -m gateway.render --models-from environments/dev/config.yaml --variant full -o out.yaml
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway.contract import (  # noqa: F401 (re-exported: the catalogue's readers import it from here)
    MODES,
    CatalogueError,
    CatalogueModel,
    catalogue_from_json,
    catalogue_to_json,
    parse_catalogue,
)

BASE_CONFIG = Path(__file__).with_name("config.yaml")

# Settings that only make sense with a database behind the proxy.
DATABASE_SETTINGS = (
    "database_url",
    "proxy_batch_write_at",
    "database_connection_pool_limit",
    "database_connection_timeout",
    "disable_prisma_schema_update",
    "allow_requests_on_db_unavailable",
)
TRACING_CALLBACK = "gateway.hooks.phoenix_tracing.phoenix_tracing"
# Trace content off (GATEWAY_TRACE_CONTENT=false): LiteLLM redacts prompts and answers for every callback
# too, and its error texts stop quoting the prompt's first characters (they reach the traces' error status).
TRACE_CONTENT_OFF = {"turn_off_message_logging": True, "redact_messages_in_exceptions": True}


# Cooldown of a deployment that has somewhere else to go (its alias has a fallback, or another
# deployment): LiteLLM's allowed_fails_policy, the failures of each kind tolerated within one
# router_settings.cooldown_time window, set per deployment (model_info). One throttle, 503 or
# timeout takes the deployment out of rotation, so requests go straight to the alternative until
# the cooldown (or Bedrock's Retry-After, when it sends one) has passed; a 500 gets one more chance.
# Without it LiteLLM 1.108.7 never cools down a group's only deployment
# (router_utils/cooldown_handlers.py), and every request retried it with back-off before falling
# back (9-10 s). A deployment with nowhere else to go keeps LiteLLM's default: never cooled down,
# retried router_settings.num_retries times (docs/gateway.md, "Retries, cooldowns and timeouts").
FAILOVER_ALLOWED_FAILS = {
    "RateLimitErrorAllowedFails": 0,
    "ServiceUnavailableErrorAllowedFails": 0,
    "TimeoutErrorAllowedFails": 0,
    "BadGatewayErrorAllowedFails": 0,
    "InternalServerErrorAllowedFails": 1,
}


def catalogue_from_env_file(path: Path) -> tuple[CatalogueModel, ...]:
    """The `models:` list of an environment file (environments/<env>/config.yaml)."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping) or "models" not in data:
        raise CatalogueError(f"{path}: no `models:` list")
    return parse_catalogue(data["models"])


def catalogue_from_env(env: Mapping[str, str] | None = None) -> tuple[CatalogueModel, ...]:
    """The catalogue a running proxy serves (GATEWAY_MODELS, validated by the entrypoint); () when unset."""
    raw = (os.environ if env is None else env).get("GATEWAY_MODELS", "")
    return catalogue_from_json(raw) if raw.strip() else ()


def model_list(models: Iterable[CatalogueModel]) -> list[dict[str, Any]]:
    """LiteLLM deployments: public alias -> bedrock/<id>, region from the environment.

    An alias listed several times is a group; its deployments get LiteLLM's `order`
    (1, 2, … in catalogue order), so the router sends each request to the first
    listed deployment that is not cooling down. The preference is decided once,
    here, instead of by per-request usage bookkeeping (docs/gateway.md, Routing).
    A deployment whose alias has a fallback or another deployment cools down at its
    first failure (FAILOVER_ALLOWED_FAILS).
    """
    models = list(models)
    group_sizes = Counter(model.alias for model in models)
    fallback_aliases = {alias: targets for entry in fallbacks(models) for alias, targets in entry.items()}
    positions: Counter[str] = Counter()
    deployments = []
    for model in models:
        params: dict[str, Any] = {
            "model": f"bedrock/{model.model_id}",
            "aws_region_name": "os.environ/AWS_REGION",
        }
        if group_sizes[model.alias] > 1:
            positions[model.alias] += 1
            params["order"] = positions[model.alias]
        info: dict[str, Any] = {"mode": model.mode}
        if group_sizes[model.alias] > 1 or fallback_aliases.get(model.alias):
            info["allowed_fails_policy"] = dict(FAILOVER_ALLOWED_FAILS)
        deployments.append({"model_name": model.alias, "litellm_params": params, "model_info": info})
    return deployments


def fallbacks(models: Iterable[CatalogueModel]) -> list[dict[str, list[str]]]:
    """router_settings.fallbacks: one {alias: [targets]} per alias, targets in catalogue order."""
    merged: dict[str, list[str]] = {}
    for model in models:
        targets = merged.setdefault(model.alias, [])
        targets.extend(t for t in model.fallbacks if t not in targets)
    return [{alias: targets} for alias, targets in merged.items() if targets]


def load_base(path: Path = BASE_CONFIG) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def render_config(
    models: Sequence[CatalogueModel],
    *,
    database: bool = True,
    base: Mapping[str, Any] | None = None,
    trace_content: bool = False,
) -> dict[str, Any]:
    """The complete LiteLLM config the image serves.

    database=False drops every database setting: the proxy then runs without virtual keys
    (master key only). trace_content=False (the default: the entrypoint decides, from
    GATEWAY_TRACE_CONTENT) adds TRACE_CONTENT_OFF. The benchmark's weakened variants are not
    made here: gateway/perf/variants.py, which the image does not carry, derives them.
    """
    config = copy.deepcopy(dict(base if base is not None else load_base()))
    config["model_list"] = model_list(models)
    router = config.setdefault("router_settings", {})
    router["fallbacks"] = fallbacks(models)
    general = config.setdefault("general_settings", {})
    litellm_settings = config.setdefault("litellm_settings", {})
    if not database:
        for key in DATABASE_SETTINGS:
            general.pop(key, None)
    if not trace_content:
        litellm_settings.update(TRACE_CONTENT_OFF)
    return config


def dump(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.render", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--models-from", type=Path, help="an environment file (environments/<env>/config.yaml)"
    )
    source.add_argument("--models-json", help="the catalogue as JSON (default: $GATEWAY_MODELS)")
    parser.add_argument("--no-database", action="store_true", help="render without database settings")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        if args.models_from:
            models = catalogue_from_env_file(args.models_from)
        else:
            text = args.models_json or os.environ.get("GATEWAY_MODELS")
            if not text:
                parser.error("give --models-from, --models-json or set GATEWAY_MODELS")
            models = catalogue_from_json(text)
    except (CatalogueError, ValueError) as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    text = dump(render_config(models, database=not args.no_database))
    if args.output:
        args.output.write_text(text)
        print(
            f"render: wrote {args.output} ({len(models)} deployments)",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
