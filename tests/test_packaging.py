"""The wheel a user installs works on its own: package data included, nothing read from
the source tree, every path relative to the directory it is run from."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("hub", "connectors", "schemas")
# Shipped in the wheel too: the scenario library, for `hub replay` outside a checkout.
SHIPPED = (*PACKAGES, "scenarios")


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503): `uvicorn[standard]==1` ->
    `uvicorn`."""
    bare = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert bare is not None, requirement
    return re.sub(r"[-_.]+", "-", bare.group(0)).lower()


def _imports(path: Path) -> set[str]:
    """The top-level modules ``path`` imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    # A module imported only through another package's dependencies (httptools and uvloop
    # by uvicorn[standard], starlette by fastapi) goes when that package drops it, or is
    # resolved to a version that was never tried: each is pinned in its own right.
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    dev = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    distributions = importlib.metadata.packages_distributions()
    missing: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            # The pytest plugin is loaded by pytest alone, which the dev extras bring.
            allowed = declared | dev if path.name == "pytest_plugin.py" else declared
            for module in sorted(_imports(path)):
                if module in sys.stdlib_module_names or module in PACKAGES:
                    continue
                names = {_name(d) for d in distributions.get(module, [module])}
                if not names & allowed:
                    missing.append(f"{path.relative_to(ROOT)}: {module}")
    assert missing == []


def test_build_backend_is_new_enough_for_the_license_field() -> None:
    # `license = "Apache-2.0"` (an SPDX expression, PEP 639) is read from setuptools 77 on;
    # setuptools 69-76, which `requires` let through, refused the whole pyproject.toml.
    assert isinstance(PYPROJECT["project"]["license"], str)
    requires = PYPROJECT["build-system"]["requires"]
    pin = next(r for r in requires if re.match(r"setuptools\b", r))
    floor = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", pin.replace(" ", ""))
    assert floor is not None and int(floor.group(1)) >= 77, pin


# pip's words when the isolated build cannot fetch setuptools (no registry, no cache).
_OFFLINE = r"No matching distribution|Could not find a version|NewConnectionError|Network is"
_UNBUILT = shutil.ignore_patterns("__pycache__", "*.py[co]")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: pip builds in the source folder, where a build/ left by an earlier
    # build would put its stale files in the wheel (and hide a file the wheel lacks).
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(ROOT / name, source / name)
    for package in SHIPPED:
        shutil.copytree(ROOT / package, source / package, ignore=_UNBUILT)
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)]
    built = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    if built.returncode != 0 and re.search(_OFFLINE, built.stderr):
        pytest.skip(f"the build backend could not be fetched: {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stderr
    (built,) = out.glob("hub-*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked, as pip installs a pure-Python wheel (scripts aside)."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return target


@pytest.mark.slow
def test_wheel_holds_every_file_of_the_packages(wheel: Path) -> None:
    present = {
        p.relative_to(ROOT).as_posix()
        for package in SHIPPED
        for p in (ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    assert sorted(present - shipped) == []
    # The licence the metadata declares travels with it.
    assert any(re.fullmatch(r"hub-[^/]+\.dist-info/licenses/LICENSE", n) for n in shipped)


def _hub(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = str(site)  # before the checkout's editable install
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_installed_hub_runs_from_an_empty_directory(site: Path, tmp_path: Path) -> None:
    origin = subprocess.run(
        [sys.executable, "-c", "import hub, connectors; print(hub.__file__, connectors.__file__)"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(Path(f).is_relative_to(site) for f in origin.stdout.split()), origin.stdout
    version = _hub(site, tmp_path, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"hub {PYPROJECT['project']['version']}\n"

    upgraded = _hub(site, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "revision" in upgraded.stdout and (tmp_path / "var" / "hub.db").is_file()

    made = _hub(site, tmp_path, "connectors", "new", "permits")
    assert made.returncode == 0, made.stderr
    assert "move the package there" in made.stderr  # discovery reads the installed package
    assert (tmp_path / "connectors" / "permits" / "manifest.py").is_file()
    assert (tmp_path / "tests" / "connectors" / "test_permits.py").is_file()
    # Nothing was written into the unpacked package, nor into the checkout.
    assert not (site / "var").exists() and not (site / "connectors" / "permits").exists()
    assert not (ROOT / "connectors" / "permits").exists()

    # The scenario library comes with the wheel; `hub replay scenarios/...` as the docs
    # write it, run where there is no such folder, says where the installed one is.
    assert (site / "scenarios" / "bank-ekyc.yaml").is_file()
    replay = _hub(site, tmp_path, "replay", "scenarios/bank-ekyc.yaml")
    assert replay.returncode == 2, replay.stderr
    shipped = site / "scenarios" / "bank-ekyc.yaml"
    assert "scenarios/bank-ekyc.yaml: no such file or folder; " in replay.stderr
    assert f"hub replay {shipped}\n" in replay.stderr
