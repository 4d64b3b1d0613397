"""The scenario file format (SPEC section 8), as pydantic models.

``schemas/scenario.schema.json`` is generated from :class:`Scenario` (``python -m
hub.replay.schemas``), so editors and the loader agree on one definition. Every model
forbids unknown keys: a typo in a scenario is an error before anything runs, not an
expectation silently skipped. The steps' models are in ``hub.replay.stepschemas`` and
``hub.replay.mockschemas``, on the ground laid by ``hub.replay.fields``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from hub.replay.fields import Model, var_name_problem
from hub.replay.stepschemas import FaultStep, SleepStep, Step, StubStep, VerifyStep


class Scenario(Model):
    """A scenario file: named, ordered steps replayed once per iteration."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://hub.local/schemas/scenario.schema.json",
        },
    )

    name: str | None = Field(
        default=None,
        description="Defaults to the file name; names the scenario in every report, so "
        "each scenario run together has its own.",
        json_schema_extra={"pattern": r"\S"},
    )
    description: str | None = None
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Variables for {{ templates }}; may use run.*."
    )
    steps: list[Step] = Field(min_length=1)
    # The indexes of the steps without an id, named after their place ("step-3").
    _named_by_place: set[int] = PrivateAttr(default_factory=set)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        # An empty one fell back to the file name without a word: a name meant and lost
        # (a template left blank), and the reports named the scenario otherwise.
        if value is not None and not value.strip():
            raise ValueError(
                "the name is empty; give the scenario a name, or leave out 'name:' to name "
                "it after its file"
            )
        # It titles a report's table and a JUnit suite: a line break broke the title in
        # two, and an ESC went to the terminal as it was.
        control = re.search(r"[\x00-\x1f\x7f-\x9f]", value or "")
        if control:
            char = control.group()
            escaped = char.encode("unicode_escape").decode()
            said = (
                f"a line break ({escaped})"
                if char in "\r\n"
                else f"the control character {escaped}"
            )
            raise ValueError(f"the name holds {said}; a name is one line of text: remove it")
        return value

    @field_validator("vars")
    @classmethod
    def _var_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            problem = var_name_problem("variable", name)
            if problem:
                raise ValueError(problem)
        return value

    @property
    def named_by_place(self) -> frozenset[int]:
        """The indexes of the steps given no id, which are named after their place."""
        return frozenset(self._named_by_place)

    @model_validator(mode="after")
    def _ids(self) -> Scenario:
        # Duplicates are refused when compiling (hub/replay/compiling.py), at the step's own line.
        for index, step in enumerate(self.steps):
            if step.id is None:
                kinds = {
                    FaultStep: "fault",
                    StubStep: "stub",
                    VerifyStep: "verify",
                    SleepStep: "sleep",
                }
                kind = kinds.get(type(step), "step")
                step.id = f"{kind}-{index + 1}"
                self._named_by_place.add(index)
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema shipped as ``schemas/scenario.schema.json``."""
    return Scenario.model_json_schema(by_alias=True)


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "scenario.schema.json"


if __name__ == "__main__":  # python -m hub.replay.schemas > schemas/scenario.schema.json
    json.dump(json_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
