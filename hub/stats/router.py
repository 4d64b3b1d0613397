"""Operator API under /api (placeholder until the statistics feature lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["operator"])
