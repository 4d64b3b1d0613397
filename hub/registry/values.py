"""Field types of the registry's wire and files that take a value only as it is written:
pydantic's lax mode read ``"no"`` and ``0`` as false, a number as a Unix time, and kept a
newline or an escape sequence in a label."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)


def _shown(value: Any) -> str:
    return repr(value[:60]) if isinstance(value, str) else repr(value)


def _only_bool(value: Any) -> Any:
    # {"enabled": "no"} and {"enabled": 0} were false, {"enabled": "off"} too; "yes", 1 true.
    if value is None or isinstance(value, bool):
        return value
    quotes = " (without quotes)" if isinstance(value, str) else ""
    raise ValueError(f"give true or false{quotes}, not {_shown(value)}")


Flag = Annotated[bool, BeforeValidator(_only_bool)]
OptionalFlag = Annotated[bool | None, BeforeValidator(_only_bool)]


_GIVE_TIME = (
    'give e.g. "2030-01-01T00:00:00Z" (UTC when no zone is given), or leave it out for a key '
    "that does not expire"
)


def _time_text(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A number (or text of digits) was read as seconds since 1970: 99999999999999 was a key
    # expiring in the year 5138. The command line passes the time of --expires 90d itself.
    if value is None or isinstance(value, datetime):
        return handler(value)
    if not isinstance(value, str) or value.strip().replace(".", "", 1).isdigit():
        raise ValueError(
            f"expires_at takes a time as ISO 8601 text, not {_shown(value)}: {_GIVE_TIME}"
        )
    try:
        return handler(value)
    except ValidationError:
        # pydantic said "unexpected extra characters at the end of the input" of an hour
        # 25; Python's own reading names the part that is wrong, when it can.
        try:
            datetime.fromisoformat(value)
            why = ""
        except ValueError as exc:
            why = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
        raise ValueError(f"expires_at {_shown(value)} is no time{why}: {_GIVE_TIME}") from None


TimeText = WrapValidator(_time_text)


def _future_utc(value: datetime | None) -> datetime | None:
    """``value`` as the naive UTC time the database keeps; it must lie ahead."""
    if value is None:
        return None
    # A time without a zone is taken as UTC, the zone of every time the hub answers with.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-14:00 is in the year 10000 in UTC: was a 500
        if value.year == 1:  # 0001-01-01T00:00+01:00, before the year 1: long past
            utc = datetime.min.replace(tzinfo=UTC)
        else:
            raise ValueError(
                f"expires_at {value.isoformat()} is past the years a time can hold in UTC; "
                "give an earlier one, e.g. 2030-01-01T00:00:00Z, or leave it out for a key "
                "that does not expire"
            ) from None
    if utc <= datetime.now(UTC):
        raise ValueError(
            f"expires_at {utc.year:04}-{utc:%m-%dT%H:%M:%S}Z is not in the future: give a "
            "later time, e.g. 2030-01-01T00:00:00Z (UTC), or leave it out for a key that does "
            "not expire"
        )
    return utc.replace(tzinfo=None)


FutureUtc = AfterValidator(_future_utc)


def _one_line(value: str) -> str:
    # A newline or ESC in a label broke the lines of `hub keys list` and could recolour or
    # rewrite an operator's terminal; a name is one line of text. The bidirectional
    # overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder what a table or the
    # dashboard shows ("Trojan Source", CVE-2021-42574): a name "VN/GOV/\u202eATB" reads
    # as another agency's; no Vietnamese name needs one.
    for i, char in enumerate(value):
        if unicodedata.category(char) == "Cc" or char in _BIDI:
            name = unicodedata.name(char, "") or _CONTROL_NAMES.get(ord(char), "a control")
            raise ValueError(
                f"holds a control character (U+{ord(char):04X}, {name}) at position {i + 1}: "
                "give one line of text without it"
            )
    return value


_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_CONTROL_NAMES = {0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE"}

OneLine = AfterValidator(_one_line)
