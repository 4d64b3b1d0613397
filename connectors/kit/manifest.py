"""What a connector offers: its member, subsystem and services, and its registry entry.

A ``Manifest`` is the single description the app factory serves, OpenAPI documents and
``hub registry apply`` consumes (``Manifest.registry_entry(base_url)`` is the YAML fragment of
docs/contracts.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, PydanticUserError, TypeAdapter

_PART = re.compile(r"[A-Za-z0-9._-]+")  # fullmatch: "$" lets a final "\n" through


def _part_problem(part: str) -> str | None:
    """What the registry would refuse in one part of an id (hub.core.ids), said after the
    part, else None: a manifest it refuses loaded, served and listed, and failed only when
    registered."""
    shown = part if len(part) <= 20 else part[:17] + "..."
    if part in (".", ".."):
        return f"{part!r} alone is a path's dot segment, which a URL resolves away: give a name"
    if not _PART.fullmatch(part):
        return f"{shown!r}: use letters, digits, '-', '_', '.'"
    if len(part) > 128:
        return f"{shown!r} has {len(part)} characters; the limit is 128"
    return None


_PARAM = re.compile(r"\{[^}]*\}")
# A segment of an endpoint path as the registry takes it (hub.registry.schemas.TEMPLATE_PART;
# a test keeps the two in step): text, or a {name} as a whole segment.
_SEGMENT = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z0-9._~!$&'()*+,;=:@-]+")
_SEGMENT_RULE = (
    "a segment is either text of letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ (not "
    "'.' or '..'), or a {name} (a letter or '_', then letters, digits or '_') as a whole "
    "segment of its own"
)
# The registry's bounds (hub.registry.schemas.ServiceIn), so `hub connectors registry` never
# writes a file that `hub registry apply` refuses.
TIMEOUT_MS_MAX = 600_000
MAX_BODY_BYTES_MAX = 100 * 1024 * 1024
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# The X-Road metaservices' names: the hub takes /r1/{subsystem}/listMethods as the metaservice,
# so a service of that code could never be called (the kit does not import the hub; a test
# keeps this equal to hub.gateway.paths.METASERVICES).
RESERVED_CODES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})


def _path_problem(path: str) -> str | None:
    """What the registry would refuse in an endpoint path (its leading '/' checked), else
    None: said after the path."""
    if "?" in path or "#" in path:
        return (
            "holds no query or fragment ('?...', '#...'): the query a caller sends goes to "
            "the mock as it came; take it as a handler parameter"
        )
    names: set[str] = set()
    inner = path.strip("/")
    for part in inner.split("/") if inner else ():
        if not part:
            return "has an empty segment ('//'): give one '/' between segments"
        if part in (".", "..") or not _SEGMENT.fullmatch(part):
            return f"has an invalid segment {part!r}: {_SEGMENT_RULE}"
        if part.startswith("{"):
            if part in names:
                return f"names {part} twice; give each segment a name of its own"
            names.add(part)
    return None


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _settings_problem(spec: ServiceSpec) -> str | None:
    """What is wrong with a service's request model, status or limits, else None."""
    model = spec.request_model
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        shown = (
            f"the {model.__name__}"
            if isinstance(model, type)
            else f"the {type(model).__name__} {model!r}"
            if isinstance(model, str)
            else f"a {type(model).__name__} object"
        )
        return (
            "request_model must be a pydantic model class (a class deriving from BaseModel, "
            f"as models.py defines), not {shown}: the hub checks bodies against its JSON Schema"
        )
    if not _whole(spec.status_code, 200, 299):
        return (
            f"status_code {spec.status_code!r} must be a success status, 200 to 299; list "
            "error statuses in errors"
        )
    if not _whole(spec.timeout_ms, 1, TIMEOUT_MS_MAX):
        return f"timeout_ms {spec.timeout_ms!r} must be a whole number from 1 to {TIMEOUT_MS_MAX}"
    if not _whole(spec.max_body_bytes, 0, MAX_BODY_BYTES_MAX):
        return (
            f"max_body_bytes {spec.max_body_bytes!r} must be a whole number from 0 to "
            f"{MAX_BODY_BYTES_MAX}"
        )
    if not isinstance(spec.personal_data, bool):
        return f"personal_data must be True or False, not {spec.personal_data!r}"
    return None


@dataclass(frozen=True)
class ServiceSpec:
    """One service: an operation of the provider with its limits and wire models."""

    code: str
    method: str
    path: str
    description: str
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | Any | None = None
    personal_data: bool = False
    timeout_ms: int = 5000
    max_body_bytes: int = 65536
    # Status of a successful answer (201 for creations).
    status_code: int = 200
    # Error statuses the service answers besides 404 and 422, which every service may (409
    # for a write the current state contradicts, 502 for a check through the hub that
    # failed...), so its OpenAPI document declares each answer a client can get.
    errors: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        problem = _part_problem(self.code)
        if problem:
            raise ValueError(f"service code {problem}")
        if self.code in RESERVED_CODES:
            raise ValueError(
                f"service code {self.code!r} is an X-Road metaservice's name, which the hub "
                "answers itself: the service could never be called; choose another code"
            )
        if self.method not in METHODS:
            raise ValueError(
                f"service {self.code}: method {self.method!r} is not one of "
                f"{', '.join(sorted(METHODS))}"
            )
        if not self.path.startswith("/"):
            raise ValueError(f"service {self.code}: path must start with '/'")
        problem = _path_problem(self.path)
        if problem:
            raise ValueError(f"service {self.code}: path {self.path!r} {problem}")
        problem = _settings_problem(self)
        if problem:
            raise ValueError(f"service {self.code}: {problem}")
        if not all(400 <= status <= 599 for status in self.errors):
            raise ValueError(f"service {self.code}: errors {self.errors} must be 4xx or 5xx")
        # Found here, at import, rather than as a 500 from the mock's /openapi.json and a
        # traceback from `hub connectors registry` (the request schema goes to the registry).
        for role, model in (("request", self.request_model), ("response", self.response_model)):
            if model is None:
                continue
            try:
                TypeAdapter(model).json_schema(
                    mode="validation" if role == "request" else "serialization"
                )
            except PydanticUserError as exc:
                raise ValueError(
                    f"service {self.code}: the {role} model {getattr(model, '__name__', model)} "
                    f"has no JSON Schema ({str(exc).splitlines()[0]}): give its fields types "
                    "pydantic can describe, or annotate one with WithJsonSchema"
                ) from None

    def request_schema(self) -> dict[str, Any] | None:
        """JSON Schema of the request body, for the hub to validate against (or None)."""
        return self.request_model.model_json_schema() if self.request_model else None


@dataclass(frozen=True)
class Manifest:
    """A connector: the agency (member), its system (subsystem) and the services it provides."""

    name: str
    member_id: str
    member_name: str
    subsystem_id: str
    subsystem_name: str
    services: tuple[ServiceSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        member = self.member_id.split("/")
        subsystem = self.subsystem_id.split("/")
        if len(member) != 3 or len(subsystem) != 4 or subsystem[:3] != member:
            raise ValueError(
                f"{self.name}: member id is INSTANCE/CLASS/MEMBER and subsystem id is "
                f"member id + /SUBSYSTEM (got {self.member_id!r}, {self.subsystem_id!r})"
            )
        if subsystem[0] != "VN":
            raise ValueError(f"{self.name}: unknown instance {subsystem[0]!r} (use VN)")
        if subsystem[1] not in ("GOV", "LOC", "COM"):
            raise ValueError(
                f"{self.name}: unknown member class {subsystem[1]!r} (use GOV, LOC or COM)"
            )
        for part in subsystem:
            problem = _part_problem(part)
            if problem:
                raise ValueError(f"{self.name}: subsystem id {self.subsystem_id!r}: part {problem}")
        if not self.member_name.strip():
            raise ValueError(f"{self.name}: member_name is blank; give the agency's name")
        codes = [s.code for s in self.services]
        if len(codes) != len(set(codes)):
            raise ValueError(f"{self.name}: duplicate service codes in {codes}")
        # /vehicles/{plate} and /vehicles/{id} are one route: the mock would answer every call
        # with the first service's handler, and the second could never be reached.
        taken: dict[tuple[str, str], str] = {}
        for spec in self.services:
            route = (spec.method, _PARAM.sub("{}", spec.path))
            if route in taken:
                raise ValueError(
                    f"{self.name}: services {taken[route]} and {spec.code} both take "
                    f"{spec.method} {spec.path}: a call could reach only one of them; give "
                    "one another path or method"
                )
            taken[route] = spec.code

    def service(self, code: str) -> ServiceSpec:
        """The service with this code (KeyError when there is none)."""
        for spec in self.services:
            if spec.code == code:
                return spec
        raise KeyError(f"{self.name} has no service {code!r}")

    def service_id(self, code: str) -> str:
        """The full X-Road service id, e.g. ``VN/GOV/BCA/population/citizen-lookup``."""
        return f"{self.subsystem_id}/{self.service(code).code}"

    def registry_entry(self, base_url: str) -> dict[str, Any]:
        """The registry YAML fragment (docs/contracts.md) that registers this connector."""
        return {
            "members": [{"id": self.member_id, "name": self.member_name}],
            "subsystems": [
                {"id": self.subsystem_id, "name": self.subsystem_name, "base_url": base_url}
            ],
            "services": [
                {
                    "id": f"{self.subsystem_id}/{spec.code}",
                    "description": spec.description,
                    "base_url": None,
                    "service_type": "OPENAPI",
                    "endpoints": [{"method": spec.method, "path": spec.path}],
                    "personal_data": spec.personal_data,
                    "timeout_ms": spec.timeout_ms,
                    "max_body_bytes": spec.max_body_bytes,
                    "request_schema": spec.request_schema(),
                    # No `enabled`: a new service is enabled, and applying the file again
                    # after a manifest change leaves one an operator disabled as it is.
                }
                for spec in self.services
            ],
        }
