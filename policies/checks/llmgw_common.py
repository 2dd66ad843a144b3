"""Helpers shared by the gateway's Python checks (checkov loads this file too; it registers nothing).

checkov hands a check the resource as parsed HCL: every scalar wrapped in a
one-item list, nested blocks as lists of dicts, plus `__startline__`-style
bookkeeping keys. Terraform plans and CDKTF JSON both arrive in that shape, but
CDKTF writes one-item blocks as plain objects, so `blocks()` accepts either.
Each Python check declares `POLICY` as a literal the gate reads without importing
checkov, and its rule (llmgw_base.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

# The gate tells each checkov run which environment it scans (from the stack's provider tags).
ENVIRONMENT_VARIABLE = "LLMGW_POLICY_ENVIRONMENT"
RULES_FILE = Path(__file__).resolve().parent.parent / "environment_rules.yaml"


# What looks like a secret in a container's plain environment: CKV_LLMGW_3 and the
# integration run's read-back of the applied task definitions share this one rule.
# Name parts that mark a secret (names split on '_'): LITELLM_MASTER_KEY, REDIS_PASSWORD, ...
SECRET_WORDS = frozenset(
    {
        "KEY",
        "KEYS",
        "APIKEY",
        "SECRET",
        "SECRETS",
        "PASSWORD",
        "PASSWD",
        "PWD",
        "PASSPHRASE",
        "TOKEN",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATE",
    }
)
# Substrings that mark a secret even inside a word (DBPASSWORD, CLIENTSECRET).
SECRET_SUBSTRINGS = ("PASSWORD", "SECRET")
# A reference to where a secret lives is not the secret (FOO_SECRET_ARN = arn:aws:secretsmanager:...,
# GATEWAY_ACCESS_SECRET_PREFIX = the prefix of secret names); a secret-looking value still fails.
REFERENCE_SUFFIXES = ("_ARN", "_NAME", "_ID", "_PREFIX")
SECRET_VALUES = (
    re.compile(r"sk-[A-Za-z0-9_-]{8,}"),  # OpenAI/LiteLLM-style keys
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)


def secret_looking_name(name: str) -> bool:
    upper = name.upper()
    if upper.endswith(REFERENCE_SUFFIXES):
        return False
    return bool(SECRET_WORDS.intersection(upper.split("_"))) or any(s in upper for s in SECRET_SUBSTRINGS)


def secret_looking_value(text: str) -> bool:
    return any(pattern.search(text) for pattern in SECRET_VALUES)


# An on/off switch holds no secret, whatever its name: LiteLLM's IAM database-auth switch is
# IAM_TOKEN_DB_AUTH=true. Any other value under a secret-looking name still fails.
SWITCH_VALUES = frozenset({"true", "false"})


def secret_looking_variable(name: str, value: str) -> bool:
    """A plain environment variable that may carry a secret: by its value, or by its name unless a switch."""
    if secret_looking_value(value):
        return True
    return secret_looking_name(name) and value.strip().lower() not in SWITCH_VALUES


def load_by_path(name: str, path: Path) -> Any:
    """A repository module loaded from its file (once): checkov's venv has no repository on its path."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, f"cannot load {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def value(conf: dict, key: str, default: Any = None) -> Any:
    """The scalar (or raw list) under `key`, unwrapped from checkov's one-item list."""
    raw = conf.get(key, default)
    if isinstance(raw, list) and len(raw) == 1 and not isinstance(raw[0], dict):
        return raw[0]
    return raw


def blocks(conf: dict, key: str) -> list[dict]:
    """Nested blocks under `key` as a list of dicts, whatever the nesting style.

    An empty block (`"block": {}` in CDKTF JSON) is present; an unset one in a
    plan arrives as `[[]]` and is absent.
    """
    raw = conf.get(key)
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    out: list[dict] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, list):
            out.extend(i for i in item if isinstance(i, dict))
    return out


def documents(conf: dict, key: str) -> list[Any]:
    """Every value under `key`: CDKTF gives `["<json string>"]`, a plan gives `[{parsed}]`."""
    raw = conf.get(key)
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


def is_expression(raw: Any) -> bool:
    """A whole-value Terraform expression (`${...}`) that CDKTF wrote instead of a literal."""
    return isinstance(raw, str) and raw.strip().startswith("${") and raw.strip().endswith("}")


def truthy(raw: Any) -> bool:
    """Terraform booleans arrive as bools or as the strings "true"/"false"."""
    if isinstance(raw, str):
        return raw.strip().lower() == "true"
    return raw is True


def json_document(raw: Any) -> Any | None:
    """A JSON string attribute (container definitions, IAM documents) parsed, or None.

    None means the value is not literal JSON here (a whole `${...}` expression
    such as a reference or jsonencode()): the caller decides whether that passes.
    References embedded in JSON string values still parse.
    """
    if isinstance(raw, dict | list):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def environment(conf: dict) -> str | None:
    """The environment the resource belongs to: the gate's word first, then its tags."""
    named = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if named:
        return named
    for key in ("tags_all", "tags"):
        tags = value(conf, key) or {}
        if isinstance(tags, dict) and isinstance(tags.get("environment"), str):
            return tags["environment"]
    return None


def rules(env: str | None) -> dict[str, Any]:
    """The requirements for `env`; an unknown or unlisted environment gets the strict defaults."""
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    merged = dict(data["default"])
    if env is not None:
        merged.update((data.get("environments") or {}).get(env) or {})
    return merged


def requirement(conf: dict, name: str) -> tuple[str | None, Any]:
    """The resource's environment, and what environment_rules.yaml requires there under `name`."""
    env = environment(conf)
    return env, rules(env)[name]
