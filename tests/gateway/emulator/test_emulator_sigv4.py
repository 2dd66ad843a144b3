"""SigV4 verification against requests signed by botocore, the signer boto3 and LiteLLM use."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from gateway.emulator.exceptions import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
    ValidationException,
)
from gateway.emulator.sigv4 import Credentials, SigV4Verifier

CREDS = Credentials("AKIAEMULATORTEST0001", "emulator-test-secret")
HOST = "127.0.0.1:8123"
PATH = "/model/us.amazon.nova-pro-v1%3A0/converse"
BODY = b'{"messages":[]}'


def signed(
    path: str = PATH,
    body: bytes = BODY,
    *,
    access_key: str = CREDS.access_key,
    secret_key: str = CREDS.secret_key,
    region: str = "us-east-1",
    service: str = "bedrock",
    token: str | None = None,
) -> dict[str, list[str]]:
    request = AWSRequest(
        method="POST", url=f"http://{HOST}{path}", data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(BotoCredentials(access_key, secret_key, token), service, region).add_auth(request)
    headers: defaultdict[str, list[str]] = defaultdict(list)
    for name, value in request.headers.items():
        headers[name.lower()].append(value)
    headers["host"].append(HOST)  # what the HTTP client adds on the wire
    return headers


def verifier(**kw) -> SigV4Verifier:
    return SigV4Verifier(CREDS, "us-east-1", **kw)


def test_a_botocore_signature_is_accepted():
    verifier().verify("POST", PATH, signed(), BODY)


def test_a_percent_encoded_model_id_is_canonicalized_as_botocore_signs_it():
    # botocore signs '%3A' as '%253A'; a verifier that decodes the path first would reject this.
    path = (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Famazon.titan-embed-text-v2%3A0/invoke"
    )
    verifier().verify("POST", path, signed(path), BODY)


def test_a_session_token_header_is_part_of_the_signature():
    verifier().verify("POST", PATH, signed(token="session-token"), BODY)


def test_a_tampered_body_is_an_invalid_signature():
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verifier().verify("POST", PATH, signed(), BODY + b" ")


def test_a_tampered_path_is_an_invalid_signature():
    with pytest.raises(InvalidSignatureException):
        verifier().verify("POST", PATH.replace("pro", "lite"), signed(), BODY)


def test_a_tampered_signature_is_an_invalid_signature():
    headers = signed()
    auth = headers["authorization"][0]
    flipped = "0" if auth[-1] != "0" else "1"
    headers["authorization"] = [auth[:-1] + flipped]
    with pytest.raises(InvalidSignatureException):
        verifier().verify("POST", PATH, headers, BODY)


def test_the_wrong_secret_key_is_an_invalid_signature():
    with pytest.raises(InvalidSignatureException):
        verifier().verify("POST", PATH, signed(secret_key="not-the-secret"), BODY)


def test_an_unknown_access_key_is_an_unrecognized_client():
    with pytest.raises(
        UnrecognizedClientException, match="security token included in the request is invalid"
    ):
        verifier().verify("POST", PATH, signed(access_key="AKIAOTHERKEY00000000"), BODY)


def test_no_authorization_header_is_a_missing_authentication_token():
    headers = signed()
    del headers["authorization"]
    with pytest.raises(MissingAuthenticationTokenException):
        verifier().verify("POST", PATH, headers, BODY)


def test_a_signature_for_another_region_is_rejected_naming_the_region():
    with pytest.raises(InvalidSignatureException, match="scoped to a valid region, not 'eu-west-1'"):
        verifier().verify("POST", PATH, signed(region="eu-west-1"), BODY)


def test_a_signature_for_another_service_is_rejected_naming_bedrock():
    with pytest.raises(InvalidSignatureException, match="correct service: 'bedrock'"):
        verifier().verify("POST", PATH, signed(service="bedrock-runtime"), BODY)


def test_a_signature_older_than_fifteen_minutes_has_expired():
    later = lambda: datetime.now(UTC) + timedelta(minutes=16)  # noqa: E731
    with pytest.raises(InvalidSignatureException, match="Signature expired"):
        verifier(clock=later).verify("POST", PATH, signed(), BODY)


def test_a_malformed_authorization_header_is_an_incomplete_signature():
    headers = signed()
    headers["authorization"] = ["AWS4-HMAC-SHA256 Credential=abc"]
    with pytest.raises(IncompleteSignatureException, match="SignedHeaders"):
        verifier().verify("POST", PATH, headers, BODY)


def test_a_content_hash_header_that_does_not_match_the_body_is_rejected():
    headers = signed()
    headers["x-amz-content-sha256"] = [hashlib.sha256(b"other").hexdigest()]
    with pytest.raises(ValidationException, match="x-amz-content-sha256"):
        verifier().verify("POST", PATH, headers, BODY)
