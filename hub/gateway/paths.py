"""Parsing ``/r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/path]`` safely.

Works on the raw (still percent-encoded) path, so an encoded ``/`` or ``.`` can never turn
into a separator or a parent reference after the access checks have run.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import NamedTuple

from hub.core.errors import BadRequest
from hub.core.ids import IdError, check_parts

METASERVICES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})
# %2e "."  %2f "/"  %5c "\"  %00 NUL, in any case, and a raw backslash; also each of them
# encoded again ("%252e": a provider, or a proxy before it, that decodes twice reads "."),
# overlong UTF-8 (%c0%ae, %e0%80%ae, %f0%80%80%ae: decoders that accept it read "." or "/";
# it is never valid UTF-8, so no name is spelled so), and a "%" that starts no escape of two
# hex digits ("%2%65" and "%%32%65" are "%2e" once decoded).
FORBIDDEN = re.compile(
    r"%(?:25)*(?:2e|2f|5c|00|c[01]%(?:25)*[89ab]|e0%(?:25)*[89]|f[08c]%(?:25)*8)"
    r"|%(?![0-9a-f]{2})|\\",
    re.IGNORECASE,
)
SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]*$")
# The provider-relative rest of the path at once: SEGMENT's characters and "/".
REST = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


class Target(NamedTuple):
    service_id: str  # full service id; a metaservice's is its subsystem's + /listMethods...
    provider: str  # subsystem id
    service_code: str
    path: str  # provider-relative path, raw (percent-encoded), starts with "/"
    meta: str | None


def parse(raw_path: str, known: Container[str] = ()) -> Target:
    """Split a gateway path; BadRequest (with what to fix) when it is malformed.

    ``known``: service ids already checked when they were registered; only others are
    checked part by part here (five regular expressions on every exchange otherwise).
    """
    # The checks below run on every exchange: a regex only where its characters occur, and
    # one over the rest of the path instead of one per segment (3.3-3.9 -> 2.5 us, timeit, the
    # bench path); a rest that fails is judged segment by segment for the message.
    if ("%" in raw_path or "\\" in raw_path) and FORBIDDEN.search(raw_path):
        raise BadRequest(_forbidden(raw_path))
    parts = raw_path.split("/", 7)
    # parts[0] == "" and parts[1] == "r1"; parts[7], when there is one, the provider's path
    ids = parts[2:7]
    if len(ids) < 5 or not all(ids):
        raise BadRequest(_short(ids))
    service_id = "/".join(ids)
    if service_id not in known:
        try:
            check_parts(ids, "service", service_id)
        except IdError as exc:
            raise BadRequest(str(exc)) from None
    provider = "/".join(ids[:4])
    if len(parts) == 7:
        if ids[4] in METASERVICES:
            return Target(service_id, provider, ids[4], "/", ids[4])
        return Target(service_id, provider, ids[4], "/", None)
    rest = parts[7]
    if not REST.fullmatch(rest) or ("." in rest and _dot_segment(rest)):
        for seg in rest.split("/"):
            if seg.split(";", 1)[0] in (".", "..") or not SEGMENT.match(seg):
                raise BadRequest(
                    f"path segment {seg!r} is not allowed: no '.' or '..' segments, and "
                    "encode special characters"
                )
    return Target(service_id, provider, ids[4], "/" + rest, None)


def _short(ids: list[str]) -> str:
    """What to fix in a path with fewer than five identifier parts (the rare branch)."""
    last = next((p for p in reversed(ids) if p), "")
    if last == "listClients":
        return "listClients is served at /listClients, outside /r1: GET /listClients"
    if last in METASERVICES and len(ids) == 4 and all(ids):
        # X-Road lets a member alone provide services; here a subsystem provides them.
        member = "/".join(ids[:3])[:120]
        return (
            f"the metaservice {last} is called on a subsystem: /r1/{member}/SUBSYSTEM/{last} "
            f"(/listClients lists the subsystems of {member})"
        )
    return (
        "the path must be /r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/path], e.g. "
        "/r1/VN/GOV/BCA/population/citizen-lookup/citizens/001099000001"
    )


def _dot_segment(rest: str) -> bool:
    """Whether a segment of ``rest`` is "." or "..", once its parameters are cut off: Tomcat,
    Jetty and Spring read "/..;x/" as "/../", which walked out of the provider's base path."""
    segments = f"/{rest}/"
    return "/./" in segments or "/../" in segments or "/.;" in segments or "/..;" in segments


def _forbidden(raw_path: str) -> str:
    """What to fix in a path FORBIDDEN refuses (the rare branch: the match is looked at again)."""
    found = FORBIDDEN.search(raw_path)
    assert found is not None
    text = found.group().lower()
    near = raw_path[found.start() : found.start() + 12]
    if text == "%":
        return (
            f"the path has a '%' that starts no escape of two hex digits (at {near!r}); "
            "send a literal '%' as %25"
        )
    if text.startswith("%25"):
        return (
            f"the path holds an encoded '.', '/', '\\' or NUL encoded twice (at {near!r}); "
            "encode path segments once, without traversal"
        )
    if text.startswith(("%c", "%e", "%f")):
        return (
            f"the path holds overlong UTF-8 (at {near!r}), which some decoders read as '.' or "
            "'/'; encode characters in standard UTF-8, without traversal"
        )
    return (
        "the path contains an encoded '.', '/', '\\' or NUL, or a backslash; "
        "send path segments unencoded and without traversal"
    )
