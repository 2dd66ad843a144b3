"""AWS event-stream framing (application/vnd.amazon.eventstream), the binary format of Bedrock's streams.

A message is: prelude (total length, headers length, CRC32 of those 8 bytes),
headers, payload, and a CRC32 of everything before it. Clients such as botocore
verify both CRCs, so a framing mistake shows up as a hard client error rather
than as silently missing text. The decoder exists for tests and debugging.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_PRELUDE_LENGTH = 12  # total length, headers length, prelude CRC
_MESSAGE_CRC_LENGTH = 4
_STRING_TYPE = 7

HeaderValue = bool | int | bytes | str | uuid.UUID


class EventStreamError(ValueError):
    """A frame that is truncated, inconsistent or fails a CRC check."""


@dataclass(frozen=True)
class EventMessage:
    headers: Mapping[str, HeaderValue]
    payload: bytes

    def json(self) -> object:
        return json.loads(self.payload)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Frame one message; every header is written as a string (type 7), as Bedrock does."""
    encoded_headers = b"".join(_encode_string_header(name, value) for name, value in headers.items())
    total = _PRELUDE_LENGTH + len(encoded_headers) + len(payload) + _MESSAGE_CRC_LENGTH
    prelude = _PRELUDE.pack(total, len(encoded_headers))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + encoded_headers + payload
    return head + _CRC.pack(zlib.crc32(head))


def encode_event(event_type: str, body: object) -> bytes:
    """An `event` message whose JSON payload is one member of a Bedrock stream union."""
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body, separators=(",", ":")).encode(),
    )


def encode_exception(exception_type: str, message: str) -> bytes:
    """A modeled mid-stream error (e.g. throttlingException), as AWS sends after the 200."""
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


def _encode_string_header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    if len(raw_name) > 255 or len(raw_value) > 0xFFFF:
        raise EventStreamError(f"header {name!r} is too long to frame")
    return (
        bytes([len(raw_name)])
        + raw_name
        + bytes([_STRING_TYPE])
        + struct.pack(">H", len(raw_value))
        + raw_value
    )


def decode_messages(data: bytes) -> Iterator[EventMessage]:
    """Split a complete byte stream into messages, verifying both CRCs of each."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < _PRELUDE_LENGTH:
            raise EventStreamError(f"truncated prelude at byte {offset}")
        total, headers_length = _PRELUDE.unpack_from(data, offset)
        (prelude_crc,) = _CRC.unpack_from(data, offset + 8)
        if zlib.crc32(data[offset : offset + 8]) != prelude_crc:
            raise EventStreamError(f"prelude CRC mismatch at byte {offset}")
        if total < _PRELUDE_LENGTH + headers_length + _MESSAGE_CRC_LENGTH or offset + total > len(data):
            raise EventStreamError(f"inconsistent or truncated message at byte {offset}")
        end = offset + total
        (message_crc,) = _CRC.unpack_from(data, end - _MESSAGE_CRC_LENGTH)
        if zlib.crc32(data[offset : end - _MESSAGE_CRC_LENGTH]) != message_crc:
            raise EventStreamError(f"message CRC mismatch at byte {offset}")
        headers_start = offset + _PRELUDE_LENGTH
        headers = _decode_headers(data[headers_start : headers_start + headers_length])
        payload = data[headers_start + headers_length : end - _MESSAGE_CRC_LENGTH]
        yield EventMessage(headers=headers, payload=bytes(payload))
        offset = end


def _decode_headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    while pos < len(raw):
        name_length = raw[pos]
        name = raw[pos + 1 : pos + 1 + name_length].decode()
        pos += 1 + name_length
        kind = raw[pos]
        pos += 1
        value, pos = _decode_header_value(kind, raw, pos)
        headers[name] = value
    return headers


def _decode_header_value(kind: int, raw: bytes, pos: int) -> tuple[HeaderValue, int]:
    fixed = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}
    if kind in (0, 1):
        return kind == 0, pos
    if kind in fixed:
        size = struct.calcsize(fixed[kind])
        return struct.unpack_from(fixed[kind], raw, pos)[0], pos + size
    if kind in (6, 7):
        (length,) = struct.unpack_from(">H", raw, pos)
        value = raw[pos + 2 : pos + 2 + length]
        return (value.decode() if kind == 7 else bytes(value)), pos + 2 + length
    if kind == 9:
        return uuid.UUID(bytes=bytes(raw[pos : pos + 16])), pos + 16
    raise EventStreamError(f"unknown header value type {kind}")
