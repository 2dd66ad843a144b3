"""Verify AWS Signature Version 4 on incoming requests, canonicalizing exactly as botocore signs.

The emulator checks signatures so that a gateway misconfiguration (wrong region,
wrong service name, missing credentials) fails locally the way it would fail
against AWS, instead of passing here and breaking in production.

Path canonicalization is the subtle part: for every service but S3, botocore
signs the path *as sent* (already percent-encoded, e.g. `%3A` for `:` in a model
id) and percent-encodes it once more (`%253A`). The verifier therefore works on
the raw request target, never on a decoded path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from gateway.emulator.exceptions import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
    ValidationException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "bedrock"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_CLOCK_SKEW = timedelta(minutes=15)  # AWS's window for a request's signing time
_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(access_key={self.access_key!r})"


class SigV4Verifier:
    """Checks one request's Authorization header against the configured credentials."""

    def __init__(
        self,
        credentials: Credentials,
        region: str,
        service: str = SERVICE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.credentials = credentials
        self.region = region
        self.service = service
        self._clock = clock
        self._keys: dict[str, bytes] = {}

    def verify(self, method: str, target: str, headers: Mapping[str, Sequence[str]], body: bytes) -> None:
        """Raise the AWS error AWS would give, or return if the signature is valid.

        `target` is the raw request target (path and query as sent); `headers` maps lower-case
        names to every value received for that name.
        """
        authorization = _one(headers, "authorization")
        if not authorization:
            raise MissingAuthenticationTokenException()
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != ALGORITHM:
            raise IncompleteSignatureException(
                f"Authorization header requires the {ALGORITHM} algorithm; got {algorithm!r}."
            )
        fields = dict(_AUTH_FIELD.findall(rest))
        for name in ("Credential", "SignedHeaders", "Signature"):
            if name not in fields:
                raise IncompleteSignatureException(
                    f"Authorization header requires '{name}' parameter. Authorization={authorization}"
                )
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise IncompleteSignatureException(
                f"Credential is malformed: expected 'access-key/date/region/service/aws4_request', "
                f"got '{fields['Credential']}'."
            )
        access_key, scope_date, region, service, _terminator = scope
        if not hmac.compare_digest(access_key, self.credentials.access_key):
            raise UnrecognizedClientException()
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise InvalidSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        amz_date = self._request_time(headers)
        if scope_date != amz_date[:8]:
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        if region != self.region:
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region, not '{region}'. "
            )
        if service != self.service:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{self.service}'. "
            )
        payload_hash = self._payload_hash(headers, body)
        canonical = canonical_request(method, target, headers, signed, payload_hash)
        expected = self.signature(amz_date, canonical)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise InvalidSignatureException()

    def signature(self, amz_date: str, canonical: str) -> str:
        scope = f"{amz_date[:8]}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        return hmac.new(self._signing_key(amz_date[:8]), string_to_sign.encode(), hashlib.sha256).hexdigest()

    def _signing_key(self, date: str) -> bytes:
        # Four HMACs per request add up under load; the key only changes with the date.
        key = self._keys.get(date)
        if key is None:
            key = f"AWS4{self.credentials.secret_key}".encode()
            for part in (date, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {date: key}
        return key

    def _request_time(self, headers: Mapping[str, Sequence[str]]) -> str:
        raw = _one(headers, "x-amz-date")
        try:
            if raw:
                when = _parse_amz_date(raw)
            elif _one(headers, "date"):
                when = parsedate_to_datetime(_one(headers, "date")).astimezone(UTC)
                raw = when.strftime(_AMZ_DATE)
            else:
                raise IncompleteSignatureException(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                )
        except (ValueError, TypeError):
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{raw}'."
            ) from None
        now = self._clock()
        if abs(now - when) > MAX_CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {raw} is now earlier than {(now - MAX_CLOCK_SKEW).strftime(_AMZ_DATE)} "
                f"({now.strftime(_AMZ_DATE)} - 15 min.)"
                if when < now
                else f"Signature not yet current: {raw} is still later than "
                f"{(now + MAX_CLOCK_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 15 min.)"
            )
        return raw

    @staticmethod
    def _payload_hash(headers: Mapping[str, Sequence[str]], body: bytes) -> str:
        actual = hashlib.sha256(body).hexdigest()
        declared = _one(headers, "x-amz-content-sha256")
        if declared and declared not in (actual, UNSIGNED_PAYLOAD):
            raise ValidationException(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        return declared or actual


def canonical_request(
    method: str, target: str, headers: Mapping[str, Sequence[str]], signed: Sequence[str], payload_hash: str
) -> str:
    path, _, query = target.partition("?")
    lines = [
        method.upper(),
        quote(_remove_dot_segments(path), safe="/~"),
        canonical_query(query),
        "".join(
            f"{name}:{','.join(' '.join(v.split()) for v in headers.get(name, ()))}\n" for name in signed
        ),
        ";".join(signed),
        payload_hash,
    ]
    return "\n".join(lines)


def canonical_query(query: str) -> str:
    """botocore signs the query string as sent, pairs sorted; the emulator's operations take none."""
    if not query:
        return ""
    pairs = sorted(tuple(pair.partition("=")[::2]) for pair in query.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 dot-segment removal plus collapsed slashes, as botocore's normalize_url_path does."""
    if not path:
        return "/"
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment and segment != ".":
            output.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and output else ""
    return first + "/".join(output) + last


def _parse_amz_date(raw: str) -> datetime:
    """`YYYYMMDDTHHMMSSZ`; hand-parsed because strptime is a noticeable share of a request's cost."""
    if len(raw) != 16 or raw[8] != "T" or raw[15] != "Z" or not (raw[:8] + raw[9:15]).isdigit():
        raise ValueError(raw)
    return datetime(
        int(raw[0:4]),
        int(raw[4:6]),
        int(raw[6:8]),
        int(raw[9:11]),
        int(raw[11:13]),
        int(raw[13:15]),
        tzinfo=UTC,
    )


def _one(headers: Mapping[str, Sequence[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""
