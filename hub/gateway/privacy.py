"""What of an exchange the log may keep: personal identifiers become keyed hashes."""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote, unquote_plus

from hub.core.security import pseudonym, without_key_secrets

# Query parameters that never carry personal data; everything else of a personal-data
# service's query is pseudonymised.
SAFE_QUERY = frozenset(
    {
        "limit",
        "cursor",
        "province",
        "commune",
        "status",
        "since",
        "until",
        "page",
        "sort",
        "fields",
        "land_use",
        "type",
        "birth_year",
        "serviceCode",
    }
)
# A 9- or 12-digit number anywhere (old and new ID card numbers), even in a free path.
ID_NUMBER = re.compile(r"(?<!\d)(\d{12}|\d{9})(?!\d)")
# A path segment kept as it is where no endpoint template says which segments hold values:
# a resource's name, lower-case words (citizens, household-members). Any other segment (a
# digit, a capital, anything else) may be an identifier, and is pseudonymised.
WORD = re.compile(r"[a-z][a-z_-]*")
# A query parameter's name as programs write them (full_name, page.size, filter[id]). Any
# other name of a personal-data service's query (a name, an ID with separators) may be a
# value sent where a name stands, and is pseudonymised.
PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*(?:\[[A-Za-z0-9_.-]*\])*")


def log_path(
    secret: str,
    path: str,
    query: str,
    params: dict[str, str],
    personal: bool,
    *,
    opaque: bool = False,
    tokens: tuple[str, ...] = (),
) -> str:
    """The path and query as logged: as sent for ordinary services, pseudonymised else; an
    API key sent in them by mistake keeps its public prefix only, and the admin and operator
    ``tokens`` none of themselves (operators read the log: the admin token there was theirs).

    For a personal-data service the path is judged decoded (``%30%37%39...`` is an ID
    number too, and must get the same pseudonym as the digits), every query value but the
    safe ones is replaced, and ID numbers are replaced wherever else they stand: in a safe
    value, in a parameter's name; a name no program would write, and a value sent without
    a name, are replaced whole. ``opaque``: no template says which segments hold values,
    so every segment but a plain word is pseudonymised.
    """
    logged = _logged(secret, path, query, params, personal, opaque)
    for token in tokens:
        if token in logged:
            logged = logged.replace(token, "~")
    if tokens and ("%" in logged or "+" in logged):
        # Sent encoded: an HTTP client encodes a token's / + = in a query (?token=q7%2FZk...).
        logged = _spelled(tokens).sub("~", logged)
    return without_key_secrets(logged)


@functools.lru_cache(maxsize=4)
def _spelled(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """Every spelling of ``tokens`` a URL may carry: each character as itself or as the
    percent-escapes of its UTF-8 bytes (in either case of hex digit, encoded once or twice),
    a blank also as ``+``."""

    def char(c: str) -> str:
        escaped = "".join(
            "%(?:25)?" + "".join(f"[{h}{h.upper()}]" if h.isalpha() else h for h in f"{b:02x}")
            for b in c.encode()
        )
        return f"(?:{re.escape(c)}|{escaped}{'|[+]' if c == ' ' else ''})"

    longest = sorted(tokens, key=len, reverse=True)  # a token inside another goes second
    return re.compile("|".join("".join(char(c) for c in token) for token in longest))


def _logged(
    secret: str, path: str, query: str, params: dict[str, str], personal: bool, opaque: bool
) -> str:
    if not personal:
        return path + ("?" + query if query else "")
    if "%" in path:
        path = unquote(path)
        params = {k: unquote(v) for k, v in params.items()}
    if opaque:
        path = "/".join(
            s if not s or WORD.fullmatch(s) else pseudonym(secret, s) for s in path.split("/")
        )
    for value in params.values():
        if value:
            path = path.replace(value, pseudonym(secret, value))
    path = _ids_out(secret, path)
    if query:
        return path + "?" + "&".join(_query_part(secret, p) for p in query.split("&") if p)
    return path


def _query_part(secret: str, part: str) -> str:
    """One ``name=value`` of a personal-data service's query, as the log keeps it."""
    name, eq, value = part.partition("=")
    name, value = unquote_plus(name), unquote_plus(value)
    if name in SAFE_QUERY:
        return quote(name, safe="") + eq + quote(_ids_out(secret, value), safe="")
    if not eq:
        # A value with no name (``?Nguyễn Văn An``): a free-text search, an ID number.
        return pseudonym(secret, name)
    # A name a program would write keeps what it says, but an ID number run into it.
    name = _ids_out(secret, name) if PARAM_NAME.fullmatch(name) else pseudonym(secret, name)
    return quote(name, safe="") + "=" + pseudonym(secret, value)


def _ids_out(secret: str, text: str) -> str:
    """``text`` with every ID number in it replaced by its pseudonym."""
    return ID_NUMBER.sub(lambda m: pseudonym(secret, m.group(0)), text)
