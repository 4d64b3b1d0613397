"""The shared ground of the scenario format's models: a strict base, number types, id patterns."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict

Scalar = str | int | float | bool
# A number as written: YAML's true is no 1 (a `sleep: true` slept a second, an `error_rate:
# true` failed every call), nor is "0.5"; an int is a number.
Number = Annotated[float, Strict()]
Whole = Annotated[int, Strict()]
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Either case; JSON Schema regexes have no portable case-insensitive flag.
METHOD_PATTERN = "^(" + "|".join(HTTP_METHODS + tuple(m.lower() for m in HTTP_METHODS)) + ")$"

# Identifiers may carry templates, so only the number of parts is checked here.
CLIENT_PATTERN = r"^[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+$"
SERVICE_PATTERN = r"^[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+$"
STEP_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
VAR_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"


def var_name_problem(kind: str, name: object) -> str | None:
    """Why ``name`` cannot name a variable (``kind``: "variable" or "capture"), or None."""
    if name == "run":
        return f"{kind} name 'run' is taken by run.iteration and run.id: give it another name"
    if not isinstance(name, str) or not re.fullmatch(VAR_NAME_PATTERN, name):
        return (
            f"{kind} name {name!r} is not a valid variable name: ASCII letters, digits, '_' "
            "and '-', starting with a letter or '_' (e.g. cid, mother_id)"
        )
    return None


# What each pattern asks for, in words: a file that breaks one is told this, not the regex.
PATTERN_ADVICE = {
    CLIENT_PATTERN: "must be a subsystem id INSTANCE/CLASS/MEMBER/SUBSYSTEM "
    "such as VN/GOV/BTP/civil-status",
    SERVICE_PATTERN: "must be a service id INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE "
    "such as VN/GOV/BCA/population/citizen-lookup",
    METHOD_PATTERN: f"must be one of {', '.join(HTTP_METHODS)}",
    STEP_ID_PATTERN: "must be letters, digits, '_', '.' and '-' only, such as find-citizen",
}


class Model(BaseModel):
    """Every model of the format: unknown keys refused, fields taken by name or alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
