"""Errors the hub answers with itself, each carrying its X-Road fault code and HTTP status.

HubError
├── ClientError (4xx: the caller can fix it)
│   ├── BadRequest            400 Client.BadRequest
│   ├── MissingPurpose        400 Client.MissingPurpose
│   ├── Unauthorized          401 Client.Unauthorized
│   ├── AccessDenied          403 Client.AccessDenied
│   ├── UnknownService        404 Client.UnknownService
│   ├── PayloadTooLarge       413 Client.PayloadTooLarge
│   ├── HeadersTooLarge       431 Client.HeadersTooLarge
│   ├── InvalidPayload        422 Client.InvalidPayload
│   └── RateLimited           429 Client.RateLimited (Retry-After)
└── ServerError (5xx: the hub or the provider failed)
    ├── ServiceDisabled       503 Server.ServiceDisabled
    ├── ServiceUnavailable    503 Server.ServiceUnavailable
    ├── ServiceFailed         502 Server.ServiceFailed
    ├── ServiceTimeout        504 Server.ServiceTimeout
    ├── LoggingFailed         503 Server.LoggingFailed
    └── InternalError         500 Server.InternalError
"""

from __future__ import annotations

import orjson

from hub.core.security import without_key_secrets


class HubError(Exception):
    """An answer made by the hub, not by a provider."""

    code = "Server.InternalError"
    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self, request_id: str) -> bytes:
        # A sentence may quote what the client sent (its X-Road-Client, its path), and a key
        # sent there by mistake keeps its public prefix only, as in the log.
        message = without_key_secrets(self.message)
        return orjson.dumps({"type": self.code, "message": message, "detail": request_id})


class ClientError(HubError):
    status = 400


class ServerError(HubError):
    status = 500


class BadRequest(ClientError):
    code, status = "Client.BadRequest", 400


class MissingPurpose(ClientError):
    code, status = "Client.MissingPurpose", 400


class Unauthorized(ClientError):
    code, status = "Client.Unauthorized", 401

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        # RFC 9110 15.5.2: a 401 names the scheme that would be let in (an API key as a
        # bearer token), as the admin and operator APIs' 401s do.
        super().__init__(message, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class AccessDenied(ClientError):
    code, status = "Client.AccessDenied", 403


class UnknownService(ClientError):
    code, status = "Client.UnknownService", 404


class PayloadTooLarge(ClientError):
    code, status = "Client.PayloadTooLarge", 413


class HeadersTooLarge(ClientError):
    code, status = "Client.HeadersTooLarge", 431


class InvalidPayload(ClientError):
    code, status = "Client.InvalidPayload", 422


class RateLimited(ClientError):
    code, status = "Client.RateLimited", 429


class ServiceDisabled(ServerError):
    code, status = "Server.ServiceDisabled", 503


class ServiceUnavailable(ServerError):
    code, status = "Server.ServiceUnavailable", 503


class ServiceFailed(ServerError):
    code, status = "Server.ServiceFailed", 502


class ServiceTimeout(ServerError):
    code, status = "Server.ServiceTimeout", 504


class LoggingFailed(ServerError):
    code, status = "Server.LoggingFailed", 503


class InternalError(ServerError):
    code, status = "Server.InternalError", 500


ALL_ERRORS: tuple[type[HubError], ...] = (
    BadRequest,
    MissingPurpose,
    Unauthorized,
    AccessDenied,
    UnknownService,
    PayloadTooLarge,
    HeadersTooLarge,
    InvalidPayload,
    RateLimited,
    ServiceDisabled,
    ServiceUnavailable,
    ServiceFailed,
    ServiceTimeout,
    LoggingFailed,
    InternalError,
)
