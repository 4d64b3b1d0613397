"""What of an exchange the log may keep: personal identifiers become keyed hashes."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

from hub.core.security import pseudonym

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
# The secret part of a hub API key (hub/core/security.py: hub_<12 hex>_<secret>) sent by
# mistake in a URL (`?api_key=...`): the log keeps the key's public prefix, not its secret.
API_KEY = re.compile(r"(hub_[0-9a-f]{12}_)[A-Za-z0-9_-]+")


def log_path(
    secret: str,
    path: str,
    query: str,
    params: dict[str, str],
    personal: bool,
    *,
    opaque: bool = False,
) -> str:
    """The path and query as logged: as sent for ordinary services, pseudonymised else; an
    API key sent in them by mistake keeps its public prefix only.

    For a personal-data service the path is judged decoded (``%30%37%39...`` is an ID
    number too, and must get the same pseudonym as the digits), every query value but the
    safe ones is replaced, and ID numbers are replaced wherever else they stand: in a safe
    value, in a parameter's name. ``opaque``: no template says which segments hold values,
    so every segment but a plain word is pseudonymised.
    """
    logged = _logged(secret, path, query, params, personal, opaque)
    return API_KEY.sub(r"\1~", logged) if "hub_" in logged else logged


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
        pairs = [
            (_ids_out(secret, k), _ids_out(secret, v) if k in SAFE_QUERY else pseudonym(secret, v))
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        return path + "?" + urlencode(pairs, quote_via=quote)
    return path


def _ids_out(secret: str, text: str) -> str:
    """``text`` with every ID number in it replaced by its pseudonym."""
    return ID_NUMBER.sub(lambda m: pseudonym(secret, m.group(0)), text)
