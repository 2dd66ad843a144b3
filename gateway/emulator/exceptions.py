"""Typed AWS errors with the exact rest-json wire shape Bedrock Runtime uses.

AWS answers an error with a JSON body `{"message": "..."}` and names the error in
the `x-amzn-ErrorType` header (`<Code>:<namespace>`); botocore and LiteLLM both
read the code from that header, so both parts must be right for retries and
fallbacks to behave as they would against AWS.
"""

from __future__ import annotations

import json

_BEDROCK_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
# Authentication errors come from the AWS front door, not from the service.
_CORAL_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"


class AwsError(Exception):
    """Base of every error the emulator returns; subclasses fix the code and status."""

    code = "InternalServerException"
    status = 500
    namespace = _BEDROCK_NAMESPACE
    default_message = "The server encountered an internal error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def body(self) -> bytes:
        return json.dumps({"message": self.message}).encode()

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "x-amzn-ErrorType": f"{self.code}:{self.namespace}"}


# ---------------------------------------------------------------- authentication (403)
class MissingAuthenticationTokenException(AwsError):
    code, status, namespace = "MissingAuthenticationTokenException", 403, _CORAL_NAMESPACE
    default_message = "Missing Authentication Token"


class IncompleteSignatureException(AwsError):
    code, status, namespace = "IncompleteSignatureException", 403, _CORAL_NAMESPACE


class UnrecognizedClientException(AwsError):
    code, status, namespace = "UnrecognizedClientException", 403, _CORAL_NAMESPACE
    default_message = "The security token included in the request is invalid."


class InvalidSignatureException(AwsError):
    code, status, namespace = "InvalidSignatureException", 403, _CORAL_NAMESPACE
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )


class AccessDeniedException(AwsError):
    code, status = "AccessDeniedException", 403
    default_message = "You don't have access to the model with the specified model ID."


# ---------------------------------------------------------------- request errors
class ValidationException(AwsError):
    code, status = "ValidationException", 400
    default_message = "Malformed input request, please reformat your input and try again."


class ResourceNotFoundException(AwsError):
    code, status = "ResourceNotFoundException", 404
    default_message = "Could not resolve the foundation model from the provided model identifier."


class UnknownOperationException(AwsError):
    code, status, namespace = "UnknownOperationException", 404, _CORAL_NAMESPACE
    default_message = "The requested operation is not recognized by the service."


class ThrottlingException(AwsError):
    code, status = "ThrottlingException", 429
    default_message = "Too many requests, please wait before trying again."


# ---------------------------------------------------------------- service errors
class InternalServerException(AwsError):
    code, status = "InternalServerException", 500


class ServiceUnavailableException(AwsError):
    code, status = "ServiceUnavailableException", 503
    default_message = "Bedrock is unable to process your request."


class ModelTimeoutException(AwsError):
    code, status = "ModelTimeoutException", 408
    default_message = "Model has timed out in processing the request. Try your request again."


# Injected faults name a status; this picks the AWS error Bedrock uses for it.
FAULT_ERRORS: dict[int, type[AwsError]] = {
    408: ModelTimeoutException,
    429: ThrottlingException,
    500: InternalServerException,
    503: ServiceUnavailableException,
}
