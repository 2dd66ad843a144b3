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
    """Base of every error the emulator returns; a subclass is named for its code and fixes its status."""

    code = "InternalServerException"
    status = 500
    namespace = _BEDROCK_NAMESPACE
    default_message = "The server encountered an internal error."

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = cls.__name__  # each subclass is named for its AWS error code, as botocore's are

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def body(self) -> bytes:
        return json.dumps({"message": self.message}).encode()

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "x-amzn-ErrorType": f"{self.code}:{self.namespace}"}


# ---------------------------------------------------------------- authentication (403)
class MissingAuthenticationTokenException(AwsError):
    status, namespace = 403, _CORAL_NAMESPACE
    default_message = "Missing Authentication Token"


class IncompleteSignatureException(AwsError):
    status, namespace = 403, _CORAL_NAMESPACE


class UnrecognizedClientException(AwsError):
    status, namespace = 403, _CORAL_NAMESPACE
    default_message = "The security token included in the request is invalid."


class InvalidSignatureException(AwsError):
    status, namespace = 403, _CORAL_NAMESPACE
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )


class AccessDeniedException(AwsError):
    status = 403
    default_message = "You don't have access to the model with the specified model ID."


# ---------------------------------------------------------------- request errors
class ValidationException(AwsError):
    status = 400
    default_message = "Malformed input request, please reformat your input and try again."


class ResourceNotFoundException(AwsError):
    status = 404
    default_message = "Could not resolve the foundation model from the provided model identifier."


class UnknownOperationException(AwsError):
    status, namespace = 404, _CORAL_NAMESPACE
    default_message = "The requested operation is not recognized by the service."


class ThrottlingException(AwsError):
    status = 429
    default_message = "Too many requests, please wait before trying again."


# ---------------------------------------------------------------- service errors
class InternalServerException(AwsError):
    status = 500


class ServiceUnavailableException(AwsError):
    status = 503
    default_message = "Bedrock is unable to process your request."


class ModelTimeoutException(AwsError):
    status = 408
    default_message = "Model has timed out in processing the request. Try your request again."


# Injected faults name a status; this picks the AWS error Bedrock uses for it.
FAULT_ERRORS: dict[int, type[AwsError]] = {
    408: ModelTimeoutException,
    429: ThrottlingException,
    500: InternalServerException,
    503: ServiceUnavailableException,
}
