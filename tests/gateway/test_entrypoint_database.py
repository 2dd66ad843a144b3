"""How a serving task authenticates to PostgreSQL: the entrypoint's database settings, the proxy's env."""

from __future__ import annotations

import json
import os
from urllib.parse import unquote, urlsplit

import pytest

from gateway import entrypoint

MODELS = json.dumps(
    [{"alias": "nova-lite", "model_id": "amazon.nova-lite-v1:0", "mode": "chat", "fallbacks": []}]
)


def _env(**extra: str) -> dict[str, str]:
    env = {
        "GATEWAY_ENVIRONMENT": "local",
        "GATEWAY_VARIANT": "bare",
        "GATEWAY_MODELS": MODELS,
        "AWS_REGION": "eu-west-1",
        "LITELLM_MASTER_KEY": "sk-" + "m" * 30,
        "LITELLM_SALT_KEY": "sk-" + "s" * 30,
        "DATABASE_HOST": "db.example.internal",
        "DATABASE_NAME": "litellm",
        "DATABASE_USERNAME": "litellm_app",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def _proxy_env(env: dict[str, str]) -> dict[str, str]:
    return entrypoint.proxy_environment(entrypoint.validate(env), env)


def test_with_iam_authentication_no_password_is_needed_and_litellm_mints_the_url_itself():
    out = _proxy_env(_env(IAM_TOKEN_DB_AUTH="true"))

    assert "DATABASE_URL" not in out and "DATABASE_PASSWORD" not in out
    assert out["IAM_TOKEN_DB_AUTH"] == "true"
    # LiteLLM's token refresh rebuilds the URL from these (DATABASE_USER, not DATABASE_USERNAME).
    assert (out["DATABASE_HOST"], out["DATABASE_USER"], out["DATABASE_NAME"]) == (
        "db.example.internal",
        "litellm_app",
        "litellm",
    )
    assert out["AWS_RDS_REGION"] == "eu-west-1"


@pytest.mark.parametrize("given", ["DATABASE_PASSWORD", "DATABASE_PASSWORD_FILE"])
def test_iam_authentication_with_a_password_as_well_is_refused_naming_it(given):
    with pytest.raises(
        entrypoint.ContractError, match=f"IAM_TOKEN_DB_AUTH=true takes no password: unset {given}"
    ):
        entrypoint.validate(_env(IAM_TOKEN_DB_AUTH="true", **{given: "x"}))


def test_migrate_with_iam_authentication_is_refused_it_connects_as_the_owner():
    with pytest.raises(entrypoint.ContractError, match="migrate connects as the schema's owner"):
        entrypoint.validate(_env(IAM_TOKEN_DB_AUTH="true"), "migrate")


def test_a_malformed_iam_switch_is_refused_naming_the_allowed_values():
    with pytest.raises(
        entrypoint.ContractError, match="IAM_TOKEN_DB_AUTH must be true or false, got 'yes please'"
    ):
        entrypoint.validate(_env(IAM_TOKEN_DB_AUTH="yes please"))


def test_a_password_file_is_read_into_the_url_and_its_path_passed_on_for_re_reading(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("p@ss/word:1\n")

    out = _proxy_env(_env(DATABASE_PASSWORD_FILE=str(secret)))

    url = urlsplit(out["DATABASE_URL"])
    assert (url.username, url.password) == ("litellm_app", "p%40ss%2Fword%3A1")
    assert out["DATABASE_PASSWORD_FILE"] == str(secret)
    assert "DATABASE_PASSWORD" not in out and "IAM_TOKEN_DB_AUTH" not in out


def test_an_unreadable_or_empty_password_file_stops_the_container_naming_the_variable_and_path(tmp_path):
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.write_text("\n")

    with pytest.raises(entrypoint.ContractError, match=f"DATABASE_PASSWORD_FILE={missing}: cannot be read"):
        entrypoint.validate(_env(DATABASE_PASSWORD_FILE=str(missing)))
    with pytest.raises(entrypoint.ContractError, match=f"DATABASE_PASSWORD_FILE={empty}: the file is empty"):
        entrypoint.validate(_env(DATABASE_PASSWORD_FILE=str(empty)))


def test_a_password_and_a_password_file_together_are_refused(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("x")
    with pytest.raises(entrypoint.ContractError, match="one of DATABASE_PASSWORD and DATABASE_PASSWORD_FILE"):
        entrypoint.validate(_env(DATABASE_PASSWORD="x", DATABASE_PASSWORD_FILE=str(secret)))


def test_no_credential_at_all_is_refused_naming_the_three_ways_to_give_one():
    with pytest.raises(entrypoint.ContractError) as caught:
        entrypoint.validate(_env())
    assert all(
        name in str(caught.value)
        for name in ("DATABASE_PASSWORD", "DATABASE_PASSWORD_FILE", "IAM_TOKEN_DB_AUTH")
    )


def test_a_plain_password_still_builds_the_url_and_is_not_passed_twice():
    out = _proxy_env(_env(DATABASE_PASSWORD="secret"))

    assert urlsplit(out["DATABASE_URL"]).password == "secret"
    assert "DATABASE_PASSWORD" not in out
    assert out["DISABLE_SCHEMA_UPDATE"] == "true"


def test_the_application_role_is_for_migrate_only_and_never_the_migrating_user_itself():
    with pytest.raises(entrypoint.ContractError, match="DATABASE_APP_USERNAME is for migrate only"):
        entrypoint.validate(_env(DATABASE_PASSWORD="x", DATABASE_APP_USERNAME="litellm_app"))
    with pytest.raises(entrypoint.ContractError, match="is DATABASE_USERNAME, the user migrate connects as"):
        entrypoint.validate(_env(DATABASE_PASSWORD="x", DATABASE_APP_USERNAME="litellm_app"), "migrate")

    settings = entrypoint.validate(
        _env(DATABASE_USERNAME="gateway_admin", DATABASE_PASSWORD="x", DATABASE_APP_USERNAME="litellm_app"),
        "migrate",
    )
    assert settings.database.app_role == "litellm_app"


def test_a_key_lookup_waits_5_s_for_the_reconnect_that_fetches_the_credential_again_unless_set():
    assert _proxy_env(_env(DATABASE_PASSWORD="x"))["PRISMA_AUTH_RECONNECT_TIMEOUT_SECONDS"] == "5"
    chosen = _env(DATABASE_PASSWORD="x", PRISMA_AUTH_RECONNECT_TIMEOUT_SECONDS="3")
    assert _proxy_env(chosen)["PRISMA_AUTH_RECONNECT_TIMEOUT_SECONDS"] == "3"


def test_litellm_builds_its_iam_url_from_what_the_entrypoint_hands_the_proxy(monkeypatch):
    """LiteLLM's own reader of the settings (offline: a SigV4 presign needs credentials, no network)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # importing LiteLLM must not fetch it
    from litellm.proxy.db.db_url_settings import DatabaseURLSettings

    out = _proxy_env(_env(IAM_TOKEN_DB_AUTH="true"))  # DATABASE_SSLMODE unset: require
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "AWS_", "IAM_")):
            monkeypatch.delenv(name)
    for name, value in out.items():
        if name.startswith(("DATABASE_", "AWS_", "IAM_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")

    url = urlsplit(DatabaseURLSettings.from_env().build_writer_url())

    assert (url.username, url.hostname, url.port, url.path) == (
        "litellm_app",
        "db.example.internal",
        5432,
        "/litellm",
    )
    token = unquote(url.password or "")
    assert token.startswith("db.example.internal:5432/?Action=connect&DBUser=litellm_app")
    assert "X-Amz-Expires=900" in token and "eu-west-1" in token
    assert "sslmode=require" in url.query
