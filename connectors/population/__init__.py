"""Population mock: Bộ Công an's national population database (``VN/GOV/BCA/population``).

Citizens and households generated from ``(seed, size)`` (``dataset.py``), writes for the
birth, death and residence procedures (``store.py``), served from ``manifest.py``.
"""

from __future__ import annotations

from connectors.kit import Connector
from connectors.population.app import create_app
from connectors.population.manifest import manifest

connector = Connector(manifest, create_app)
