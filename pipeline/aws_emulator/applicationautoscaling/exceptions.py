"""Typed Application Auto Scaling errors (JSON protocol)."""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError


class ResourceNotFoundException(JsonRESTError):
    code = 400

    def __init__(self, arn: str) -> None:
        super().__init__("ResourceNotFoundException", f"Resource {arn} was not found.")
