"""pipeline.github against a local fake of the GitHub REST API, and the Actions file commands."""

from __future__ import annotations

import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline import github
from pipeline.github import GitHub, GitHubError, export_masked, marker, next_link, upsert_plan_comment

TOKEN = "test-token-not-a-secret"
REPO = "acme/llm-gateway"


class FakeGitHub:
    """Issue comments of one repository, served the way api.github.com pages them."""

    def __init__(self, per_page_cap: int = 100) -> None:
        self.comments: dict[int, list[dict]] = {}
        self.environments: list[dict] = []  # as GET /repos/{repo}/environments lists them
        self.branch_policies: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, str]] = []
        self.per_page_cap = per_page_cap
        self.next_id = 1000

    def add(self, issue: int, body: str, login: str = github.BOT_LOGIN) -> dict:
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": login}}
        self.comments.setdefault(issue, []).append(comment)
        return comment

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method):
                fake.requests.append((method, self.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, {"message": "Bad credentials"})
                url = urlsplit(self.path)
                body = None
                if method in ("POST", "PATCH"):
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                query = parse_qs(url.query)
                if url.path == f"/repos/{REPO}/environments" and method == "GET":
                    page, per_page = int(query.get("page", ["1"])[0]), fake.per_page_cap
                    chunk = fake.environments[(page - 1) * per_page : page * per_page]
                    headers = {}
                    if page * per_page < len(fake.environments):
                        headers["Link"] = (
                            f'<http://{self.headers["Host"]}{url.path}?page={page + 1}>; rel="next"'
                        )
                    return self._reply(
                        200, {"total_count": len(fake.environments), "environments": chunk}, headers
                    )
                policies = re.fullmatch(
                    rf"/repos/{REPO}/environments/([^/]+)/deployment-branch-policies", url.path
                )
                if policies and method == "GET":
                    items = fake.branch_policies.get(policies.group(1), [])
                    return self._reply(200, {"total_count": len(items), "branch_policies": items})
                listing = re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/comments", url.path)
                single = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", url.path)
                if listing and method == "GET":
                    per_page = min(int(query.get("per_page", ["30"])[0]), fake.per_page_cap)
                    page = int(query.get("page", ["1"])[0])
                    items = fake.comments.get(int(listing.group(1)), [])
                    chunk = items[(page - 1) * per_page : page * per_page]
                    headers = {}
                    if page * per_page < len(items):
                        base = f"http://{self.headers['Host']}{url.path}"
                        headers["Link"] = (
                            f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", '
                            f'<{base}?per_page={per_page}&page=99>; rel="last"'
                        )
                    return self._reply(200, chunk, headers)
                if listing and method == "POST":
                    return self._reply(201, fake.add(int(listing.group(1)), body["body"]))
                if single and method == "PATCH":
                    for items in fake.comments.values():
                        for comment in items:
                            if comment["id"] == int(single.group(1)):
                                comment["body"] = body["body"]
                                return self._reply(200, comment)
                    return self._reply(404, {"message": "Not Found"})
                return self._reply(404, {"message": "Not Found"})

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_PATCH(self):
                self._route("PATCH")

        return Handler


@pytest.fixture
def fake():
    state = FakeGitHub(per_page_cap=2)  # tiny pages so pagination is exercised
    server = ThreadingHTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.client = GitHub(TOKEN, REPO, f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_first_plan_creates_a_comment_with_the_hidden_marker(fake):
    action, comment_id = upsert_plan_comment(fake.client, 7, "dev", "### plan v1")
    assert action == "created"
    assert fake.comments[7] == [
        {"id": comment_id, "body": f"{marker('dev')}\n### plan v1", "user": {"login": github.BOT_LOGIN}}
    ]


def test_later_plans_update_the_same_comment_in_place(fake):
    _, first = upsert_plan_comment(fake.client, 7, "dev", "### plan v1")
    action, second = upsert_plan_comment(fake.client, 7, "dev", "### plan v2")
    assert (action, second) == ("updated", first)
    assert [c["body"] for c in fake.comments[7]] == [f"{marker('dev')}\n### plan v2"]


def test_each_environment_keeps_its_own_comment(fake):
    upsert_plan_comment(fake.client, 7, "dev", "dev plan")
    upsert_plan_comment(fake.client, 7, "prod", "prod plan")
    upsert_plan_comment(fake.client, 7, "dev", "dev plan again")
    bodies = sorted(c["body"] for c in fake.comments[7])
    assert bodies == [f"{marker('dev')}\ndev plan again", f"{marker('prod')}\nprod plan"]


def test_the_marker_is_found_beyond_the_first_page(fake):
    for i in range(5):
        fake.add(7, f"discussion {i}", login="reviewer")
    existing = fake.add(7, f"{marker('dev')}\nold")
    action, comment_id = upsert_plan_comment(fake.client, 7, "dev", "new")
    assert (action, comment_id) == ("updated", existing["id"])
    pages = [path for method, path in fake.requests if method == "GET"]
    assert len(pages) == 3


def test_a_marker_in_someone_elses_comment_is_ignored(fake):
    forged = fake.add(7, f"{marker('dev')}\nlooks like a plan", login="mallory")
    action, _ = upsert_plan_comment(fake.client, 7, "dev", "real plan")
    assert action == "created"
    assert forged["body"].endswith("looks like a plan")


def test_api_errors_carry_status_and_path_but_not_the_token(fake):
    client = GitHub("wrong-token", REPO, fake.client.api_url)
    with pytest.raises(GitHubError, match="HTTP 401") as err:
        client.list_comments(7)
    assert "wrong-token" not in str(err.value)


def test_the_token_is_never_sent_over_plain_http_to_a_remote_host():
    with pytest.raises(ValueError, match="refusing to send the token"):
        GitHub(TOKEN, REPO, "http://api.github.com")


def test_next_link_reads_githubs_link_header():
    header = '<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'
    assert next_link(header) == "https://api.github.com/x?page=2"
    assert next_link('<https://api.github.com/x?page=5>; rel="last"') is None


def test_cli_takes_the_pull_request_from_the_event_file(fake, tmp_path, monkeypatch):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    body = tmp_path / "dev.plan.md"
    body.write_text("### plan")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", fake.client.api_url)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert github.main(["upsert-plan-comment", "--environment", "dev", "--body-file", str(body)]) == 0
    assert fake.comments[42][0]["body"] == f"{marker('dev')}\n### plan"


def test_cli_joins_the_plan_and_its_access_section_into_one_comment(fake, tmp_path, monkeypatch):
    plan, access = tmp_path / "dev.plan.md", tmp_path / "dev.access.md"
    plan.write_text("### plan\n")
    access.write_text("### access\n")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", fake.client.api_url)
    argv = ["upsert-plan-comment", "--environment", "dev", "--pr", "7"]
    assert github.main([*argv, "--body-file", str(plan), "--body-file", str(access)]) == 0
    assert fake.comments[7][0]["body"] == f"{marker('dev')}\n### plan\n\n### access"


def test_cli_fails_cleanly_without_a_token(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    body = tmp_path / "b.md"
    body.write_text("x")
    assert (
        github.main(["upsert-plan-comment", "--environment", "dev", "--body-file", str(body), "--pr", "1"])
        == 1
    )
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err


def test_step_summary_appends_markdown(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    target.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    src = tmp_path / "prod.plan.md"
    src.write_text("### Terraform plan: `prod`\n")
    assert github.main(["step-summary", "--file", str(src)]) == 0
    assert target.read_text() == "earlier\n### Terraform plan: `prod`\n\n"


def test_exported_secret_is_masked_before_it_is_written_and_never_printed(tmp_path):
    env_file = tmp_path / "github_env"
    out = io.StringIO()
    value = "generated-" + "x" * 20
    export_masked("GATEWAY_KEY", value, {"GITHUB_ENV": str(env_file)}, out=out)
    assert out.getvalue() == f"::add-mask::{value}\n"
    lines = env_file.read_text().splitlines()
    assert (
        lines[0].startswith("GATEWAY_KEY<<EOF_") and lines[1] == value and lines[2] == lines[0].split("<<")[1]
    )


def test_export_refuses_an_empty_secret(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        export_masked("GATEWAY_KEY", "", {"GITHUB_ENV": str(tmp_path / "e")}, out=io.StringIO())


def test_secret_is_read_from_secrets_manager_json_key(monkeypatch, tmp_path, capsys):
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    env_file = tmp_path / "github_env"
    monkeypatch.setenv("GITHUB_ENV", str(env_file))
    master = "sk-" + "generated" * 3
    with moto.mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        arn = sm.create_secret(Name="gw", SecretString=json.dumps({"LITELLM_MASTER_KEY": master}))["ARN"]
        args = [
            "export-secret",
            "--secret-id",
            arn,
            "--json-key",
            "LITELLM_MASTER_KEY",
            "--env-name",
            "GATEWAY_KEY",
        ]
        assert github.main([*args, "--region", "us-east-1"]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines()[0] == f"::add-mask::{master}"
    assert master not in printed.out.split("\n", 1)[1] + printed.err
    assert master in env_file.read_text()


def test_missing_secret_is_a_clean_error(monkeypatch, capsys):
    moto = pytest.importorskip("moto")
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        code = github.main(
            ["export-secret", "--secret-id", "nope", "--env-name", "K", "--region", "us-east-1"]
        )
    assert code == 1
    assert "cannot read secret nope" in capsys.readouterr().err


def test_image_digest_is_looked_up_by_tag_and_written_as_a_step_output(monkeypatch, tmp_path):
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    )
    with moto.mock_aws():
        ecr = boto3.client("ecr", region_name="us-east-1")
        repo = ecr.create_repository(repositoryName="llm-gateway")["repository"]
        pushed = ecr.put_image(repositoryName="llm-gateway", imageManifest=manifest, imageTag="3f2a9c1")[
            "image"
        ]
        code = github.main(["image-digest", "--repository-url", repo["repositoryUri"], "--tag", "3f2a9c1"])
    assert code == 0
    assert output.read_text() == f"digest={pushed['imageId']['imageDigest']}\n"
    assert pushed["imageId"]["imageDigest"].startswith("sha256:")


def test_image_digest_of_an_unknown_tag_is_a_clean_error(monkeypatch, capsys):
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        uri = boto3.client("ecr", region_name="us-east-1").create_repository(repositoryName="gw")[
            "repository"
        ]["repositoryUri"]
        assert github.main(["image-digest", "--repository-url", uri, "--tag", "nope"]) == 1
    assert "cannot find" in capsys.readouterr().err


def test_image_digest_refuses_a_non_ecr_url(capsys):
    assert github.main(["image-digest", "--repository-url", "docker.io/library/python", "--tag", "3"]) == 1
    assert "not an ECR repository URL" in capsys.readouterr().err


# ---------------------------------------------------------------- environment protection read back
def environment(
    name: str, *, reviewers: bool = False, self_review: bool = False, branches: str = "custom"
) -> dict:
    """One environment as GitHub's list endpoint returns it."""
    rules = []
    if reviewers:
        rules.append(
            {"id": 1, "type": "required_reviewers", "prevent_self_review": not self_review,
             "reviewers": [{"type": "Team", "reviewer": {"slug": "platform"}}]}
        )  # fmt: skip
    policy = {
        "custom": {"protected_branches": False, "custom_branch_policies": True},
        "protected": {"protected_branches": True, "custom_branch_policies": False},
        "any": None,
    }[branches]
    return {
        "name": name,
        "can_admins_bypass": False,
        "protection_rules": rules,
        "deployment_branch_policy": policy,
    }


@pytest.fixture
def protected(fake):
    """The repository set up as docs/gitops.md says: build, dev, staging, prod; main only; prod reviewed."""
    fake.environments = [
        environment("build"),
        environment("dev"),
        environment("staging"),
        environment("prod", reviewers=True),
    ]
    fake.branch_policies = {
        e["name"]: [{"id": 1, "name": "main", "type": "branch"}] for e in fake.environments
    }
    return fake


def protection_gaps(fake) -> list[str]:
    from pipeline import github_protection

    return github_protection.check(
        fake.client, github_protection.expectations(github_protection.ROOT / "environments")
    )[1]


def test_protection_as_documented_has_no_gap_across_pages_of_environments(protected):
    assert protection_gaps(protected) == []
    assert any("page=2" in path for _, path in protected.requests)  # two per page: the listing was followed


def test_an_environment_folder_without_its_github_environment_is_a_gap(protected):
    protected.environments = [e for e in protected.environments if e["name"] != "staging"]
    assert protection_gaps(protected) == [
        "staging: no GitHub environment of that name (environments/staging: delivery.approval is false)"
    ]


def test_prod_without_prevent_self_review_is_a_gap_naming_the_setting(protected):
    protected.environments[-1] = environment("prod", reviewers=True, self_review=True)
    assert protection_gaps(protected) == [
        "prod: 'Prevent self-review' is off, so the author can approve their own deploy "
        "(environments/prod: delivery.approval is true)"
    ]


def test_prod_without_required_reviewers_is_a_gap(protected):
    protected.environments[-1] = environment("prod")
    assert protection_gaps(protected) == [
        "prod: no required reviewers (environments/prod: delivery.approval is true)"
    ]


@pytest.mark.parametrize(
    ("setting", "policies", "expected"),
    [
        ("any", [], "build: deploys from any branch; set deployment branches to 'main' only"),
        ("protected", [], "build: deploys from every protected branch; set a custom policy of 'main' only"),
        (
            "custom",
            [{"name": "main", "type": "branch"}, {"name": "release/*", "type": "branch"}],
            "build: deployment branch policies ['main', 'release/*']; want exactly ['main']",
        ),
        (
            "custom",
            [{"name": "main", "type": "branch"}, {"name": "v*", "type": "tag"}],
            "build: deployment branch policies ['main', 'tag v*']; want exactly ['main']",
        ),
    ],
    ids=["any_branch", "every_protected_branch", "a_second_branch", "a_tag"],
)
def test_the_build_environment_deploys_from_main_only(protected, setting, policies, expected):
    protected.environments[0] = environment("build", branches=setting)
    protected.branch_policies["build"] = policies
    assert protection_gaps(protected) == [expected]


def test_the_protection_check_exits_1_and_names_each_gap(protected, monkeypatch, capsys):
    from pipeline import github_protection

    protected.environments = protected.environments[:1]
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", protected.client.api_url)
    assert github_protection.main(["--repo", REPO]) == 1
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("error: ")] == [
        f"error: {name}: no GitHub environment of that name "
        f"(environments/{name}: delivery.approval is {flag})"
        for name, flag in (("dev", "false"), ("staging", "false"), ("prod", "true"))
    ]
    assert "3 gap(s)" in captured.out


def test_a_token_without_access_is_an_error_not_a_pass(protected, monkeypatch, capsys):
    from pipeline import github_protection

    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    monkeypatch.setenv("GITHUB_API_URL", protected.client.api_url)
    assert github_protection.main(["--repo", REPO]) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_the_deploy_reads_protection_back_before_any_stage_with_a_token_that_may_list_environments():
    """As GitHub runs deploy.yml: the step is in a job every stage needs, and that job's token has
    `actions: read` (List environments answers 403 without it, which the step reports as an error)."""
    import yaml

    from pipeline.github_protection import ROOT

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    jobs = workflow["jobs"]
    (holder,) = [
        name
        for name, job in jobs.items()
        if any("pipeline.github_protection" in (step.get("run") or "") for step in job.get("steps", []))
    ]
    (step,) = [s for s in jobs[holder]["steps"] if "pipeline.github_protection" in (s.get("run") or "")]
    assert jobs[holder]["permissions"].get("actions") == "read"
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    stages = [name for name, job in jobs.items() if "uses" in job or "strategy" in job]
    assert stages and all(
        holder in ([jobs[n]["needs"]] if isinstance(jobs[n]["needs"], str) else jobs[n]["needs"])
        for n in stages
    )
