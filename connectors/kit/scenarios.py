"""Scenarios: named states that decide which stubs answer, as WireMock's stateful behaviour.

A stub with ``scenario`` belongs to it; with ``required_state`` it answers only while its
scenario is in that state, and with ``new_state`` it moves the scenario there when it answers.
Every scenario starts in ``Started``. A scenario exists while a stub names it: ``GET
/__scenarios`` lists those, and one no stub names any more is forgotten, so named again it
starts afresh. ``Stubs`` keeps one ``Scenarios`` and moves a state in the same step as it
chooses the stub (``Stubs.choose``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connectors.kit.stub_model import STARTED, Stub


@dataclass(frozen=True)
class Move:
    """A scenario moved by the stub that answered a call, as the journal shows it."""

    name: str
    before: str
    after: str

    def view(self) -> dict[str, str]:
        return {"name": self.name, "from": self.before, "to": self.after}


class Scenarios:
    """The current state of each scenario the stubs name (those in ``Started`` are not kept)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def state(self, name: str) -> str:
        return self.states.get(name, STARTED)

    def state_of(self, stub: Stub) -> str | None:
        """The current state of the scenario of ``stub``, None if it has none."""
        return None if stub.scenario is None else self.state(stub.scenario)

    def allows(self, stub: Stub) -> bool:
        """Whether ``stub`` may answer in its scenario's current state."""
        required = stub.required_state
        return required is None or stub.scenario is None or self.state(stub.scenario) == required

    def move(self, stub: Stub) -> Move | None:
        """Move the scenario of ``stub``, which answers a call now, to its ``new_state``."""
        if stub.scenario is None or stub.new_state is None:
            return None
        before = self.state(stub.scenario)
        self.set(stub.scenario, stub.new_state)
        return Move(stub.scenario, before, stub.new_state)

    def set(self, name: str, state: str) -> None:
        if state == STARTED:
            self.states.pop(name, None)
        else:
            self.states[name] = state

    def reset(self) -> None:
        self.states.clear()

    def keep_only(self, names: Iterable[str]) -> None:
        """Forget the scenarios no stub names any more."""
        named = set(names)
        self.states = {k: v for k, v in self.states.items() if k in named}

    def views(self, stubs: Iterable[Stub]) -> list[dict[str, Any]]:
        """Each scenario ``stubs`` name, by name: its state and the states its stubs know."""
        known: dict[str, dict[str, None]] = {}
        for stub in stubs:
            if stub.scenario is not None:
                states = known.setdefault(stub.scenario, {STARTED: None})
                states.update(dict.fromkeys(s for s in (stub.required_state, stub.new_state) if s))
        return [
            {"name": name, "state": self.state(name), "states": list(states)}
            for name, states in sorted(known.items())
        ]
