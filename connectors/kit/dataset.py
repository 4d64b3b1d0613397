"""The dataset interface: a connector's records, deterministic from a seed, plus its writes.

A dataset generates its seed records on demand (so large sizes stay cheap) and keeps writes in
an overlay for the life of the process; ``reset()`` drops the overlay.
"""

from __future__ import annotations

import abc


class Dataset(abc.ABC):
    """Base of connector datasets: ``seed`` and ``size`` fix the seed state."""

    default_size: int = 1000
    max_size: int = 1_000_000

    def __init__(self, *, seed: int = 42, size: int | None = None) -> None:
        size = self.default_size if size is None else size
        if not 0 < size <= self.max_size:
            raise ValueError(f"size must be between 1 and {self.max_size}, got {size}")
        self.seed = seed
        self.size = size

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget every write: back to the state ``seed`` and ``size`` generate."""

    def health(self) -> dict[str, object]:
        """What ``GET /__health`` reports about the data."""
        return {"seed": self.seed, "size": self.size}
