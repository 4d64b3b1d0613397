"""Which files are scenarios: shared by ``hub replay`` and the pytest plugin, so both agree.

Kept free of heavy imports: the pytest plugin asks it about every YAML file of a session.
A folder may hold other YAML (a providers file, a registry export); a file found in a
folder is a scenario only if it has a top-level ``steps:``. A file named explicitly is
always read as a scenario, so a typo there (``stpes:``) is reported, not skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

SUFFIXES = (".yaml", ".yml")
_STEPS = re.compile(rb"^steps\s*:", re.MULTILINE)


def looks_like_scenario(path: Path) -> bool:
    """``path`` has a top-level ``steps:`` key (False if it cannot be read)."""
    try:
        return _STEPS.search(path.read_bytes()) is not None
    except OSError:
        return False
