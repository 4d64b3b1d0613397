"""The JSON of a request's body, as the mocks read it: what no answer could carry is no JSON.

Python's ``json`` reads a lone surrogate (``"\\ud800"``, half of a UTF-16 pair and no
character), which the hub's parser refuses. A mock called directly kept it: a stub holding
one, or a message quoting it, then failed the answer's UTF-8 encoding, a 500 (and a stub so
kept made every ``GET /__stubs`` a 500 until the mock was reset). A body that is not UTF-8
was a 400 "There was an error parsing the body", which said nothing of what to fix. Both are
now a ``json.JSONDecodeError``, which FastAPI turns into the kit's 422 "the body is not valid
JSON: ... at line L, column C" (``errors.validation_error_handler``); ``stubs.read_stubs``
reads a ``--stubs`` file the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

# A \u escape, or any other escape (so that "\\ud800", an escaped backslash, is skipped).
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def loads(body: bytes | str) -> Any:
    """``body`` read as JSON, or a ``json.JSONDecodeError`` saying what to fix."""
    if isinstance(body, bytes):
        try:
            text = body.decode(json.detect_encoding(body), "strict")
        except UnicodeDecodeError as exc:
            shown = body.decode("utf-8", "replace")
            at = len(body[: exc.start].decode("utf-8", "replace"))
            raise json.JSONDecodeError(
                f"it is not UTF-8 (send the text as UTF-8): byte 0x{body[exc.start]:02x}",
                shown,
                at,
            ) from None
    else:
        text = body
    value = json.loads(text)
    lone = _lone_surrogate(text) if "\\u" in text else None  # one comes of a \u escape
    if lone is not None:
        raise json.JSONDecodeError(
            "a lone surrogate, half of a UTF-16 pair and no character (write the character "
            f"itself, or both halves of the pair): {lone.group()}",
            text,
            lone.start(),
        )
    return value


def _lone_surrogate(text: str) -> re.Match[str] | None:
    """The first \\u escape in ``text`` of a surrogate that is not half of a pair."""
    high = None  # a high surrogate's escape, waiting for its low half
    for found in _ESCAPE.finditer(text):
        code = int(found.group(1), 16) if found.group(1) else 0
        if high is not None:
            if 0xDC00 <= code <= 0xDFFF and found.start() == high.end():
                high = None
                continue
            return high
        if 0xD800 <= code <= 0xDBFF:
            high = found
        elif 0xDC00 <= code <= 0xDFFF:
            return found
    return high


class _Request(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class KitRoute(APIRoute):
    """A route whose handler reads the body's JSON with ``loads``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def read_strictly(request: Request) -> Response:
            return await handler(_Request(request.scope, request.receive))

        return read_strictly
