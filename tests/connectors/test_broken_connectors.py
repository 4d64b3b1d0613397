"""A connector package that does not load, or whose models have no JSON Schema, is named in
one sentence that says what to fix, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

import connectors
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
