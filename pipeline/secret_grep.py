"""Look for every generated secret value in what the pipeline writes; any hit is a leak.

    python -m pipeline.secret_grep --endpoint http://127.0.0.1:5055 --region us-east-1 \\
        --state-json state.json FILE_OR_DIR...

The secrets are collected where they really live, not guessed from names in the
configuration: every Secrets Manager secret's current value (each secret-like
member of a JSON one: the LiteLLM keys, Aurora's managed master password), and
every value Terraform marks sensitive in the state (`terraform show -json`).
Then the synthesized JSON, the state, the plan JSON/text/summary and the saved
plan file (a zip: each member is searched) are searched for each value, as
bytes. A hit names the secret and the file, never the value. Exit 1 on a hit.

CHAIN runs it after each emulator apply (`find_leaks`); tests/pipeline/
test_secret_grep.py proves it on a real emulator apply and that it fails when a
secret is put back into the stack.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Shorter values are not generated secrets (and would match by chance: "postgres", "true").
MIN_LENGTH = 12
# Members of a JSON secret that hold the secret part ({"username": "postgres", "password": "…"}).
SECRET_MEMBER = re.compile(r"pass|key|token|secret", re.IGNORECASE)


@dataclass(frozen=True)
class Leak:
    secret: str  # which secret (a label, never the value)
    where: str  # which file (and zip member)

    def __str__(self) -> str:
        return f"{self.secret} found in {self.where}"


# ---------------------------------------------------------------- collecting
def _secret_string_values(label: str, text: str) -> dict[str, str]:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return {
            f"{label}:{member}": value
            for member, value in parsed.items()
            if isinstance(value, str) and SECRET_MEMBER.search(member)
        }
    return {label: text}


_SECRET_ARN = re.compile(r"arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@!-]+")


def secret_arns_in(state_json: dict) -> set[str]:
    """Every Secrets Manager ARN the state names (such as Aurora's managed master secret)."""
    return set(_SECRET_ARN.findall(json.dumps(state_json)))


def secrets_manager_values(client: Any, arns: Iterable[str] = ()) -> dict[str, str]:
    """label -> value of every listed secret's current version, and of each of `arns` that exists
    here (the state names secrets created outside the stack too); secret-like members of JSON secrets."""
    found: dict[str, str] = {}
    wanted = {arn: None for arn in arns}
    for page in client.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            wanted.pop(secret["ARN"], None)
            try:
                value = client.get_secret_value(SecretId=secret["ARN"])
            except client.exceptions.ResourceNotFoundException:
                continue  # no version written yet
            if "SecretString" in value:
                found.update(_secret_string_values(f"secretsmanager:{secret['Name']}", value["SecretString"]))
    for arn in wanted:  # named by the state but not listed
        try:
            value = client.get_secret_value(SecretId=arn)
        except client.exceptions.ResourceNotFoundException:
            continue  # not this account's (an existing secret the environment file names)
        if "SecretString" in value:
            found.update(_secret_string_values(f"secretsmanager:{value['Name']}", value["SecretString"]))
    return found


def _sensitive_leaves(values: Any, mask: Any) -> Iterator[str]:
    """String leaves of `values` where Terraform's sensitivity mask says true."""
    if mask is True:
        if isinstance(values, str):
            yield values
        elif isinstance(values, dict):
            for v in values.values():
                yield from _sensitive_leaves(v, True)
        elif isinstance(values, list):
            for v in values:
                yield from _sensitive_leaves(v, True)
    elif isinstance(mask, dict) and isinstance(values, dict):
        for key, sub in mask.items():
            yield from _sensitive_leaves(values.get(key), sub)
    elif isinstance(mask, list) and isinstance(values, list):
        for v, sub in zip(values, mask, strict=False):
            yield from _sensitive_leaves(v, sub)


def _modules(module: dict) -> Iterator[dict]:
    yield module
    for child in module.get("child_modules", []) or []:
        yield from _modules(child)


def state_sensitive_values(state_json: dict) -> dict[str, str]:
    """label -> value of everything the state (`terraform show -json`) marks sensitive."""
    found: dict[str, str] = {}
    root = (state_json.get("values") or {}).get("root_module") or {}
    for module in _modules(root):
        for resource in module.get("resources", []):
            leaves = _sensitive_leaves(resource.get("values"), resource.get("sensitive_values"))
            for i, value in enumerate(v for v in leaves if v):  # "" is an unset attribute, not a value
                found[f"state:{resource['address']}#{i}"] = value
    for name, output in ((state_json.get("values") or {}).get("outputs") or {}).items():
        if output.get("sensitive"):
            for i, value in enumerate(_sensitive_leaves(output.get("value"), True)):
                found[f"state:output.{name}#{i}"] = value
    return found


def generated_secrets(*sources: dict[str, str]) -> dict[str, str]:
    """Merge sources, keeping values long enough to be generated secrets."""
    return {label: value for source in sources for label, value in source.items() if len(value) >= MIN_LENGTH}


# ---------------------------------------------------------------- searching
def _blobs(paths: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file under `paths`; a saved plan (zip) yields each of its members."""
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if zipfile.is_zipfile(file):
                with zipfile.ZipFile(file) as archive:
                    for member in archive.namelist():
                        yield f"{file}!{member}", archive.read(member)
            else:
                yield str(file), file.read_bytes()


def find_leaks(secrets: dict[str, str], paths: Iterable[Path]) -> list[Leak]:
    """Every (secret, file) where the secret's value occurs, raw or JSON-escaped."""
    if not secrets:
        raise ValueError("no secrets to look for: collect them from the emulator and the state first")
    needles = {label: {value.encode(), json.dumps(value)[1:-1].encode()} for label, value in secrets.items()}
    leaks = []
    for where, blob in _blobs(paths):
        leaks.extend(Leak(label, where) for label, forms in needles.items() if any(f in blob for f in forms))
    return leaks


# ---------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to search")
    parser.add_argument("--endpoint", help="AWS endpoint to read Secrets Manager from (the emulator)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--state-json", type=Path, help="`terraform show -json` of the applied state")
    args = parser.parse_args(argv)

    sources = []
    state = json.loads(args.state_json.read_text()) if args.state_json else {}
    if args.endpoint:
        import boto3

        client = boto3.client("secretsmanager", region_name=args.region, endpoint_url=args.endpoint)
        sources.append(secrets_manager_values(client, secret_arns_in(state)))
    if state:
        sources.append(state_sensitive_values(state))
    secrets = generated_secrets(*sources)
    try:
        leaks = find_leaks(secrets, args.paths)
    except ValueError as error:
        print(f"secret grep: {error}", file=sys.stderr)
        return 2
    for leak in leaks:
        print(f"LEAK: {leak}")
    print(f"secret grep: {len(secrets)} secret value(s), {len(leaks)} leak(s)")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
