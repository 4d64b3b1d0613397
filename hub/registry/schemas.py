"""Wire and YAML models of the registry: members, subsystems, services, grants, keys."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from hub.core.ids import (
    Described,
    IdError,
    described,
    parse_member,
    parse_service,
    parse_subsystem,
)
from hub.core.limits import KEY_GRACE_MAX_S, KEY_GRACE_S
from hub.core.urls import http_url_problem
from hub.registry.request_schema import check_request_schema
from hub.registry.values import Flag, FutureUtc, OneLine, OptionalFlag, TimeText

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
TEMPLATE_PART = re.compile(r"^(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z0-9._~!$&'()*+,;=:@-]+)$")
_SEGMENT_RULE = (
    "a segment is either text of letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ (not "
    "'.' or '..'), or a {name} (a letter or '_', then letters, digits or '_') as a whole "
    "segment of its own"
)


def _check(parser: Any, limit: int) -> Any:
    def check(value: str) -> str:
        # Each refusal an IdError (a ValueError): the admin API answers it 400 (SPEC §4).
        parsed = parser(value)
        # The registry's columns: a longer one was a 500 on PostgreSQL and kept on SQLite.
        if len(value) > limit:
            raise IdError(f"identifier {value[:60]!r}... is over {limit} characters")
        for part in ("instance", "member_class"):
            if len(getattr(parsed, part)) > 64:
                raise IdError(f"the {part} of {value[:60]!r} is over 64 characters")
        return value

    return AfterValidator(check)


# Described in /openapi.json by the pattern of exactly what the check takes (hub/core/ids.py).
MemberIdStr = Annotated[str, _check(parse_member, 200), described(3)]
SubsystemIdStr = Annotated[str, _check(parse_subsystem, 300), described(4)]
ServiceIdStr = Annotated[str, _check(parse_service, 400), described(5)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a member's name cannot be blank: give the agency's name")
    return value


def _not_only_spaces(value: str) -> str:
    # "" is no name, as export writes it for an entry made without one (a file may leave
    # names out); spaces alone are a name nobody can read in listClients.
    if value and not value.strip():
        raise ValueError('name is only whitespace: give a name, or "" for none')
    return value


def _nfc(value: str) -> str:
    # "Hà Nội" typed composed or decomposed (NFD, as some editors save it) is one name: kept
    # in NFC, a file saved the other way is no change, and a search finds either.
    return unicodedata.normalize("NFC", value)


Text = Annotated[str, AfterValidator(_nfc)]
# What OneLine refuses (hub/registry/values.py), and a character that is no blank, for the
# patterns /openapi.json gives of a name: a client drawing names from the document draws
# none the hub refuses.
_NOT_IN_A_LINE = r"\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_SOME_NAME = rf"[^{_NOT_IN_A_LINE}]*[^\s{_NOT_IN_A_LINE}][^{_NOT_IN_A_LINE}]*"
# The length first: after a validator of its own, pydantic would count "items".
Name = Annotated[
    str,
    Field(max_length=300),
    AfterValidator(_nfc),
    AfterValidator(_not_only_spaces),
    OneLine,
    Described(rf"^(?:{_SOME_NAME})?$", ("Bộ Công an",)),
]
# What the admin API's POST and PATCH of a member take: the agency's name, never blank.
MemberName = Annotated[
    str,
    Field(max_length=300),
    AfterValidator(_nfc),
    AfterValidator(_not_blank),
    OneLine,
    Described(rf"^{_SOME_NAME}$", ("Bộ Công an",)),
]


def _not_bool(value: Any) -> Any:
    # JSON's true is a 1 to pydantic: {"timeout_ms": true} gave a service a 1 ms timeout.
    if isinstance(value, bool):
        raise ValueError(f"takes a whole number, not {str(value).lower()}")
    return value


Count = Annotated[int, BeforeValidator(_not_bool)]
OptionalCount = Annotated[int | None, BeforeValidator(_not_bool)]

# The gateway takes /r1/{subsystem}/listMethods (and the others) as the metaservice, so a
# service of that code could never be called (hub/gateway/paths.py METASERVICES).
RESERVED_CODES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})


def _not_reserved(value: str) -> str:
    code = value.rsplit("/", 1)[-1]
    if code in RESERVED_CODES:
        raise ValueError(
            f"service code {code!r} is the name of an X-Road metaservice "
            f"({', '.join(sorted(RESERVED_CODES))}): /r1/.../{code} always reaches the "
            "metaservice, so this service could never be called; choose another code"
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL stores no NUL character in text or JSON (a 500 from asyncpg); SQLite
        # would keep it, and the registry must not differ by its database. A lone surrogate
        # (JSON's or YAML's "\udc00", half of a UTF-16 pair) is no character: no database
        # stores it, nor can the trail hash it.
        # Each entry looks at its own fields (an entry of a section, an endpoint, its own),
        # so that a file's refusal names the entry's line, not the file's first.
        found = None
        if isinstance(data, dict):
            nested = cls._nested()
            for key, value in data.items():
                if key not in nested:
                    found = _unstorable_at({key: value})
                    if found is not None:
                        break
        if found is None:
            return data
        where, char = found
        if char == "\x00":
            raise ValueError(
                f"{where} holds a NUL character (\\u0000), which no text field may hold; remove it"
            )
        raise ValueError(
            f"{where} holds a lone surrogate (\\u{ord(char):04x}), half of a "
            "UTF-16 pair and no character; write the character itself, or both halves"
        )

    @classmethod
    def _nested(cls) -> frozenset[str]:
        """The fields that hold entries validated by a model of their own."""
        return frozenset(
            name for name, field in cls.model_fields.items() if _holds_model(field.annotation)
        )


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(arg) for arg in get_args(annotation))


def _bad_char(text: str) -> str | None:
    """The first character of ``text`` that no database stores (NUL, a lone surrogate)."""
    if "\x00" in text:
        return "\x00"
    if text.isascii():
        return None
    return next((c for c in text if "\ud800" <= c <= "\udfff"), None)


def _unstorable_at(value: Any, path: str = "") -> tuple[str, str] | None:
    """Where in ``value`` (a JSON-like document) a character no database stores stands
    (NUL, a lone surrogate), and which; None when there is none."""
    if isinstance(value, str):
        char = _bad_char(value)
        return (path, char) if char else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            char = _bad_char(key) if isinstance(key, str) else None
            # The key said as an escape, which any output can print.
            shown = here.encode("utf-8", "backslashreplace").decode("utf-8")
            found = (shown, char) if char else _unstorable_at(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _unstorable_at(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


class Endpoint(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    path: str

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"endpoint path {value!r} must start with '/'")
        if "?" in value or "#" in value:
            raise ValueError(
                f"endpoint path {value!r}: a path holds no query or fragment ('?...', "
                "'#...'); the query a caller sends goes to the provider as it came"
            )
        names: set[str] = set()
        for part in value.strip("/").split("/"):
            if not part and value.strip("/"):
                raise ValueError(
                    f"endpoint path {value!r} has an empty segment ('//'): give one '/' "
                    "between segments"
                )
            if part and (part in (".", "..") or not TEMPLATE_PART.fullmatch(part)):
                raise ValueError(
                    f"endpoint path {value!r} has an invalid segment {part!r}: {_SEGMENT_RULE}"
                )
            if part.startswith("{"):
                if part in names:
                    # Two segments of one name: which one the name means would be a guess,
                    # and the gateway's path pattern cannot be built.
                    raise ValueError(
                        f"endpoint path {value!r} names {part} twice; give each segment a "
                        "name of its own"
                    )
                names.add(part)
        return value


# The form of what http_url_problem (hub/core/urls.py) takes, as /openapi.json gives it: an
# http(s) URL with a host, no user, query, fragment nor blank; the port's range and the
# length it checks alone.
BaseUrl = Annotated[
    str,
    Described(
        r"^[Hh][Tt][Tt][Pp][Ss]?://(?:\[[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]|[^\s/?#@:\[\]]+)"
        r"(?::[0-9]{1,5})?(?:/[^\s?#]*)?$",
        ("http://127.0.0.1:9001",),
    ),
]


def _check_url(value: str | None) -> str | None:
    problem = None if value is None else http_url_problem(value)
    if problem is not None:
        raise ValueError(f"base_url {value!r} {problem}")
    return value.rstrip("/") if value else value


# A provider's base URL where one may be left out (or cleared, in a change).
OptionalUrl = Annotated[BaseUrl | None, AfterValidator(_check_url)]


class MemberIn(Strict):
    id: MemberIdStr
    name: Name = ""
    enabled: Flag = True


class MemberCreate(MemberIn):
    """``POST /admin/members``: a new member, with its name (SPEC's listClients shows it)."""

    name: MemberName


# What `openssl x509 -noout -fingerprint -sha256` prints before the digits: "sha256
# Fingerprint=" (OpenSSL 3) or "SHA256 Fingerprint=" (OpenSSL 1.1, LibreSSL). Operators
# paste the line whole, often with its end.
_OPENSSL_LINE = re.compile(r"([a-z0-9-]+) fingerprint=(.*)", re.ASCII | re.IGNORECASE | re.DOTALL)
_LINE_BLANKS = " \t\r\n"


def _check_fingerprint(value: str) -> str:
    text = value.strip(_LINE_BLANKS)
    if line := _OPENSSL_LINE.fullmatch(text):
        algorithm, text = line[1], line[2].strip(_LINE_BLANKS)
        if algorithm.lower().replace("-", "") != "sha256":
            raise ValueError(
                f"cert_sha256 {algorithm} Fingerprint=... is a {algorithm.upper()} fingerprint: "
                "print the SHA-256 one (openssl x509 -noout -fingerprint -sha256)"
            )
    hexed = text.replace(":", "").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", hexed):
        raise ValueError(
            "cert_sha256 must be the certificate's SHA-256 fingerprint: 64 hex digits, colons "
            "allowed, or the line openssl x509 -noout -fingerprint -sha256 prints"
        )
    return hexed


_BLANK = "[ \\t\\r\\n]*"
CertFingerprint = Annotated[
    str,
    AfterValidator(_check_fingerprint),
    Described(
        f"^{_BLANK}(?:[Ss][Hh][Aa]-?256 [Ff][Ii][Nn][Gg][Ee][Rr][Pp][Rr][Ii][Nn][Tt]={_BLANK})?"
        f":*(?:[0-9A-Fa-f]:*){{64}}{_BLANK}$",
        (":".join(["3F"] * 32),),
    ),
]


class SubsystemIn(Strict):
    id: SubsystemIdStr
    name: Name = ""
    base_url: OptionalUrl = None
    enabled: Flag = True
    # Quotas of a client subsystem; None means the hub's default (HUB_DEFAULT_QUOTA_*).
    quota_rps: OptionalCount = Field(default=None, ge=1, le=1_000_000)
    quota_per_day: OptionalCount = Field(default=None, ge=1, le=2_000_000_000)
    # Client certificate that authenticates this subsystem over mutual TLS.
    cert_sha256: CertFingerprint | None = None


RequestSchema = Annotated[dict[str, Any], AfterValidator(check_request_schema)]


class ServiceIn(Strict):
    id: Annotated[ServiceIdStr, AfterValidator(_not_reserved)]
    description: Text = ""
    base_url: OptionalUrl = None
    service_type: Literal["REST", "OPENAPI"] = "REST"
    endpoints: list[Endpoint] = Field(default_factory=list)
    personal_data: Flag = False
    timeout_ms: Count = Field(default=10_000, gt=0, le=600_000)
    max_body_bytes: Count = Field(default=1024 * 1024, ge=0, le=100 * 1024 * 1024)
    request_schema: RequestSchema | None = None
    enabled: Flag = True
    keep_bodies: Flag = False


class GrantKey(Strict):
    client: SubsystemIdStr
    service: ServiceIdStr


class GrantIn(GrantKey):
    enabled: Flag = True


class RegistryDoc(Strict):
    """The declarative registry file of ``hub registry apply``."""

    members: list[MemberIn] = Field(default_factory=list)
    subsystems: list[SubsystemIn] = Field(default_factory=list)
    services: list[ServiceIn] = Field(default_factory=list)
    grants: list[GrantIn] = Field(default_factory=list)
    # Where each entry was read, as "file:line" by (section, index), for the errors that
    # only applying can find (a reference to what neither the files nor the database hold).
    _where: dict[tuple[str, int], str] = PrivateAttr(default_factory=dict)
    # Each entry's index within its own file, where it differs from its index in all of them.
    _index: dict[tuple[str, int], int] = PrivateAttr(default_factory=dict)


def _null_only_where_clearable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """/openapi.json says ``null`` of a change's field only where it clears it: a client
    drawing a change from the document sent ``{"enabled": null}`` and got 422."""
    clearable: frozenset[str] = getattr(model, "clearable", frozenset())
    for name, field in schema.get("properties", {}).items():
        options = field.get("anyOf")
        if name in clearable or not options:
            continue
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            del field["anyOf"]
            field.update(kept[0])
        else:
            field["anyOf"] = kept


class Patch(Strict):
    """A change: fields left out keep their value; ``null`` clears only those that may be empty."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_null_only_where_clearable)

    clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if value is None and name in cls.model_fields and name not in cls.clearable:
                    raise ValueError(
                        f"{name} cannot be null: give it a value, or leave it out to keep the "
                        "current one"
                    )
        return data


class MemberPatch(Patch):
    name: MemberName | None = None
    enabled: OptionalFlag = None


class GrantPatch(Patch):
    """Which grant (``client`` and ``service``), and its new state."""

    client: SubsystemIdStr
    service: ServiceIdStr
    enabled: OptionalFlag = None


class SubsystemPatch(Patch):
    clearable = frozenset({"base_url", "quota_rps", "quota_per_day", "cert_sha256"})

    name: Name | None = None
    base_url: OptionalUrl = None
    enabled: OptionalFlag = None
    quota_rps: OptionalCount = Field(default=None, ge=1, le=1_000_000)
    quota_per_day: OptionalCount = Field(default=None, ge=1, le=2_000_000_000)
    cert_sha256: CertFingerprint | None = None


class ServicePatch(Patch):
    # No endpoints is an empty list, which null also means (see the admin router).
    clearable = frozenset({"base_url", "request_schema", "endpoints"})

    description: Text | None = None
    base_url: OptionalUrl = None
    service_type: Literal["REST", "OPENAPI"] | None = None
    endpoints: list[Endpoint] | None = None
    personal_data: OptionalFlag = None
    timeout_ms: OptionalCount = Field(default=None, gt=0, le=600_000)
    max_body_bytes: OptionalCount = Field(default=None, ge=0, le=100 * 1024 * 1024)
    request_schema: RequestSchema | None = None
    enabled: OptionalFlag = None
    keep_bodies: OptionalFlag = None


class KeyIn(Strict):
    label: Annotated[str, Field(max_length=200), OneLine] = ""
    expires_at: Annotated[datetime | None, TimeText, FutureUtc] = Field(
        default=None,
        description="When the key stops working (ISO 8601; UTC when no zone is given). "
        "Default: never.",
    )


class KeyRequest(KeyIn):
    client: SubsystemIdStr


class RotateIn(Strict):
    grace_seconds: Count = Field(default=KEY_GRACE_S, ge=0, le=KEY_GRACE_MAX_S)


class KeyOut(BaseModel):
    """A key as the admin API answers it; times in UTC (``...Z``), as the log's."""

    id: int = Field(examples=[12])
    client: Annotated[str, described(4)]
    prefix: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    # No default: always sent (null or not), so the document names it required.
    current_secret: bool | None = Field(
        description="Whether the key was hashed under this hub's HUB_SECRET_KEY: a key made "
        "under another secret is refused (401) until the hub runs with that secret again or "
        "the key is reissued. null for keys made before the hub kept track.",
    )


class NewKeyOut(KeyOut):
    api_key: str = Field(description="The key itself: shown once, stored only as a hash.")


class ApplyResult(BaseModel):
    created: int
    updated: int
    deleted: int
    unchanged: int
    dry_run: bool = Field(default=False, description="Nothing was changed: what it would do.")
    changes: list[str] = Field(
        default_factory=list,
        description="Each entry created, updated (with the fields) or deleted, in order.",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What was applied but looks wrong, e.g. two services of one provider "
        "declaring the same method and path (a renamed service whose old entry is left).",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="With `prune`: the grants it leaves though the document declares one "
        "end of each (only grants whose client and service it declares both are its own).",
    )
