"""Which files are scenarios: shared by ``hub replay`` and the pytest plugin, so both agree.

Kept free of heavy imports: the pytest plugin asks it about every YAML file of a session.
A folder may hold other YAML (a providers file, a registry export); a file found in a
folder is a scenario only if it has a top-level ``steps:``, in block form or in flow form
(JSON is YAML: ``{"name": ..., "steps": [...]}``). A file named explicitly is
always read as a scenario, so a typo there (``stpes:``) is reported, not skipped.
A folder search, as pytest's, leaves hidden folders (``.git``, ``.venv``) and virtualenvs
alone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

SUFFIXES = (".yaml", ".yml")
# The scenario library the project ships: the checkout's ``scenarios/``, or, installed from
# the wheel, the ``scenarios/`` beside the installed ``hub`` package (in site-packages).
LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


def library_hint(path: Path) -> str:
    """For a missing ``scenarios/...`` path: where the shipped library is, when it is
    elsewhere (a hub installed from its wheel, run outside the project); else ``""``."""
    if path.is_absolute() or not path.parts or path.parts[0] != "scenarios":
        return ""
    if not LIBRARY.is_dir() or Path("scenarios").resolve() == LIBRARY:
        return ""
    shipped = LIBRARY.joinpath(*path.parts[1:])
    if not shipped.exists():
        return f"; the hub's own scenarios are in {LIBRARY}"
    return f"; the hub's own scenarios are in {LIBRARY}: hub replay {shlex.quote(str(shipped))}"


def is_yaml(path: Path) -> bool:
    """``path`` ends in ``.yaml`` or ``.yml``, in any case (``X.YAML`` too)."""
    return path.suffix.lower() in SUFFIXES


def yaml_files(folder: Path) -> list[Path]:
    """The YAML files under ``folder``, sorted; none from a hidden folder below it (one whose
    name starts with a dot) or a virtualenv (``venv/``, with its ``pyvenv.cfg``), nor through
    a link to a folder. ``folder`` itself may be either: it was asked for."""
    found: list[Path] = []
    for top, folders, files in os.walk(folder):
        folders[:] = [
            name
            for name in folders
            if not name.startswith(".") and not Path(top, name, "pyvenv.cfg").is_file()
        ]
        found += [path for name in files if is_yaml(path := Path(top, name)) and path.is_file()]
    return sorted(found)


_STEPS = re.compile(rb"^steps\s*:", re.MULTILINE)
# A document that is one flow mapping, after any blank lines, comments and a "---".
_FLOW = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:[ \t\r]*(?:#[^\n]*)?\n)*\s*(?:---\s)?\s*\{")
_ANY_STEPS = re.compile(rb"""["']?\bsteps["']?\s*:""")


def looks_like_scenario(path: Path) -> bool:
    """``path`` has a top-level ``steps:`` key (False if it cannot be read)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if _STEPS.search(data) is not None:
        return True
    if _FLOW.match(data) is None:
        return False
    # A flow mapping (JSON, most often) has its keys anywhere on its lines: only parsing it
    # tells a top-level "steps" from one further in. Few files are written so, and they are
    # small, so the cost of parsing them is paid rarely.
    try:
        parsed = json.loads(data)
    except ValueError:
        import yaml  # a flow mapping that is not JSON; yaml is heavy to import up front

        from hub.core.yamlsafe import SafeValuesLoader

        try:
            parsed = yaml.load(data, Loader=SafeValuesLoader)
        except (yaml.YAMLError, RecursionError):
            # A scenario with a typo in it is loaded, to be refused in words, not skipped.
            return _ANY_STEPS.search(data) is not None
    except RecursionError:
        return _ANY_STEPS.search(data) is not None
    return isinstance(parsed, dict) and "steps" in parsed
