"""Insurance mock: Vietnam Social Security's health-insurance cards
(``VN/GOV/BHXH/health-insurance``), enough for the birth linked procedure to end with a card.
"""

from __future__ import annotations

from connectors.insurance.app import create_app
from connectors.insurance.manifest import manifest
from connectors.kit import Connector

connector = Connector(manifest, create_app)
