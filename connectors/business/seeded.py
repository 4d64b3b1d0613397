"""Seeded helpers for on-demand datasets: per-record generators and invertible shuffles.

Records are made from their index alone, so a dataset of a million records costs nothing until
one is read. ``Shuffle`` spreads indices over an identifier space and maps an identifier back
to its index in O(1), which is how lookups by code avoid scanning.
"""

from __future__ import annotations

import math
import random


def rng(seed: int, kind: str, index: int) -> random.Random:
    """The generator of record ``index`` of ``kind``: same arguments, same draws, any process."""
    # A str seed goes through SHA-512, so it does not depend on PYTHONHASHSEED.
    return random.Random(f"{seed}:{kind}:{index}")


class Shuffle:
    """A seeded bijection of ``range(modulus)`` onto itself: ``x -> (a * x + b) mod modulus``."""

    def __init__(self, modulus: int, *, seed: int, salt: str) -> None:
        draw = random.Random(f"{seed}:shuffle:{salt}")
        a = draw.randrange(modulus // 3, modulus) | 1 if modulus > 2 else 1
        while math.gcd(a, modulus) != 1:
            a += 2
        self.modulus = modulus
        self.a = a % modulus or 1
        self.b = draw.randrange(modulus)
        self._a_inv = pow(self.a, -1, modulus)

    def __call__(self, x: int) -> int:
        return (self.a * x + self.b) % self.modulus

    def inverse(self, y: int) -> int:
        return (self._a_inv * (y - self.b)) % self.modulus
