"""The wheel a user installs works on its own: package data included, nothing read from
the source tree, every path relative to the directory it is run from."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("hub", "connectors", "schemas")


def test_build_backend_is_new_enough_for_the_license_field() -> None:
    # `license = "Apache-2.0"` (an SPDX expression, PEP 639) is read from setuptools 77 on;
    # setuptools 69-76, which `requires` let through, refused the whole pyproject.toml.
    assert isinstance(PYPROJECT["project"]["license"], str)
    requires = PYPROJECT["build-system"]["requires"]
    pin = next(r for r in requires if re.match(r"setuptools\b", r))
    floor = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", pin.replace(" ", ""))
    assert floor is not None and int(floor.group(1)) >= 77, pin


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
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
        for package in PACKAGES
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
