"""Template, JSONPath, JSON and header-name compiling, each problem kept with its location."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from hub.replay.expect import JSONPathError, compile_jsonpath
from hub.replay.templating import Template, TemplateSyntaxError, compile_value

Loc = tuple[str | int, ...]
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110's token: a header name


class _Stand(Mapping[str, Any]):
    """Stands for any variable when a templated JSONPath is checked at load time: a mapping
    to walk into, that reads as a name (not as a dict, which text renders as JSON)."""

    def __getitem__(self, key: object) -> Any:
        return self

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "x"


def _where_bad(loc: Loc, value: Any) -> Loc:
    """The location of the first bad template inside ``value`` (for nested json bodies)."""
    items = value.items() if isinstance(value, dict) else enumerate(value or [])
    if isinstance(value, dict | list):
        for key, item in items:
            try:
                compile_value(item)
            except TemplateSyntaxError:
                return _where_bad((*loc, key), item)
    return loc


class Compiler:
    """Compiles the values of a scenario's steps; ``errors`` holds what it refused, and where."""

    def __init__(self) -> None:
        self.errors: list[tuple[Loc, str]] = []
        # JSONPaths that are one whole placeholder: the variable holds the path itself.
        self.whole_paths: list[tuple[Loc, str]] = []

    def value(self, loc: Loc, value: Any, keep: re.Pattern[str] | None = None) -> Any:
        try:
            return compile_value(value, keep)
        except TemplateSyntaxError as exc:
            self.errors.append((_where_bad(loc, value), str(exc)))
            return value

    def json_value(self, loc: Loc, value: Any) -> Any:
        """``value`` as JSON has it: YAML dates as ISO text, and only text as object keys."""
        if isinstance(value, dt.date):
            # JSON has no date type: an unquoted 1949-09-22 means the text a body holds.
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            # JSON has no NaN nor infinity: it went out as null, silently.
            shown = ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
            self.errors.append((loc, f"{shown} is not a JSON number (JSON has no NaN or infinity)"))
            return value
        if isinstance(value, list):
            return [self.json_value((*loc, index), item) for index, item in enumerate(value)]
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    self.errors.append(
                        (
                            (*loc, str(key)),
                            f"key {key!r} is not text: JSON object keys are strings; "
                            f"quote it ('{_key_text(key)}')",
                        )
                    )
                out[key] = self.json_value((*loc, str(key)), item)
            return out
        return value

    def path(self, loc: Loc, source: str) -> Any:
        try:
            if "{{" not in source:
                return compile_jsonpath(source)
            template = Template(source)
            if template.whole:
                # Nothing to parse until the variable is known: checked below when it is a
                # plain var, else as it is rendered.
                self.whole_paths.append((loc, template.names[0]))
            else:
                # A templated JSONPath is parsed per iteration; check it now with stand-ins.
                compile_jsonpath(
                    template.render({n.split(".")[0]: _Stand() for n in template.names})
                )
            return template
        except (JSONPathError, TemplateSyntaxError) as exc:
            self.errors.append((loc, str(exc)))
            return None

    def pairs(self, loc: Loc, mapping: dict[str, Any] | None) -> list[tuple[str, Any]]:
        return [(str(k), self.value((*loc, k), v)) for k, v in (mapping or {}).items()]

    def header_names(self, loc: Loc, mapping: dict[str, Any] | None) -> None:
        """Refuse header names HTTP does not allow (a space, a colon, a letter with an
        accent): sent, they split or spoil the request; expected, they can never match."""
        for name in mapping or {}:
            self.header_name((*loc, name), str(name))

    def header_name(self, loc: Loc, name: str) -> None:
        if not _TOKEN.match(name):
            self.errors.append(
                (
                    loc,
                    f"{name!r} is not a valid header name: letters, digits and "
                    "!#$%&'*+-.^_`|~ only, no spaces (e.g. X-Road-UserId)",
                )
            )


def _key_text(key: Any) -> str:
    return key.isoformat() if isinstance(key, dt.date) else str(key)
