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
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# The X-Road metaservices' names: the hub takes /r1/{subsystem}/listMethods as the metaservice,
# so a service of that code could never be called (the kit does not import the hub; a test
# keeps this equal to hub.gateway.paths.METASERVICES).
RESERVED_CODES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})


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
