"""Raw-HTTP helpers for the emulator tests: requests signed by botocore's own SigV4 signer."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from gateway.emulator.server import RunningEmulator
from gateway.emulator.sigv4 import Credentials

REGION = "us-east-1"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def error_type(self) -> str:
        """The AWS error code, as botocore reads it from x-amzn-ErrorType."""
        return self.headers.get("x-amzn-errortype", "").split(":")[0]


def sign(
    url: str,
    body: bytes,
    credentials: Credentials,
    *,
    region: str = REGION,
    service: str = "bedrock",
    method: str = "POST",
) -> dict[str, str]:
    """Headers botocore would send for this request (the same signer LiteLLM and boto3 use)."""
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(BotoCredentials(credentials.access_key, credentials.secret_key), service, region).add_auth(
        request
    )
    return dict(request.headers.items())


def send(emulator: RunningEmulator, method: str, path: str, body: bytes = b"", headers=None) -> Reply:
    """One raw HTTP request with the path exactly as given (no client-side re-encoding)."""
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def signed_post(
    emulator: RunningEmulator, path: str, payload: object, credentials: Credentials, **sign_kw
) -> Reply:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return send(emulator, "POST", path, body, sign(emulator.url + path, body, credentials, **sign_kw))


def control(emulator: RunningEmulator, method: str, name: str, payload: object | None = None) -> Reply:
    body = json.dumps(payload).encode() if payload is not None else b""
    return send(emulator, method, f"/_emulator/{name}", body, {"Content-Type": "application/json"})


def converse_body(text: str, **extra) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}
