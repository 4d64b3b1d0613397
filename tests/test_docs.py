"""What the docs state about the code, held to the code: the settings table of
docs/operators.md and the module lists of docs/architecture.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# The rows of docs/architecture.md's layout table that name their folder's modules.
LISTED = ("hub/core/", "hub/registry/", "hub/gateway/", "hub/txlog/", "hub/admin/")


def _table_rows(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_every_setting_is_in_the_operators_table_with_its_default() -> None:
    text = (ROOT / "docs" / "operators.md").read_text()
    documented: dict[str, str] = {}
    for names, default, _what in _table_rows(text, "### Every setting"):
        variables = re.findall(r"`(HUB_[A-Z_]+)`", names)
        values = re.findall(r"`([^`]+)`", default)
        for i, variable in enumerate(variables):
            if default.startswith("unset"):
                documented[variable] = "unset"
            else:
                documented[variable] = values[i] if len(values) == len(variables) else values[0]
    expected = {
        "HUB_" + name.upper(): "unset" if field.default is None else _shown(field.default)
        for name, field in Settings.model_fields.items()
    }
    assert documented == expected


@pytest.mark.parametrize("folder", LISTED)
def test_the_architecture_table_lists_the_modules_of_its_folders(folder: str) -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| `{folder}` |"))
    named = set(re.findall(r"`([a-z_]+\.py)`", row))
    present = {p.name for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py"}
    assert named - present == set(), "listed, but no such module"
    assert present - named == set(), "in the folder, but not listed"
