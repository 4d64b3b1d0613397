"""The runner's side of the wire: request targets and heads, bodies, transport errors.

The runner sends through the gateway's own HTTP client (hub/gateway/client.py); these
helpers shape what it sends and name what went wrong in words about the hub.
"""

from __future__ import annotations

import json
import re
import socket
import zlib
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from hub.gateway.client import ClientError, Response, header_lines

LINE_BREAK = re.compile(r"[\r\n]")


def hub_words(exc: BaseException) -> str:
    """``exc`` in words about the hub: the client is the gateway's own, whose messages
    speak of "the provider", while here the peer is the hub."""
    text = str(exc).replace(
        "the provider closed the connection mid-answer",
        "the hub closed the connection before its answer was complete",
    )
    return text.replace("from the provider", "from the hub").replace("the provider", "the hub")


def transport_kind(exc: BaseException) -> str:
    """What kind of transport error ``exc`` is: refused, reset, timeout, dns, tls, ..."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, OSError) and type(exc).__module__ == "ssl":
        return "tls"
    if isinstance(exc, ClientError):
        # the peer closed the connection before or during the answer, or sent no HTTP
        return "reset" if "closed" in str(exc) else "protocol"
    return "connection"


# Characters a request target may hold as they are (RFC 3986's unreserved, sub-delims, ':',
# '@', '/', '?' and '%'): a scenario's own escapes and query go out as written; spaces and
# non-ASCII letters are percent-encoded as UTF-8.
_TARGET_SAFE = "/?:@!$&'()*+,;=-._~%"


def request_target(path: str, params: list[tuple[str, str]]) -> str:
    """The request target: ``path`` percent-encoded where it must be, then ``params``."""
    target = quote(path, safe=_TARGET_SAFE)
    if params:
        target += ("&" if "?" in target else "?") + urlencode(params)
    return target


def json_body(value: Any) -> bytes:
    """``value`` as a JSON request body; ValueError (or TypeError) if JSON cannot hold it.

    orjson, for speed, writes no more than 254 levels of nesting and no integer beyond 64
    bits, where JSON itself has no such limits: a scenario may well send a body some
    hundreds of levels deep, to see the hub refuse it (hub/gateway/body.py), or an
    identifier of 30 digits. Those go out as the standard library writes them.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except RecursionError:
        raise ValueError("nested too deeply for this process to write") from None
    return text.encode()


USER_AGENT = "hub-replay"


def head_lines(headers: dict[str, str]) -> bytes:
    """The request's header lines (UTF-8), with a User-Agent unless the step set one.

    A value holding a line break would split the request: ClientError, reported on the step.
    """
    pairs = list(headers.items())
    if not any(name.lower() == "user-agent" for name in headers):
        pairs.append(("User-Agent", USER_AGENT))
    return header_lines(pairs, encoding="utf-8")


def decoded(body: bytes, encoding: str | None) -> bytes:
    """The body with a gzip or deflate Content-Encoding undone (a step may ask for one)."""
    if not body or encoding is None:
        return body
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return zlib.decompress(body, wbits=31)
    if name == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, wbits=-15)  # raw deflate, as some servers send
    return body


def request_size(method: str, url: str, head: bytes, body: bytes) -> int:
    """The bytes of the request as the client writes it (hub/gateway/client.py's _encode):
    request line, Host, the header lines, Content-Length where it sends one, the blank
    line and the body. Counted, not copied: the runner shares two cores with the hub."""
    slash = url.find("/", url.find("//") + 2)
    origin, target = url[:slash], url[slash:]
    host = origin.partition("//")[2].rpartition("@")[2]
    size = len(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n") + len(head) + 2 + len(body)
    if body or method in ("POST", "PUT", "PATCH"):
        size += len(f"Content-Length: {len(body)}\r\n")
    return size


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def answer_size(response: Response) -> int:
    """The bytes of an answer: status line, header lines (Latin-1, one byte a character),
    the blank line and the body as it came, compressed or not. The client keeps no status
    line: its reason phrase is counted as the standard one. A chunked body's framing (a
    few bytes a chunk) is not counted."""
    line = len(f"HTTP/1.1 {response.status} {_PHRASES.get(response.status, '')}\r\n")
    fields = sum([len(name) + len(value) + 4 for name, value in response.headers])
    return line + fields + 2 + len(response.body)
