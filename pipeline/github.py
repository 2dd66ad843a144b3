"""The pipeline's side of GitHub Actions: plan comments, job summaries, masked secrets.

    python -m pipeline.github upsert-plan-comment --environment dev --body-file plans/dev.plan.md
    python -m pipeline.github step-summary --file plans/dev.plan.md
    python -m pipeline.github export-secret --secret-id ARN --json-key KEY --env-name NAME
    python -m pipeline.github image-digest --repository-url URL --tag TAG   # -> $GITHUB_OUTPUT digest=

One comment per environment per pull request, found again by a hidden marker
and edited in place, so a pull request pushed ten times still shows one
current plan per environment instead of ten stale ones. Plain urllib keeps
the workflow free of third-party actions that would hold the token.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API = "https://api.github.com"
BOT_LOGIN = "github-actions[bot]"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def marker(environment: str) -> str:
    return f"<!-- llm-gateway-plan:{environment} -->"


class GitHubError(RuntimeError):
    """The API answered with an error status."""


@dataclass
class GitHub:
    """Just the REST calls the pipeline needs, authenticated with the workflow's token."""

    token: str
    repository: str  # owner/name
    api_url: str = DEFAULT_API

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.api_url)
        if parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
            raise ValueError(f"refusing to send the token over {parts.scheme}:// to {parts.hostname}")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", self.repository):
            raise ValueError(f"not an owner/name repository: {self.repository!r}")

    def _request(self, method: str, url: str, payload: dict | None = None) -> tuple[object, dict[str, str]]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __post_init__
            url,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
                "User-Agent": "llm-gateway-pipeline",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body = response.read()
                return (json.loads(body) if body else None), dict(response.headers)
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:500]
            raise GitHubError(
                f"{method} {urllib.parse.urlsplit(url).path}: HTTP {err.code} {detail}"
            ) from None

    def _url(self, path: str) -> str:
        return f"{self.api_url.rstrip('/')}/repos/{self.repository}{path}"

    def list_comments(self, issue: int) -> list[dict]:
        """Every comment on an issue or pull request, following the Link header's pages."""
        url: str | None = self._url(f"/issues/{issue}/comments?per_page=100")
        comments: list[dict] = []
        while url:
            page, headers = self._request("GET", url)
            comments.extend(page)  # type: ignore[arg-type]
            url = next_link(headers.get("Link", ""))
        return comments

    def _pages(self, url: str | None, field: str) -> list[dict]:
        """Every item of a paged listing whose items sit under `field`, following the Link header."""
        items: list[dict] = []
        while url:
            page, headers = self._request("GET", url)
            items.extend(page[field])  # type: ignore[index]
            url = next_link(headers.get("Link", ""))
        return items

    def list_environments(self) -> list[dict]:
        """The repository's deployment environments with their protection rules (`actions: read`)."""
        return self._pages(self._url("/environments?per_page=100"), "environments")

    def branch_policies(self, environment: str) -> list[dict]:
        """An environment's custom deployment branch and tag policies (`name`, `type`)."""
        name = urllib.parse.quote(environment, safe="")
        return self._pages(
            self._url(f"/environments/{name}/deployment-branch-policies?per_page=100"), "branch_policies"
        )

    def create_comment(self, issue: int, body: str) -> dict:
        return self._request("POST", self._url(f"/issues/{issue}/comments"), {"body": body})[0]  # type: ignore[return-value]

    def update_comment(self, comment_id: int, body: str) -> dict:
        return self._request("PATCH", self._url(f"/issues/comments/{comment_id}"), {"body": body})[0]  # type: ignore[return-value]


def next_link(link_header: str) -> str | None:
    """The rel="next" URL of a GitHub Link header, if any."""
    for part in link_header.split(","):
        match = re.search(r'<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def upsert_plan_comment(
    client: GitHub, issue: int, environment: str, body: str, author: str = BOT_LOGIN
) -> tuple[str, int]:
    """Create or update this environment's plan comment; returns ('created'|'updated', id).

    Only comments by `author` count: a marker pasted by someone else must not
    redirect the pipeline's output into their comment.
    """
    tag = marker(environment)
    text = body if body.startswith(tag) else f"{tag}\n{body}"
    for comment in client.list_comments(issue):
        if tag in (comment.get("body") or "") and (comment.get("user") or {}).get("login") == author:
            client.update_comment(comment["id"], text)
            return "updated", comment["id"]
    return "created", client.create_comment(issue, text)["id"]


def pull_request_number(event_path: str | None) -> int:
    """The pull request the running workflow was triggered by."""
    if not event_path:
        raise ValueError("no --pr given and GITHUB_EVENT_PATH is not set")
    event = json.loads(Path(event_path).read_text())
    number = (event.get("pull_request") or {}).get("number")
    if number is None:
        raise ValueError(f"{event_path} is not a pull_request event: pass --pr")
    return int(number)


def append_step_summary(markdown: str, environ: dict[str, str] | None = None) -> Path:
    """Add Markdown to the job's summary page ($GITHUB_STEP_SUMMARY)."""
    target = (environ or os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        raise ValueError("GITHUB_STEP_SUMMARY is not set (only inside GitHub Actions)")
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n\n")
    return Path(target)


def read_secret(secret_id: str, json_key: str | None, region: str | None = None) -> str:
    """A Secrets Manager value (or one key of a JSON secret), never printed."""
    import boto3  # deferred: only this command needs it, and it is heavy to import
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client("secretsmanager", region_name=region)
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError) as err:
        raise ValueError(f"cannot read secret {secret_id}: {err}") from None
    if json_key is None:
        return value
    try:
        return str(json.loads(value)[json_key])
    except (ValueError, KeyError):
        raise KeyError(f"secret {secret_id} has no JSON key {json_key!r}") from None


def image_digest(repository_url: str, tag: str, region: str | None = None) -> str:
    """The digest ECR holds for `repository_url:tag`: what prod is promoted with, not the tag."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/(.+)", repository_url)
    if not match:
        raise ValueError(f"not an ECR repository URL: {repository_url}")
    registry, url_region, name = match.groups()
    try:
        images = boto3.client("ecr", region_name=region or url_region).describe_images(
            registryId=registry, repositoryName=name, imageIds=[{"imageTag": tag}]
        )["imageDetails"]
    except (BotoCoreError, ClientError) as err:
        raise ValueError(f"cannot find {repository_url}:{tag}: {err}") from None
    return images[0]["imageDigest"]


def write_output(name: str, value: str, environ: dict[str, str] | None = None) -> None:
    """One single-line step output, for `steps.<id>.outputs.<name>`."""
    target = (environ or os.environ).get("GITHUB_OUTPUT")
    if not target:
        raise ValueError("GITHUB_OUTPUT is not set (only inside GitHub Actions)")
    if "\n" in value:
        raise ValueError(f"output {name} spans lines")
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"{name}={value}\n")


def export_masked(name: str, value: str, environ: dict[str, str] | None = None, out=None) -> None:
    """Mask `value` in every later log line, then hand it to later steps as $name.

    The mask command must come first: GitHub only hides a value from the logs
    once it has been told about it.
    """
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
        raise ValueError(f"not an environment variable name: {name!r}")
    if not value:
        raise ValueError(f"refusing to export an empty {name}")
    stream = out or sys.stdout
    for line in value.splitlines():
        print(f"::add-mask::{line}", file=stream, flush=True)
    target = (environ or os.environ).get("GITHUB_ENV")
    if not target:
        raise ValueError("GITHUB_ENV is not set (only inside GitHub Actions)")
    delimiter = f"EOF_{uuid.uuid4().hex}"
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def client_from_env(repository: str | None) -> GitHub:
    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise ValueError("GITHUB_TOKEN is not set")
    repository = repository or os.environ.get("GITHUB_REPOSITORY")
    if not repository:
        raise ValueError("no --repo given and GITHUB_REPOSITORY is not set")
    return GitHub(token, repository, os.environ.get("GITHUB_API_URL", DEFAULT_API))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="GitHub plumbing for the pipeline's workflows.")
    commands = parser.add_subparsers(dest="command", required=True)
    upsert = commands.add_parser("upsert-plan-comment", help="one updated plan comment per environment")
    upsert.add_argument("--environment", required=True)
    upsert.add_argument(
        "--body-file",
        type=Path,
        action="append",
        required=True,
        help="Markdown of the comment; repeat to append sections (the plan, then its Access section)",
    )
    upsert.add_argument("--pr", type=int, help="default: the pull request of GITHUB_EVENT_PATH")
    upsert.add_argument("--repo", help="owner/name (default: GITHUB_REPOSITORY)")
    upsert.add_argument("--author", default=BOT_LOGIN, help="login whose comment is updated")
    summary = commands.add_parser("step-summary", help="append a Markdown file to the job summary")
    summary.add_argument("--file", type=Path, required=True)
    secret = commands.add_parser("export-secret", help="mask a secret and export it to later steps")
    secret.add_argument("--secret-id", required=True)
    secret.add_argument("--json-key")
    secret.add_argument("--env-name", required=True)
    secret.add_argument("--region")
    digest = commands.add_parser("image-digest", help="write the digest of an ECR tag to $GITHUB_OUTPUT")
    digest.add_argument("--repository-url", required=True)
    digest.add_argument("--tag", required=True)
    digest.add_argument("--output-name", default="digest")
    digest.add_argument("--region")
    args = parser.parse_args(argv)
    try:
        if args.command == "upsert-plan-comment":
            issue = args.pr or pull_request_number(os.environ.get("GITHUB_EVENT_PATH"))
            action, comment_id = upsert_plan_comment(
                client_from_env(args.repo),
                issue,
                args.environment,
                "\n\n".join(path.read_text().rstrip("\n") for path in args.body_file),
                args.author,
            )
            print(f"{action} plan comment {comment_id} for {args.environment} on #{issue}")
        elif args.command == "step-summary":
            print(f"appended {args.file} to {append_step_summary(args.file.read_text())}")
        elif args.command == "image-digest":
            value = image_digest(args.repository_url, args.tag, args.region)
            write_output(args.output_name, value)
            print(f"{args.repository_url}:{args.tag} is {value}")
        else:
            export_masked(args.env_name, read_secret(args.secret_id, args.json_key, args.region))
            print(f"exported {args.env_name} (masked)")
    except (ValueError, KeyError, GitHubError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
