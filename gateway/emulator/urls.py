"""The paths the emulator answers, as moto keeps them: Bedrock runtime's, then its own control API."""

from __future__ import annotations

import re

from gateway.emulator import models as ops

MODEL_ROUTE = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream|invoke|invoke-with-response-stream)$"
)
GUARDRAIL_ROUTE = re.compile(r"^/guardrail/(?P<id>[^/]+)/version/(?P<version>[^/]+)/apply$")
OPERATION_BY_SUFFIX = {
    "converse": ops.CONVERSE,
    "converse-stream": ops.CONVERSE_STREAM,
    "invoke": ops.INVOKE,
    "invoke-with-response-stream": ops.INVOKE_STREAM,
}
# Unsigned, loopback-only: statistics, fault plans, reset (README "Control API").
CONTROL_PREFIX = "/_emulator/"
