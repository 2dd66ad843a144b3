"""What the checks run against: a gateway URL and key, plus the local stack's extras when there is one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
import openai

from gateway.devstack.catalogue import Environment

REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class LocalExtras:
    """Only a local stack has these: the emulator's control API and our own Phoenix."""

    emulator_url: str
    phoenix_url: str
    phoenix_project: str
    database_enabled: bool
    database_skip_reason: str = ""
    # GATEWAY_TRACE_CONTENT of the local gateway: whether its spans may hold prompt text.
    trace_content: bool = False
    # The local front's admin-only entry (served + admin routes); in AWS no such entry exists.
    admin_url: str = ""
    # The local Redis server's pid, so a check can hang it (SIGSTOP) and resume it; 0 when unknown.
    redis_pid: int = 0
    # The local PostgreSQL postmaster's pid, so a check can hang the database and resume it; 0 when unknown.
    postgres_pid: int = 0
    # The owner's URL and the application role's name and password file, so a check can rotate the
    # password the gateway connects with (gateway/devstack/app_role.py); empty without a database.
    database_admin_url: str = ""
    database_app_role: str = ""
    database_password_file: str = ""
    # Teams and keys made from environments/<env>/access.yaml at stack start (gateway/smoke/provision.py):
    # the file store holding the declared keys' values, and what the apply printed.
    access_secrets_dir: str = ""
    access_output: str = ""
    access_failed: str = ""


@dataclass
class Target:
    url: str
    key: str
    environment: Environment
    local: LocalExtras | None = None
    # Deployed gateway: whether LiteLLM has its database is learned from /key/generate.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT, follow_redirects=False)
        self._admin: httpx.Client | None = None

    def admin_http(self) -> httpx.Client | None:
        """A client of the admin entry, or None where there is none (a deployed gateway's public URL)."""
        if self.local is None or not self.local.admin_url:
            return None
        if self._admin is None:
            self._admin = httpx.Client(
                base_url=self.local.admin_url, timeout=REQUEST_TIMEOUT, follow_redirects=False
            )
        return self._admin

    def client(self, key: str | None = None) -> openai.OpenAI:
        """The official SDK, no retries: a 429 or 5xx must reach the check, not be hidden by the SDK."""
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=key or self.key, max_retries=0, timeout=REQUEST_TIMEOUT
        )

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def nonce(self, label: str) -> str:
        """A token unique to this run and purpose, so the response cache never answers by accident."""
        return f"{label}-{self.run_id}-{uuid.uuid4().hex[:8]}"

    def close(self) -> None:
        self.http.close()
        if self._admin is not None:
            self._admin.close()
