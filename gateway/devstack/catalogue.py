"""The model catalogue of an environment file, as the GATEWAY_MODELS value the infrastructure sets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gateway.contract import CatalogueModel, catalogue_to_json, parse_catalogue
from gateway.devstack.system import REPO
from gateway.limits import DEFAULTS, RequestLimits


@dataclass(frozen=True)
class Environment:
    """What the stack takes from environments/<name>/config.yaml."""

    name: str
    project: str
    region: str
    models: tuple[CatalogueModel, ...]
    # The file's `api:` section: what the stack hands the gateway and what the smoke checks expect.
    request_limits: RequestLimits = DEFAULTS
    # observability.phoenix's content capture as the deployed task gets it: the local stack records
    # prompts in its Phoenix only where the environment would (gateway/trace_content.py).
    trace_content: bool = False

    def gateway_models_json(self) -> str:
        return catalogue_to_json(self.models)

    def aliases(self, mode: str | None = None) -> list[str]:
        """Distinct public aliases in catalogue order (an alias listed twice is one routing group)."""
        out: list[str] = []
        for model in self.models:
            if (mode is None or model.mode == mode) and model.alias not in out:
                out.append(model.alias)
        return out


def load_environment(name: str = "dev", root: Path = REPO / "environments") -> Environment:
    """Validated through modules.config, the same loader synth uses."""
    from modules import config as env_config

    cfg = env_config.load(root / name)
    return Environment(
        name=cfg.name,
        project=cfg.project,
        region=cfg.aws.region,
        # Through the one writer and parser: the stack serves exactly what the task definition carries.
        models=parse_catalogue(json.loads(catalogue_to_json(cfg.models))),
        request_limits=cfg.api.limits(),
        trace_content=cfg.observability.phoenix.captures_content,
    )
