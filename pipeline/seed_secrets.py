"""Write the LiteLLM master and salt key values the stack's secrets declare, after apply, without reading one.

    python -m pipeline.seed_secrets dev [--out-dir plans] [--no-redeploy]

Terraform creates the two secrets empty (modules/gateway_secrets.py), so no plan
reads a secret value. This step, run by the apply job right after
`pipeline.apply` under the apply role, reads the secret ARNs from the apply's
outputs (`<out-dir>/<env>.outputs.json`: `master_key_secret_arn`,
`salt_key_secret_arn`) and, for each, what the stack's tags on it declare
(`DescribeSecret`: JSON key, key length, master generation; the version labels
come with it, no value is read):

- no generation tag (the salt key): written once, into a secret with no
  AWSCURRENT version; never rewritten;
- generation N (the master key): written when the AWSCURRENT version does not
  carry the stage label `generation-N`; the new version gets AWSCURRENT and that
  label. An AWSCURRENT version with no generation label at N = 1 (a value the
  stack once wrote itself) is labelled, not replaced. A lower N than the current
  label is refused.

A value is `sk-` + Secrets Manager's GetRandomPassword (letters and digits, the
tagged length) as `{"<json key>": "sk-…"}`. No value is printed. A second run
writes nothing. When something was written and the outputs name the ECS service,
a new deployment is forced: tasks read their secrets only when they start, so a
rotated key (or the first value) reaches the gateway only through new tasks.
Exit 0: every secret holds its declared value; 1: an error, said on one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.secret_tags import GENERATION_TAG, JSON_KEY_TAG, KEY_LENGTH_TAG
from pipeline import stack_outputs

OUTPUTS = ("master_key_secret_arn", "salt_key_secret_arn")
CURRENT = "AWSCURRENT"
GENERATION_LABEL = "generation-"


class SeedError(Exception):
    """A secret cannot be brought to its declared value; the message names the secret and why."""


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str  # "written", "rotated", "labelled" or "unchanged"
    detail: str

    @property
    def wrote(self) -> bool:
        return self.action in ("written", "rotated")


def read_outputs(out_dir: Path, environment: str) -> dict[str, Any]:
    return stack_outputs.read(out_dir, environment, OUTPUTS, SeedError)


def _tags(secret: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in secret.get("Tags") or []}


def _declared(secret: dict[str, Any]) -> tuple[str, int, int | None]:
    """(JSON key, key length, generation or None) from the stack's tags on the secret."""
    tags, name = _tags(secret), secret["Name"]
    json_key = tags.get(JSON_KEY_TAG)
    length = tags.get(KEY_LENGTH_TAG, "")
    generation = tags.get(GENERATION_TAG)
    if not json_key or not length.isdigit():
        raise SeedError(
            f"secret {name}: tags {JSON_KEY_TAG} and {KEY_LENGTH_TAG} (digits) are required "
            "(set by modules/gateway_secrets.py; was the stack applied?)"
        )
    if generation is not None and not (generation.isdigit() and int(generation) >= 1):
        raise SeedError(f"secret {name}: tag {GENERATION_TAG}={generation!r}; allowed: an integer >= 1")
    return json_key, int(length), None if generation is None else int(generation)


def _current(secret: dict[str, Any]) -> tuple[str | None, int | None]:
    """The AWSCURRENT version's id and its generation label (None, None when the secret is empty)."""
    for version, labels in (secret.get("VersionIdsToStages") or {}).items():
        if CURRENT in labels:
            generations = [int(x[len(GENERATION_LABEL) :]) for x in labels if x.startswith(GENERATION_LABEL)]
            return version, max(generations) if generations else None
    return None, None


def _write(client: Any, arn: str, json_key: str, length: int, labels: list[str]) -> None:
    password = client.get_random_password(
        PasswordLength=length,
        ExcludePunctuation=True,  # the key travels in HTTP headers and shell variables unquoted
        IncludeSpace=False,
        RequireEachIncludedType=True,
    )["RandomPassword"]
    client.put_secret_value(
        SecretId=arn, SecretString=json.dumps({json_key: f"sk-{password}"}), VersionStages=labels
    )


def seed(client: Any, arn: str) -> Outcome:
    """Bring one secret to its declared value; never reads a value (DescribeSecret only)."""
    secret = client.describe_secret(SecretId=arn)
    name = secret["Name"]
    json_key, length, generation = _declared(secret)
    version, current = _current(secret)
    if generation is None:  # written once, never rotated (the salt key)
        if version is not None:
            return Outcome(name, "unchanged", "has a value; the salt is never rotated")
        _write(client, arn, json_key, length, [CURRENT])
        return Outcome(name, "written", "first value; never rotated")
    label = f"{GENERATION_LABEL}{generation}"
    if version is not None and current == generation:
        return Outcome(name, "unchanged", f"current version is {label}")
    if version is not None and current is not None and current > generation:
        raise SeedError(
            f"secret {name}: the current value is {GENERATION_LABEL}{current}, the stack declares {label}; "
            "master_key_version may only increase"
        )
    if version is not None and current is None and generation == 1:
        client.update_secret_version_stage(SecretId=arn, VersionStage=label, MoveToVersionId=version)
        return Outcome(name, "labelled", f"existing value kept, labelled {label}")
    _write(client, arn, json_key, length, [CURRENT, label])
    if version is None:
        return Outcome(name, "written", f"first value, {label}")
    return Outcome(name, "rotated", f"new value {label} (was {GENERATION_LABEL}{current or '?'})")


def seed_all(client: Any, outputs: dict[str, Any]) -> list[Outcome]:
    return [seed(client, outputs[name]) for name in OUTPUTS]


def redeploy(ecs: Any, outputs: dict[str, Any]) -> str | None:
    """Force a new deployment so tasks start with the values just written; None without a service."""
    cluster, service = outputs.get("ecs_cluster_name"), outputs.get("ecs_service_name")
    if not (cluster and service):
        return None
    ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
    return f"{cluster}/{service}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the LiteLLM key values the stack's secrets declare.")
    parser.add_argument("environment")
    parser.add_argument("--out-dir", type=Path, default=Path("plans"), help="where apply wrote its outputs")
    parser.add_argument("--region", help="default: the AWS SDK's (AWS_REGION)")
    parser.add_argument(
        "--no-redeploy", action="store_true", help="do not force a new ECS deployment after a write"
    )
    args = parser.parse_args(argv)
    import boto3  # deferred: heavy, and only this command needs it
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        outputs = read_outputs(args.out_dir, args.environment)
        outcomes = seed_all(boto3.client("secretsmanager", region_name=args.region), outputs)
        for outcome in outcomes:
            print(f"{args.environment}: {outcome.name}: {outcome.action} ({outcome.detail})")
        if any(o.wrote for o in outcomes) and not args.no_redeploy:
            service = redeploy(boto3.client("ecs", region_name=args.region), outputs)
            if service:
                print(f"{args.environment}: new deployment of {service} forced (tasks read secrets at start)")
    except SeedError as err:
        print(f"error: {args.environment}: {err}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"error: {args.environment}: the secrets could not be seeded: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
