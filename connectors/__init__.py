"""The mock agencies: every subpackage of ``connectors`` that exposes ``connector``.

``names()`` lists them, ``get(name)`` returns one (``connectors.kit.Connector``), ``all()``
returns them all. A package is found by scanning, so a scaffolded ``connectors/<name>/``
(``hub connectors new``) is served by ``hub up`` without being listed anywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.kit import Connector

# Packages of this folder that are tooling, not agencies.
_NOT_CONNECTORS = frozenset({"kit"})
# The order `hub up` assigns ports in (docs/contracts.md); others follow by name.
_ORDER = ("population", "business", "land", "insurance")


class UnknownConnector(KeyError):
    """No connector of that name; the message lists the ones there are."""

    def __str__(self) -> str:
        return str(self.args[0])


class BrokenConnector(ValueError):
    """A package of ``connectors/`` fails to import; the message names it and where."""


def _broken(name: str, folder: str, exc: Exception) -> BrokenConnector:
    # The traceback's last line of the package's own code is where to look, not the
    # importlib and kit frames below or above it; a SyntaxError names its own line.
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename} line {exc.lineno}: {exc.msg}"
    else:
        own = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(folder)]
        at = f"{own[-1].filename} line {own[-1].lineno}: " if own else ""
        where = f"{at}{exc}" if str(exc) else f"{at}{type(exc).__name__}"
    return BrokenConnector(
        f"connector package {name} does not load: {where}; fix it, or move the package out "
        "of connectors/"
    )


@cache
def _discover() -> dict[str, Connector]:
    from connectors.kit import Connector

    found: dict[str, Connector] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg or info.name in _NOT_CONNECTORS or info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:
            folder = f"{getattr(info.module_finder, 'path', '')}/{info.name}/"
            raise _broken(info.name, folder, exc) from exc
        connector = getattr(module, "connector", None)
        if isinstance(connector, Connector):
            found[connector.manifest.name] = connector
    rank = {name: i for i, name in enumerate(_ORDER)}
    return dict(sorted(found.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def names() -> list[str]:
    """Names of the connectors found, population, business, land, insurance first.

    This and the functions below raise ``BrokenConnector`` while a package fails to import.
    """
    return list(_discover())


def all() -> list[Connector]:
    """Every connector found, in ``names()`` order."""
    return list(_discover().values())


def get(name: str) -> Connector:
    """The connector called ``name``; ``UnknownConnector`` when there is none."""
    try:
        return _discover()[name]
    except KeyError:
        from connectors.kit.nearby import did_you_mean  # a refusal's, not every lookup's

        known = names()
        near = did_you_mean(name.lower(), known)
        raise UnknownConnector(
            f"no connector named {name!r}{near}; known: {', '.join(known) or 'none'}"
        ) from None


def refresh() -> None:
    """Forget what was found, so packages added since (a scaffold) are seen."""
    _discover.cache_clear()
    importlib.invalidate_caches()
