"""Population mock: Bộ Công an's national population database (``VN/GOV/BCA/population``).

Citizens and households generated from ``(seed, size)`` (``dataset.py``, names from
``names.py``); the writes since start kept over them (``records.py``), with the households they
form (``households.py``) and the rules registrations follow (``rules.py``); the services'
answers (``store.py``), served from ``manifest.py``.
"""

from __future__ import annotations

from connectors.kit import Connector
from connectors.population.app import create_app
from connectors.population.manifest import manifest

connector = Connector(manifest, create_app)
