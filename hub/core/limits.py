"""Bounds that the API, its queries and the CLI's options all hold inputs to.

Apart from the queries (SQLAlchemy, the models), because the CLI's options name them when
`hub` starts: `hub --help` must not wait for the database layer to import.
"""

import re
import unicodedata

PAGE_MAX = 1000  # records or events in a page of a listing
ROW_ID_MAX = 2**63 - 1  # the databases' BIGINT: the largest seq or id a row can have
KEY_GRACE_S = 3600  # how long a rotated key works on, unless the rotation says
KEY_GRACE_MAX_S = 30 * 24 * 3600
# A purpose header (X-Road-UserId, X-Road-Issue) the gateway takes and logs: printable
# ASCII, no CR/LF, at most 300 characters. Here, not in the gateway's checks, because the
# operator commands test a filter on them against it and must not import the server.
SAFE_HEADER = re.compile(r"^[\x20-\x7e]{1,300}$")
# A YAML file (a scenario, a registry file) may hold this many values more than it writes
# out, its aliases expanded: an alias of a list of aliases multiplies them ("billion
# laughs"), and nine levels in 14 lines held `hub replay` and `hub registry apply` for hours.
ALIASED_VALUES = 100_000


def budget_of(text: str) -> int:
    """The most values a YAML file of ``text`` may hold, its aliases expanded."""
    return 2 * len(text) + ALIASED_VALUES


def header_hint(value: str) -> str:
    """For a purpose header refused as not printable ASCII, what to send instead.

    ``value`` as the server reads it, each byte a character (latin-1): text a client sent
    in UTF-8 with diacritics ("Nguyễn Văn Ả", composed or not) gives the same text without
    them ("Nguyen Van A"), which the header may carry.
    """
    try:
        text = value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return ""
    if text.isascii():
        return ""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    if not SAFE_HEADER.fullmatch(folded):
        return ": letters beyond ASCII cannot be sent in a header"
    return f": letters with diacritics cannot be sent in a header; send {folded!r}"
