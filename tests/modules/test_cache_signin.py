"""The gateway signs in to its cache with IAM, as the task definition configures it: no token exists.

modules/cache.py gives the replication group an IAM-authenticated Valkey user
instead of an AUTH token; the tasks get LiteLLM's own REDIS_AWS_IAM_* settings
(modules/gateway_runtime.py). Here LiteLLM 1.108.7's Redis client, built from
gateway/config.yaml's `cache_params` with exactly those variables, talks to a
local stand-in for ElastiCache's sign-in: a TLS front that accepts a connection
only when its AUTH carries the expected user and a SigV4 token (service
`elasticache`, `Action=connect`, the replication group as host) signed with the
task's credentials, and then relays to a real redis-server.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import ipaddress
import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import yaml

from modules.gateway_runtime import GatewayRuntime

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
USER = "llm-gateway-dev-gateway"
GROUP = "llm-gateway-dev"
REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "AKIDTASKROLE", "task-role-secret-key"


# ---------------------------------------------------------------- ElastiCache's sign-in, emulated
def token_is_valid(token: str, *, user: str, cache: str, secret_key: str) -> bool:
    """SigV4 query signature of `connect` for `user` on `cache`, recomputed from the spec."""
    parts = urlsplit("https://" + token)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if (parts.hostname, params.get("Action"), params.get("User")) != (cache, "connect", user):
        return False
    signed = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(params.items())
        if k != "X-Amz-Signature"
    )
    request = "\n".join(
        ["GET", "/", signed, f"host:{parts.hostname}\n", "host", hashlib.sha256(b"").hexdigest()]
    )
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret_key).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return scope.endswith(f"/{REGION}/elasticache/aws4_request") and hmac.compare_digest(
        expected, params.get("X-Amz-Signature", "")
    )


def _read_command(stream) -> list[bytes]:
    header = stream.readline()
    if not header.startswith(b"*"):
        raise ValueError(f"not a RESP command: {header[:20]!r}")
    items = []
    for _ in range(int(header[1:])):
        size = int(stream.readline()[1:])
        items.append(stream.read(size + 2)[:-2])
    return items


def _encode(items: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)


class SignInFront:
    """TLS on 127.0.0.1; the first command must be AUTH <user> <valid token>, then bytes are relayed."""

    def __init__(self, backend_port: int, backend_password: str, context: ssl.SSLContext) -> None:
        self.backend = (backend_port, backend_password)
        self.context = context
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(raw,), daemon=True).start()

    def _connection(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            reader = client.makefile("rb")
            command = _read_command(reader)
            name = command[0].upper()
            # AUTH user token, or HELLO <protover> AUTH user token (RESP3 clients).
            creds = command[1:3] if name == b"AUTH" else command[3:5] if name == b"HELLO" else []
            if len(creds) != 2 or not token_is_valid(
                creds[1].decode(), user=USER, cache=GROUP, secret_key=SECRET_KEY
            ):
                self.refused.append(creds[0].decode() if creds else name.decode())
                client.sendall(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                client.close()
                return
            self.accepted.append(creds[0].decode())
            backend = socket.create_connection(("127.0.0.1", self.backend[0]))
            password = self.backend[1].encode()
            rewritten = [b"AUTH", password] if name == b"AUTH" else [*command[:3], b"default", password]
            backend.sendall(_encode(rewritten))  # what the client sent after AUTH is relayed from its reader
            threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()
            self._pipe_reader(reader, backend)
        except (OSError, ValueError, ssl.SSLError):
            raw.close()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()

    @staticmethod
    def _pipe_reader(reader, target: socket.socket) -> None:
        try:
            while data := reader.read1(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()

    def close(self) -> None:
        self.listener.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache-signin")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = os.urandom(16).hex()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--requirepass", password, "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        cert, key = _certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        signin = SignInFront(port, password, context)
        signin.ca_file = cert
        yield signin
        signin.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


# ---------------------------------------------------------------- the gateway's side
def task_environment(front: SignInFront) -> dict[str, str]:
    """The REDIS_* variables the task definition sets (GatewayRuntime), pointed at the local front."""
    runtime = GatewayRuntime(
        environment="dev",
        models_json="[]",
        region=REGION,
        guardrail_id="g",
        guardrail_version="1",
        redis_host="127.0.0.1",
        redis_port=str(front.port),
        redis_iam_user=USER,
        redis_cache_name=GROUP,
        database_host="db",
        database_port="5432",
        database_name="litellm",
        database_username="litellm_app",
        database_connect_arn="arn:aws:rds-db:us-east-1:111111111111:dbuser:cluster-X/litellm_app",
        phoenix_collector_endpoint="http://phoenix:6006/v1/traces",
        phoenix_project_name="p",
        master_key_secret_arn="arn:master",
        salt_key_secret_arn="arn:salt",
        database_secret_arn="arn:db",
    )
    env = {k: v for k, v in runtime.environment_vars().items() if k.startswith("REDIS_") or k == "AWS_REGION"}
    assert not any("PASSWORD" in ref.env for ref in runtime.secrets())  # no cache secret reaches the task
    # Local only: trust the front's self-signed certificate (ElastiCache's is publicly trusted).
    return {**env, "REDIS_SSL_CA_CERTS": str(front.ca_file)}


def gateway_cache(monkeypatch, env: dict[str, str], secret_key: str):
    """LiteLLM's cache as the proxy builds it from gateway/config.yaml, with the task's environment."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for name in ("REDIS_PASSWORD", "REDIS_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**env, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": secret_key}.items():
        monkeypatch.setenv(name, value)
    import litellm

    params = yaml.safe_load((ROOT / "gateway" / "config.yaml").read_text())["litellm_settings"][
        "cache_params"
    ]
    resolved = {
        k: os.environ.get(v.removeprefix("os.environ/"))
        if isinstance(v, str) and v.startswith("os.environ/")
        else v
        for k, v in params.items()
    }
    return litellm.Cache(**resolved).cache


def test_litellm_signs_in_as_the_gateway_user_with_an_iam_token_and_no_password(front, monkeypatch):
    cache = gateway_cache(monkeypatch, task_environment(front), SECRET_KEY)
    before = len(front.accepted)

    cache.set_cache("signin-sync", {"answer": "from the sync client"})
    assert cache.get_cache("signin-sync") == {"answer": "from the sync client"}

    async def async_round_trip():
        await cache.async_set_cache("signin-async", {"answer": "from the async pool"})
        return await cache.async_get_cache("signin-async")

    assert asyncio.run(async_round_trip()) == {"answer": "from the async pool"}
    assert len(front.accepted) > before and set(front.accepted) == {USER}


def test_a_token_signed_with_other_credentials_is_refused(front, monkeypatch):
    cache = gateway_cache(monkeypatch, task_environment(front), "not-the-task-roles-key")
    refused = len(front.refused)

    # LiteLLM logs the refused sign-in and carries on (the cache fails open).
    cache.set_cache("signin-forged", {"answer": "never stored"})
    assert cache.get_cache("signin-forged") is None
    assert len(front.refused) > refused
