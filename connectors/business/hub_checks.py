"""Moved to ``connectors.kit.checks``; these names stay importable from here."""

from __future__ import annotations

from connectors.kit.checks import (
    CITIZEN_VERIFY,
    ENTERPRISE_LOOKUP,
    lookup_enterprise,
    verify_citizen,
)

__all__ = ["CITIZEN_VERIFY", "ENTERPRISE_LOOKUP", "lookup_enterprise", "verify_citizen"]
