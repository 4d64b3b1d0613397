"""A connector package that does not load, whose models have no JSON Schema, or whose
handlers do not take what its manifest declares, is named in one sentence that says what to
fix, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

import connectors
from connectors.kit import Dataset, Manifest, build_app
from connectors.kit.manifest import ServiceSpec
from hub.cli.main import app

MANIFEST = """
from connectors.kit import Manifest, ServiceSpec

manifest = Manifest(
    name="{name}",
    member_id="VN/LOC/01",
    member_name="UBND",
    subsystem_id="VN/LOC/01/{name}",
    subsystem_name="Broken",
    services=(ServiceSpec(code="x-lookup", method="GET", path="{path}", description="x"),),
)
"""


@pytest.fixture
def extra_connectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder discovery scans besides connectors/, forgotten again after the test."""
    monkeypatch.setattr(connectors, "__path__", [*connectors.__path__, str(tmp_path)])
    connectors.refresh()
    yield tmp_path
    monkeypatch.undo()
    connectors.refresh()


def _package(root: Path, name: str, manifest: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("from .manifest import manifest as manifest\n")
    (root / name / "manifest.py").write_text(manifest)


@pytest.mark.parametrize(
    ("manifest", "said"),
    [
        (
            MANIFEST.format(name="brokenpath", path="x/{id}"),
            "service x-lookup: path must start with '/'",
        ),
        ("manifest = (\n", "'(' was never closed"),
    ],
    ids=["path", "syntax"],
)
@pytest.mark.parametrize(
    "args",
    [
        ["mock", "insurance", "--port", "1"],
        ["connectors", "list"],
        ["connectors", "registry", "insurance", "--base-url", "http://127.0.0.1:8004"],
        ["up", "--db", "sqlite+aiosqlite:///nowhere/hub.db"],
    ],
    ids=["mock", "list", "registry", "up"],
)
def test_a_connector_that_does_not_load_is_named_in_one_line(
    extra_connectors: Path,
    manifest: str,
    said: str,
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every command that discovers connectors ended in the import's traceback, `hub mock`
    # of another agency and `hub up` included.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a mock started beside a connector that does not load")

    monkeypatch.setattr(uvicorn, "run", started)
    _package(extra_connectors, "broken", manifest)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    line = " ".join(result.output.split())
    assert line.startswith("error: connector package broken does not load: ")
    assert f"{extra_connectors / 'broken' / 'manifest.py'}" in line and said in line
    assert "Traceback" not in result.output


class Stamp:
    """A class of the connector's own, which pydantic can check but not describe."""


class WithStamp(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    stamp: Stamp | None = None


@pytest.mark.parametrize("role", ["request_model", "response_model"])
def test_a_model_without_a_json_schema_is_refused_naming_the_service(role: str) -> None:
    # The mock started and answered its /openapi.json with a 500, and `hub connectors
    # registry` ended in pydantic's PydanticInvalidForJsonSchema traceback.
    with pytest.raises(ValueError, match=r"service x-create: .*WithStamp.*no JSON Schema") as e:
        ServiceSpec(code="x-create", method="POST", path="/x", description="x", **{role: WithStamp})
    assert "Stamp" in str(e.value) and "WithJsonSchema" in str(e.value)


def _manifest(*services: ServiceSpec) -> Manifest:
    return Manifest(
        name="vehicles",
        member_id="VN/GOV/BCA",
        member_name="Bộ Công an",
        subsystem_id="VN/GOV/BCA/vehicles",
        subsystem_name="Vehicles",
        services=services,
    )


def test_two_services_of_one_method_and_path_are_refused_naming_both() -> None:
    # Both loaded: the mock answered every call with the first one's handler, the other
    # service could never be reached, and the registry file declared both.
    lookup = ServiceSpec(
        code="vehicle-lookup", method="GET", path="/vehicles/{plate}", description="x"
    )
    owner = ServiceSpec(code="owner-vehicles", method="GET", path="/vehicles/{id}", description="x")
    with pytest.raises(ValueError, match="vehicle-lookup and owner-vehicles both take GET") as e:
        _manifest(lookup, owner)
    assert "/vehicles/{id}" in str(e.value)
    # Another method on the same path is another service.
    assert len(_manifest(lookup, replace(owner, method="POST")).services) == 2


def test_a_method_in_lower_case_is_refused_naming_the_methods() -> None:
    with pytest.raises(ValueError) as e:
        ServiceSpec(code="x-create", method="post", path="/x", description="x")
    assert "method 'post' is not one of DELETE, GET, PATCH, POST, PUT" in str(e.value)
    assert "frozenset" not in str(e.value)


def test_a_path_parameter_its_handler_does_not_take_is_refused() -> None:
    # The mock started, took the handler's `plate` for a query parameter, and answered every
    # lookup `422 query parameter plate is required`.
    async def vehicle_lookup(plate: str) -> dict[str, str]:
        return {"plate": plate}

    spec = ServiceSpec(code="vehicle-lookup", method="GET", path="/vehicles/{id}", description="x")
    with pytest.raises(ValueError) as e:
        build_app(_manifest(spec), dataset=Dataset(), handlers={"vehicle-lookup": vehicle_lookup})
    said = str(e.value)
    assert "service vehicle-lookup: its path /vehicles/{id} has {id}" in said
    assert "vehicle_lookup does not take (it takes plate)" in said
    fixed = replace(spec, path="/vehicles/{plate}")
    assert build_app(
        _manifest(fixed), dataset=Dataset(), handlers={"vehicle-lookup": vehicle_lookup}
    )


def test_a_path_parameter_written_without_its_braces_is_refused() -> None:
    # /vehicles/plate for /vehicles/{plate}: the mock started, answered every lookup 404 (no
    # such path), and /vehicles/plate itself 422 "query parameter plate is required".
    async def vehicle_lookup(plate: str) -> dict[str, str]:
        return {"plate": plate}

    spec = ServiceSpec(code="vehicle-lookup", method="GET", path="/vehicles/plate", description="x")
    with pytest.raises(ValueError) as e:
        build_app(_manifest(spec), dataset=Dataset(), handlers={"vehicle-lookup": vehicle_lookup})
    assert str(e.value) == (
        "service vehicle-lookup: its path /vehicles/plate has the segment 'plate', and its "
        "handler vehicle_lookup takes plate, required, from the query: write the segment "
        "{plate} to take it from the path"
    )

    # A query parameter of that name with a default is the handler's choice: it loads.
    async def vehicle_list(plate: str | None = None) -> dict[str, str | None]:
        return {"plate": plate}

    assert build_app(_manifest(spec), dataset=Dataset(), handlers={"vehicle-lookup": vehicle_list})


class OwnerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: str


class OtherQuery(BaseModel):
    owner_id: int


@pytest.mark.parametrize("declared", [None, OtherQuery])
def test_a_body_its_manifest_does_not_declare_is_refused(declared: type[BaseModel] | None) -> None:
    # Built as it was, the mock checked bodies against the handler's model while the registry
    # file gave the hub the manifest's request_schema (none, or another model's): the hub
    # forwarded bodies the mock refused, or refused bodies the mock takes.
    async def owner_vehicles(body: OwnerQuery) -> dict[str, str]:
        return {"owner_id": body.owner_id}

    spec = ServiceSpec(
        code="owner-vehicles",
        method="POST",
        path="/vehicles/by-owner",
        description="x",
        request_model=declared,
    )
    with pytest.raises(ValueError) as e:
        build_app(_manifest(spec), dataset=Dataset(), handlers={"owner-vehicles": owner_vehicles})
    said = str(e.value)
    assert "service owner-vehicles: its handler owner_vehicles takes a body of OwnerQuery" in said
    assert "request_model=OwnerQuery" in said
    fixed = replace(spec, request_model=OwnerQuery)
    assert build_app(
        _manifest(fixed), dataset=Dataset(), handlers={"owner-vehicles": owner_vehicles}
    )


def test_a_service_without_a_handler_is_named_with_the_handler_it_likely_lost() -> None:
    # A service code renamed in manifest.py (`record-lookup` to `record_lookup`) and not in
    # app.py's handlers was told as two sorted lists, leaving the reader to diff them.
    async def vehicle_lookup(id: str) -> dict[str, str]:
        return {"id": id}

    async def vehicle_search() -> dict[str, str]:
        return {}

    lookup = ServiceSpec(
        code="vehicle_lookup", method="GET", path="/vehicles/{id}", description="x"
    )
    search = ServiceSpec(code="vehicle-search", method="GET", path="/vehicles", description="x")
    with pytest.raises(ValueError) as e:
        build_app(
            _manifest(lookup, search),
            dataset=Dataset(),
            handlers={"vehicle-lookup": vehicle_lookup, "vehicle-search": vehicle_search},
        )
    said = str(e.value)
    assert "service vehicle_lookup of the manifest has no handler" in said
    assert "handler 'vehicle-lookup' names no service (did you mean 'vehicle_lookup'?)" in said
    assert "vehicle-search" not in said  # matched: not named
    with pytest.raises(ValueError) as e:
        build_app(_manifest(lookup), dataset=Dataset(), handlers={})
    assert str(e.value) == (
        "vehicles: service vehicle_lookup of the manifest has no handler: give build_app's "
        "handlers one for each service code, keyed by the code"
    )


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("..", "service code '..' alone is a path's dot segment"),
        (".", "service code '.' alone is a path's dot segment"),
        ("x" * 129, "service code 'xxxxxxxxxxxxxxxxx...' has 129 characters; the limit is 128"),
        ("record lookup", "service code 'record lookup': use letters, digits, '-', '_', '.'"),
    ],
    ids=["dotdot", "dot", "long", "space"],
)
def test_a_service_code_the_registry_would_refuse_is_refused_when_the_manifest_loads(
    code: str, said: str
) -> None:
    # `..` and a 129-character code loaded, served and listed, and only `hub registry apply`
    # (or `hub up` registering the connector) refused the subsystem's file.
    with pytest.raises(ValueError) as e:
        ServiceSpec(code=code, method="GET", path="/x", description="x")
    assert said in str(e.value)


def test_a_subsystem_id_the_registry_would_refuse_is_refused_when_the_manifest_loads() -> None:
    spec = ServiceSpec(code="x-lookup", method="GET", path="/x", description="x")
    with pytest.raises(ValueError) as e:
        Manifest(
            name="dots",
            member_id="VN/LOC/48",
            member_name="UBND",
            subsystem_id="VN/LOC/48/..",
            subsystem_name="Dots",
            services=(spec,),
        )
    assert "'..' alone is a path's dot segment" in str(e.value)


@pytest.mark.parametrize(
    ("member", "said"),
    [
        ("vn/LOC/48", "unknown instance 'vn' (use VN)"),
        ("VN/TINH/48", "unknown member class 'TINH' (use GOV, LOC or COM)"),
    ],
)
def test_a_member_id_the_registry_would_refuse_is_refused_when_the_manifest_loads(
    member: str, said: str
) -> None:
    spec = ServiceSpec(code="x-lookup", method="GET", path="/x", description="x")
    with pytest.raises(ValueError) as e:
        Manifest(
            name="odd",
            member_id=member,
            member_name="UBND",
            subsystem_id=f"{member}/odd",
            subsystem_name="Odd",
            services=(spec,),
        )
    assert said in str(e.value)


# Each loaded, served its /openapi.json and wrote its registry file, and only `hub registry
# apply` (or `hub up` registering the connector) refused it, as the paths below, or the
# mock dropped every connection (a status_code of 2010).
REGISTRY_REFUSES = [
    ("/records/{id", "invalid segment '{id'"),
    ("/records/{id}/{id}", "names {id} twice"),
    ("/records/{id}?full=1", "holds no query or fragment"),
    ("/records#top", "holds no query or fragment"),
    ("/rec ords/{id}", "invalid segment 'rec ords'"),
    ("/records//{id}", "empty segment ('//')"),
    ("/records/{1d}", "invalid segment '{1d}'"),
    ("/records/id-{id}", "invalid segment 'id-{id}'"),
    ("/records/..", "invalid segment '..'"),
]


@pytest.mark.parametrize(("path", "said"), REGISTRY_REFUSES)
def test_a_path_the_registry_would_refuse_is_refused_when_the_manifest_loads(
    path: str, said: str
) -> None:
    from hub.registry.schemas import Endpoint

    with pytest.raises(ValueError) as e:
        ServiceSpec(code="record-lookup", method="GET", path=path, description="x")
    assert str(e.value).startswith(f"service record-lookup: path {path!r} ")
    assert said in str(e.value)
    with pytest.raises(ValueError, match="endpoint path"):
        Endpoint(method="GET", path=path)


@pytest.mark.parametrize(
    "path", ["/", "/records", "/records/{id}", "/records/{id}/", "/a/{x_1}/b.c~d", "/p/@me:1"]
)
def test_a_path_the_registry_takes_loads(path: str) -> None:
    from hub.registry.schemas import Endpoint

    assert ServiceSpec(code="record-lookup", method="GET", path=path, description="x").path
    assert Endpoint(method="GET", path=path).path == path


def test_the_kits_path_rule_and_bounds_are_the_registrys() -> None:
    import annotated_types

    from connectors.kit import manifest
    from hub.registry.schemas import TEMPLATE_PART, ServiceIn

    assert f"^({manifest._SEGMENT.pattern})$" == TEMPLATE_PART.pattern
    bounds = {
        name: {type(m): m for m in ServiceIn.model_fields[name].metadata}
        for name in ("timeout_ms", "max_body_bytes")
    }
    assert bounds["timeout_ms"][annotated_types.Gt].gt == 0
    assert bounds["timeout_ms"][annotated_types.Le].le == manifest.TIMEOUT_MS_MAX
    assert bounds["max_body_bytes"][annotated_types.Ge].ge == 0
    assert bounds["max_body_bytes"][annotated_types.Le].le == manifest.MAX_BODY_BYTES_MAX


class RecordCreate(BaseModel):
    name: str


@pytest.mark.parametrize(
    ("model", "said"),
    [
        (dict, "the dict"),
        ("RecordCreate", "the str 'RecordCreate'"),
        (RecordCreate(name="x"), "a RecordCreate object"),
    ],
    ids=["dict", "name", "instance"],
)
def test_a_request_model_that_is_no_model_class_is_refused(model: object, said: str) -> None:
    # `request_model=dict` loaded; `hub connectors registry` then ended in an AttributeError
    # traceback ('dict' has no attribute 'model_json_schema').
    with pytest.raises(ValueError) as e:
        ServiceSpec(
            code="record-create",
            method="POST",
            path="/records",
            description="x",
            request_model=model,  # type: ignore[arg-type]
        )
    assert str(e.value).startswith(
        "service record-create: request_model must be a pydantic model class (a class "
        f"deriving from BaseModel, as models.py defines), not {said}"
    )


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("status_code", 2010, "status_code 2010 must be a success status, 200 to 299"),
        ("status_code", 404, "status_code 404 must be a success status, 200 to 299"),
        ("timeout_ms", -5, "timeout_ms -5 must be a whole number from 1 to 600000"),
        ("timeout_ms", 0, "timeout_ms 0 must be a whole number from 1 to 600000"),
        ("timeout_ms", 1.5, "timeout_ms 1.5 must be a whole number from 1 to 600000"),
        ("max_body_bytes", -1, "max_body_bytes -1 must be a whole number from 0 to 104857600"),
        ("max_body_bytes", True, "max_body_bytes True must be a whole number from 0 to"),
        ("personal_data", "no", "personal_data must be True or False, not 'no'"),
    ],
)
def test_a_setting_the_registry_would_refuse_is_refused_when_the_manifest_loads(
    field: str, value: object, said: str
) -> None:
    with pytest.raises(ValueError) as e:
        ServiceSpec(
            code="record-create",
            method="POST",
            path="/records",
            description="x",
            **{field: value},  # type: ignore[arg-type]
        )
    assert str(e.value).startswith(f"service record-create: {said}")
