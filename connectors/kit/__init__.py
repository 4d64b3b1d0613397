"""The connector kit: build a mock agency from a manifest, a dataset and handlers.

A connector package (``connectors/<name>/``) exposes ``connector = Connector(manifest,
create_app)``. The pieces:

- ``Manifest`` / ``ServiceSpec`` (``manifest.py``): member, subsystem and services (code,
  method, path template, request/response pydantic models, personal_data, timeout_ms,
  max_body_bytes, description, error statuses beyond 404 and 422).
  ``Manifest.registry_entry(base_url)`` is the registry YAML fragment of docs/contracts.md.
- ``Dataset`` (``dataset.py``): seed records generated on demand, writes in overlays
  (``self.overlay(name)``), ``reset()``.
- ``Overlay`` / ``StateFile`` (``state.py``): the overlays kept in the mock's own SQLite file
  when it is started with one (``state_path``, ``hub mock --state FILE``).
- ``build_app(manifest, dataset=, handlers=, hub=, faults=)`` (``app.py``): the FastAPI app,
  with the controls of ``controls.py``: ``/__health``, ``/__reset``, ``/__faults``,
  ``/__stubs``, ``/__scenarios`` and ``/__requests``.
- ``FaultConfig`` / ``FaultSpec`` (``faults.py``): latency, jitter, errors, timeouts, resets,
  malformed bodies; global or per service; seeded.
- ``Stub`` / ``Stubs`` (``stubs.py``): answers set at run time, matched before the handlers;
  ``Scenarios`` (``scenarios.py``): the states that decide which stateful stubs answer.
- ``Journal`` (``journal.py``): the last calls received, with secrets redacted.
- ``HubClient`` (``hub.py``): call other agencies through the hub with the connector's own
  client identity.
- ``Subscriptions`` (``subscriptions.py``): push a connector's changes to its subscribers'
  own services, as a client of the hub, with retries.
- ``NotFoundError`` and friends (``errors.py``): raise them in handlers for JSON problem answers.

A minimal connector::

    manifest = Manifest(name="demo", member_id="VN/GOV/X", member_name="X",
                        subsystem_id="VN/GOV/X/demo", subsystem_name="Demo",
                        services=(ServiceSpec(code="thing-lookup", method="GET",
                                              path="/things/{id}", response_model=Thing,
                                              description="Look up one thing."),))

    def create_app(*, seed=42, size=None, hub_url=None, client_key=None, faults=None,
                   state_path=None):
        data = Things(seed=seed, size=size, state_path=state_path)

        async def lookup(id: str) -> Thing:
            return data.get(id)  # raises NotFoundError

        return build_app(manifest, dataset=data, handlers={"thing-lookup": lookup},
                         faults=faults)

    connector = Connector(manifest, create_app)
"""

from __future__ import annotations

from connectors.kit.app import Connector, Handler, build_app
from connectors.kit.dataset import Dataset
from connectors.kit.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    UnprocessableError,
    UpstreamError,
)
from connectors.kit.faults import FaultConfig, FaultSpec
from connectors.kit.hub import HubClient
from connectors.kit.manifest import Manifest, ServiceSpec
from connectors.kit.state import Overlay, StateFile, StateFileError

__all__ = [
    "ConflictError",
    "Connector",
    "Dataset",
    "FaultConfig",
    "FaultSpec",
    "Handler",
    "HubClient",
    "InvalidRequestError",
    "Manifest",
    "NotFoundError",
    "Overlay",
    "ProviderError",
    "ServiceSpec",
    "StateFile",
    "StateFileError",
    "UnprocessableError",
    "UpstreamError",
    "build_app",
]
