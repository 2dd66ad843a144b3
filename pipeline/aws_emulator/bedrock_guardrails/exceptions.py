"""Typed Bedrock errors for the guardrail operations, in the service's JSON error shape."""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError


class GuardrailClientError(JsonRESTError):
    code = 400


class ResourceNotFoundException(GuardrailClientError):
    code = 404

    def __init__(self, message: str) -> None:
        super().__init__("ResourceNotFoundException", message)


class ValidationException(GuardrailClientError):
    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


class ConflictException(GuardrailClientError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ConflictException", message)
