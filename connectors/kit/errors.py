"""Provider errors a handler raises; the kit turns them into JSON ``Problem`` answers.

::

    ProviderError (status, type)        -> {"type": ..., "message": ...}
    ├── NotFoundError       404 NotFound   "no data" (Circular 13/2017)
    ├── ConflictError       409 Conflict   the write contradicts the current state
    ├── UnprocessableError  422 Unprocessable  well-formed, but refers to something wrong
    └── UpstreamError       502 UpstreamFailed  a call through the hub failed
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ProviderError(Exception):
    """Base of the errors a connector answers with itself (never the hub's X-Road errors)."""

    status_code = 400
    type = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ProviderError):
    status_code = 404
    type = "NotFound"


class ConflictError(ProviderError):
    status_code = 409
    type = "Conflict"


class UnprocessableError(ProviderError):
    status_code = 422
    type = "Unprocessable"


class UpstreamError(ProviderError):
    status_code = 502
    type = "UpstreamFailed"


async def provider_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderError)
    return JSONResponse({"type": exc.type, "message": exc.message}, status_code=exc.status_code)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 answer, with values JSON cannot carry shown as text.

    The default echoes each wrong input; a NaN or an infinity sent by the client (Python's json
    writes them) then failed the answer's own encoding, and the client got a 500.
    """
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _as_json(jsonable_encoder(exc.errors()))}, status_code=422)


def _as_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value
