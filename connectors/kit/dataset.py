"""The dataset interface: a connector's records, deterministic from a seed, plus its writes.

A dataset generates its seed records on demand (so large sizes stay cheap) and keeps writes in
overlays (``self.overlay(name)``, dicts): in memory for the life of the process, and in the
mock's own SQLite file too when it is given one (``state_path``, ``hub mock --state FILE``), so
they are there again when the mock restarts. ``reset()`` empties every overlay, file included;
a dataset that derives indexes from its overlays rebuilds them in ``reindex()``.

A dataset that keeps its writes elsewhere (older scaffolds did) overrides ``reset()`` instead.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from connectors.kit.state import Overlay, StateFile

# The largest whole number a JSON client in JavaScript (a browser) reads back exactly: past it,
# a seed shown by /__health or /__faults came back as another number (2^53 + 1 read as 2^53).
MAX_SAFE_INTEGER = 2**53 - 1


def seed_problem(seed: int) -> str | None:
    """Why ``seed`` cannot be a seed (a sentence), or None."""
    if -MAX_SAFE_INTEGER <= seed <= MAX_SAFE_INTEGER:
        return None
    return (
        f"seed must be a whole number from -{MAX_SAFE_INTEGER} to {MAX_SAFE_INTEGER} (2^53 - 1, "
        f"the largest that JSON clients such as browsers read back exactly; got {seed})"
    )


class Dataset:
    """Base of connector datasets: ``seed`` and ``size`` fix the seed state."""

    default_size: int = 1000
    max_size: int = 1_000_000

    def __init__(
        self, *, seed: int = 42, size: int | None = None, state_path: str | Path | None = None
    ) -> None:
        size = self.default_size if size is None else size
        if not 0 < size <= self.max_size:
            raise ValueError(f"size must be between 1 and {self.max_size}, got {size}")
        problem = seed_problem(seed)
        if problem is not None:
            raise ValueError(problem)
        self.seed = seed
        self.size = size
        self._overlays: list[Overlay[Any, Any]] = []
        owner = {"dataset": f"{type(self).__module__}.{type(self).__qualname__}"}
        self.state = (
            StateFile(state_path, owner={**owner, "seed": seed, "size": size})
            if state_path is not None
            else None
        )

    def overlay(self, name: str) -> Overlay[Any, Any]:
        """A dict for writes, loaded from and kept in the state file when there is one."""
        found = Overlay[Any, Any](name, self.state)
        self._overlays.append(found)
        return found

    def atomic(self) -> AbstractContextManager[None]:
        """Group the overlay writes of one operation (one transaction in the state file)."""
        return self.state.atomic() if self.state is not None else contextlib.nullcontext()

    def reset(self) -> None:
        """Forget every write: back to the state ``seed`` and ``size`` generate."""
        with self.atomic():
            for overlay in self._overlays:
                overlay.clear()
        self.reindex()

    def reindex(self) -> None:
        """Rebuild what is derived from the overlays (after loading them, or a reset)."""

    def close(self) -> None:
        """Let go of the state file (the kit calls it when the app shuts down)."""
        if self.state is not None:
            self.state.close()

    def health(self) -> dict[str, object]:
        """What ``GET /__health`` reports about the data."""
        found: dict[str, object] = {"seed": self.seed, "size": self.size}
        if self.state is not None:
            found["state"] = str(self.state.path)
        return found
