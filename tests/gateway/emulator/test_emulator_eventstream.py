"""Event-stream framing: our encoder against botocore's own parser, and CRC checks both ways."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from gateway.emulator.eventstream import (
    EventStreamError,
    decode_messages,
    encode_event,
    encode_exception,
    encode_message,
)


def _botocore_messages(data: bytes) -> list[dict]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [message.to_response_dict() for message in buffer]


def test_botocore_parses_an_encoded_event_with_its_headers_and_payload():
    frame = encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo"}})

    (message,) = _botocore_messages(frame)

    assert message["status_code"] == 200
    assert message["headers"] == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message["body"]) == {"contentBlockIndex": 0, "delta": {"text": "héllo"}}


def test_botocore_splits_consecutive_frames_fed_in_small_pieces():
    frames = b"".join(encode_event("chunk", {"bytes": str(i)}) for i in range(5))
    buffer = EventStreamBuffer()
    seen = []
    for offset in range(0, len(frames), 7):  # arbitrary cuts, as a socket delivers them
        buffer.add_data(frames[offset : offset + 7])
        seen.extend(json.loads(m.payload) for m in buffer)

    assert seen == [{"bytes": str(i)} for i in range(5)]


def test_exception_frames_carry_the_exception_type_botocore_reports_as_an_error():
    (message,) = _botocore_messages(encode_exception("throttlingException", "slow down"))

    assert message["status_code"] == 400
    assert message["headers"][":exception-type"] == "throttlingException"


def test_prelude_declares_total_and_header_lengths_and_its_own_crc():
    frame = encode_message({":event-type": "x"}, b"{}")
    total, headers_length, prelude_crc = struct.unpack(">III", frame[:12])

    assert total == len(frame)
    assert headers_length == len(b"\x0b:event-type\x07\x00\x01x")
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])


def test_decoder_round_trips_what_the_encoder_wrote():
    frames = encode_event("messageStart", {"role": "assistant"}) + encode_event(
        "messageStop", {"stopReason": "x"}
    )

    messages = list(decode_messages(frames))

    assert [m.headers[":event-type"] for m in messages] == ["messageStart", "messageStop"]
    assert messages[1].json() == {"stopReason": "x"}


@pytest.mark.parametrize("position", [9, -2])  # inside the prelude CRC, inside the payload
def test_a_flipped_byte_fails_the_crc_check_in_our_decoder_and_in_botocore(position):
    frame = bytearray(encode_event("chunk", {"bytes": "abc"}))
    frame[position] ^= 0x01

    with pytest.raises(EventStreamError, match="CRC"):
        list(decode_messages(bytes(frame)))
    with pytest.raises(ChecksumMismatch):
        _botocore_messages(bytes(frame))


def test_a_truncated_stream_is_an_error_not_a_shorter_answer():
    frame = encode_event("chunk", {"bytes": "abc"})

    with pytest.raises(EventStreamError, match="truncated"):
        list(decode_messages(frame[:-3]))
