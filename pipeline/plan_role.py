"""The plan role's policy (docs/iam/plan-role.json), rendered per environment and checked against real plans.

    python -m pipeline.plan_role prod      # the inline policy for prod's state bucket and key
    python -m pipeline.plan_role prod --admin-runner   # what runs the admin task (docs/iam/admin-runner.json)

The JSON file is the only place the policy is written. This module renders it for
an environment (`state:` of its file), evaluates it the way IAM does for
identity policies (an explicit Deny wins, then any Allow; wildcards in actions
and resources; conditions are not read: `allowed` is what holds whatever they
say, `may_allow` what some could permit), and turns the emulator's request
recording into the IAM actions a plan performed (`recorded_actions`), so a test
can hold the policy against what `terraform plan` really calls.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import functools
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "docs" / "iam" / "plan-role.json"
# What runs the admin task (pipeline.admin): the apply roles and the access roles (docs/gitops.md).
ADMIN_RUNNER_FILE = ROOT / "docs" / "iam" / "admin-runner.json"
# AWS signing names whose IAM action prefix differs.
IAM_PREFIX = {"monitoring": "cloudwatch"}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def definition() -> dict[str, Any]:
    return json.loads(POLICY_FILE.read_text())


def render(state_bucket: str, state_key: str) -> dict[str, Any]:
    """The inline policy with the environment's state bucket and key filled in."""
    text = json.dumps(definition()["inline_policy"])
    return json.loads(text.replace("${state_bucket}", state_bucket).replace("${state_key}", state_key))


def for_environment(environment_dir: Path) -> dict[str, Any]:
    from modules.config import load

    state = load(environment_dir).state
    return render(state.bucket, state.key)


def admin_runner(*, region: str, account_id: str, stack_id: str) -> dict[str, Any]:
    """docs/iam/admin-runner.json's inline policy for one stack."""
    text = json.dumps(json.loads(ADMIN_RUNNER_FILE.read_text())["inline_policy"])
    for name, value in (("region", region), ("account_id", account_id), ("stack_id", stack_id)):
        text = text.replace(f"${{{name}}}", value)
    return json.loads(text)


def admin_runner_for_environment(environment_dir: Path) -> dict[str, Any]:
    from modules.config import load

    config = load(environment_dir)
    return admin_runner(region=config.aws.region, account_id=config.aws.account_id, stack_id=config.stack_id)


def managed_policy_documents() -> list[dict[str, Any]]:
    """The AWS managed policies the role attaches, as moto ships them (AWS's published documents)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    published = json.loads(aws_managed_policies_data)
    return [published[arn.rsplit("/", 1)[1]]["Document"] for arn in definition()["managed_policy_arns"]]


# ---------------------------------------------------------------- evaluation
def _as_list(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: list[str], value: str, *, case: bool) -> bool:
    if case:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _applies(statement: dict[str, Any], action: str, resource: str, conditions_hold: bool) -> bool:
    if "Condition" in statement and not conditions_hold:
        return False
    if "Action" in statement:
        action_ok = _matches(_as_list(statement["Action"]), action, case=False)
    else:
        action_ok = not _matches(_as_list(statement["NotAction"]), action, case=False)
    if "Resource" in statement:
        resource_ok = _matches(_as_list(statement["Resource"]), resource, case=True)
    else:
        resource_ok = not _matches(_as_list(statement["NotResource"]), resource, case=True)
    return action_ok and resource_ok


def _decide(
    documents: list[dict[str, Any]], action: str, resource: str, *, allows: bool, denies: bool
) -> bool:
    statements = [s for d in documents for s in _as_list_of_statements(d)]
    if any(s["Effect"] == "Deny" and _applies(s, action, resource, denies) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, action, resource, allows) for s in statements)


def allowed(documents: list[dict[str, Any]], action: str, resource: str = "*") -> bool:
    """Allowed whatever the conditions say (conditional Allows left out, conditional Denies in)."""
    return _decide(documents, action, resource, allows=False, denies=True)


def may_allow(documents: list[dict[str, Any]], action: str, resource: str = "*") -> bool:
    """Allowed under some conditions (conditional Allows in, conditional Denies left out)."""
    return _decide(documents, action, resource, allows=True, denies=False)


def _as_list_of_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return [statements] if isinstance(statements, dict) else statements


# ---------------------------------------------------------------- what a plan calls
# S3 bucket reads (path style) by their subresource, as IAM names them; HEAD Bucket is authorised
# as s3:ListBucket. Object reads are not listed: a plan of this stack reads no object.
_S3_BUCKET_READS = {
    "acl": "GetBucketAcl",
    "accelerate": "GetAccelerateConfiguration",
    "cors": "GetBucketCORS",
    "encryption": "GetEncryptionConfiguration",
    "lifecycle": "GetLifecycleConfiguration",
    "logging": "GetBucketLogging",
    "object-lock": "GetBucketObjectLockConfiguration",
    "ownershipControls": "GetBucketOwnershipControls",
    "policy": "GetBucketPolicy",
    "publicAccessBlock": "GetBucketPublicAccessBlock",
    "replication": "GetReplicationConfiguration",
    "requestPayment": "GetBucketRequestPayment",
    "tagging": "GetBucketTagging",
    "versioning": "GetBucketVersioning",
    "website": "GetBucketWebsite",
}


def _s3_operation(method: str, path: str, query: str) -> str | None:
    if path.count("/") != 1:
        return None  # an object: not mapped (see _S3_BUCKET_READS)
    if method == "HEAD" and not query:
        return "ListBucket"
    keys = [k for k in parse_qs(query, keep_blank_values=True)]
    if method == "GET" and len(keys) == 1:
        return _S3_BUCKET_READS.get(keys[0])
    if method == "GET" and not keys:
        return "ListBucket"
    return None


def _operation(entry: dict[str, Any], service: str) -> str | None:
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    url = urlsplit(entry["url"])
    query = {**parse_qs(url.query), **parse_qs(body)}
    if "Action" in query:
        return query["Action"][0]
    if "/operation/" in url.path:  # Smithy RPC v2 CBOR
        return url.path.rsplit("/", 1)[-1]
    if service == "s3":
        return _s3_operation(entry["method"], url.path, url.query)
    return _rest_operation(service, entry["method"], url.path)


# Signing names whose botocore service name differs (the others are the same).
_BOTOCORE_NAME = {"monitoring": "cloudwatch", "elasticloadbalancing": "elbv2", "email": "ses"}


@functools.cache
def _rest_routes(signing_name: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(method, path pattern, operation) of a REST service, from botocore's model of it."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(_BOTOCORE_NAME.get(signing_name, signing_name))
    routes = []
    for op_name in model.operation_names:
        http = model.operation_model(op_name).http
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(http["requestUri"].split("?", 1)[0]))
        routes.append((http.get("method", "POST"), re.compile(pattern), op_name))
    return tuple(routes)


def _rest_operation(signing_name: str, method: str, path: str) -> str | None:
    """A REST call's operation name, matched against botocore's model of the service."""
    for route_method, pattern, op_name in _rest_routes(signing_name):
        if route_method == method and pattern.fullmatch(path):
            return op_name
    return None


def recorded_actions(recording: Path) -> set[str]:
    """IAM actions (`service:Operation`) of every request in a moto recording (MOTO_RECORDER_FILEPATH)."""
    actions = set()
    for line in recording.read_text().splitlines():
        entry = json.loads(line)
        if entry["url"].startswith("/moto-api") or "/moto-api/" in entry["url"]:
            continue
        auth = {k.lower(): v for k, v in entry["headers"].items()}.get("authorization", "")
        scope = _SCOPE.search(auth)
        if not scope:
            continue
        service = scope.group(1)
        operation = _operation(entry, service)
        actions.add(f"{IAM_PREFIX.get(service, service)}:{operation or '?' + entry['method'] + entry['url']}")
    return actions


@contextmanager
def recording(path: Path) -> Iterator[Path]:
    """Record every request the in-process emulator serves meanwhile (moto's recorder) into `path`."""
    from moto.moto_api import recorder

    saved = recorder._location
    recorder._location = str(path)
    recorder.reset_recording()
    recorder.start_recording()
    try:
        yield path
    finally:
        recorder.stop_recording()
        recorder._location = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("environment", help="a folder of environments/")
    parser.add_argument("--environments-dir", type=Path, default=ROOT / "environments")
    parser.add_argument(
        "--admin-runner", action="store_true", help="instead: the policy that runs the admin task (docs/iam)"
    )
    args = parser.parse_args(argv)
    folder = args.environments_dir / args.environment
    if not (folder / "config.yaml").is_file():
        print(f"{folder}/config.yaml: no such environment file", file=sys.stderr)
        return 2
    if args.admin_runner:
        print(json.dumps({"inline_policy": admin_runner_for_environment(folder)}, indent=2))
        return 0
    print(
        json.dumps(
            {
                "managed_policy_arns": definition()["managed_policy_arns"],
                "inline_policy": for_environment(folder),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
