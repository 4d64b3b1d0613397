"""Placeholders checked against what each step can have then: run.*, vars, earlier captures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.replay.compiler import Compiler, Loc
from hub.replay.plan import ExchangePlan, FaultPlan
from hub.replay.templating import Template, names_at

RUN_NAMES = ("run.iteration", "run.id")


class Names:
    """Checks that every placeholder of a step names something it can have at that point:
    ``run.*``, a var, or a capture of an earlier step. Anything else would fail the step in
    every iteration; it is a mistake (``{{ cdi }}``) to report before anything runs."""

    def __init__(
        self,
        compiler: Compiler,
        var_names: set[str],
        captured_by: dict[str, tuple[int, str | None]],
    ) -> None:
        self.compiler = compiler
        self.known = set(var_names)
        self.captured_by = captured_by

    def check(self, loc: Loc, compiled: Any, extra: Iterable[str] = ()) -> None:
        for inner, used in names_at(compiled):
            where = (*loc, *inner)  # down to the key or item in a json body
            head = used.split(".")[0]
            if head == "run":
                if used != "run" and used not in RUN_NAMES:
                    self.compiler.errors.append(
                        (where, f"{used!r} does not exist: run has only {', '.join(RUN_NAMES)}")
                    )
                continue
            if head in self.known or head in extra:
                continue
            index, step_id = self.captured_by.get(head, (None, None))
            if index is None:
                why = "no var declares it and no earlier step captures it"
            elif loc[:2] == ("steps", index):
                # Checked before its captures are taken: the request too is sent before.
                why = (
                    "this step captures it, after its request and checks; capture it in an "
                    "earlier step to use it here"
                )
            else:
                step = f"step {step_id!r} (steps[{index}])" if step_id else f"steps[{index}]"
                why = f"only a later step captures it, {step}"
            known = ", ".join([*RUN_NAMES, *sorted(self.known)])
            self.compiler.errors.append(
                (where, f"variable {head!r} is not defined: {why} (defined here: {known})")
            )

    def check_exchange(self, loc: Loc, step: ExchangePlan) -> None:
        for field_name in ("client", "service", "path", "json", "body"):
            self.check((*loc, field_name), getattr(step, field_name))
        for name, value in step.query:
            shown = name.source if isinstance(name, Template) else name
            self.check((*loc, "query", shown), name)
            self.check((*loc, "query", shown), value)
        for name, value in step.headers:
            self.check((*loc, "headers", name), value)
        for name, value in step.expect_headers:
            self.check((*loc, "expect", "headers", name), value)
        for source, path, value in step.expect_json:
            self.check((*loc, "expect", "json", source), path)
            self.check((*loc, "expect", "json", source), value)
        own: list[str] = []
        for entry in step.capture:
            # A capture may use the captures above it in the same step: they are set in order.
            self.check((*loc, "capture", entry.name), entry.path, extra=own)
            own.append(entry.name)
        self.known.update(own)

    def check_fault(self, loc: Loc, step: FaultPlan) -> None:
        if step.settings is not None:
            self.check((*loc, "fault", "set", "seed"), step.settings.get("seed"))


def compile_vars(compiler: Compiler, raw: dict[str, Any]) -> list[tuple[str, Any]]:
    """The vars, compiled; a name they use that no iteration can have is refused here.

    Vars are rendered before the first step, so they can only see run.* and the vars above
    them; anything else would fail every iteration.
    """
    variables: list[tuple[str, Any]] = []
    for name, value in raw.items():
        compiled = compiler.value(("vars", name), compiler.json_value(("vars", name), value))
        defined = [n for n, _ in variables]
        for inner, used in names_at(compiled):
            head = used.split(".")[0]
            if head == "run" and used in RUN_NAMES:
                continue
            if head != "run" and head in defined:
                continue
            known = ", ".join([*RUN_NAMES, *defined])
            compiler.errors.append(
                (
                    ("vars", name, *inner),
                    f"variable {used!r} is not defined: vars may use {known} "
                    "(only the vars above, and no captures)",
                )
            )
        variables.append((name, compiled))
    return variables
