"""``{{ name }}`` templates in scenario values, compiled once and rendered per iteration.

A string that is exactly one placeholder keeps the variable's type (``limit: "{{ n }}"``
renders the integer ``n``), so captured numbers and booleans survive into bodies and
expectations; a placeholder inside longer text is rendered as text (objects and lists as
JSON). Dotted names walk into dicts and lists (``{{ child.id }}``, ``{{ items.0 }}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hub.core.hints import did_you_mean

_OPEN = "{{"
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"
_OWN = rf"\{{\{{\s*(?P<name>{_NAME})\s*\}}\}}"
_PLACEHOLDER = re.compile(_OWN)


class TemplateSyntaxError(ValueError):
    """A ``{{`` that does not open a valid placeholder."""


class MissingVariable(LookupError):
    """A placeholder names a variable the iteration does not have (yet)."""

    def __init__(self, name: str, available: list[str], lacking: str | None = None) -> None:
        self.name = name
        self.available = available
        if lacking is None:
            shown = ", ".join(sorted(available)) or "none"
            super().__init__(f"variable {name!r} is not defined (defined: {shown})")
        else:
            super().__init__(f"variable {name!r} is not defined: {lacking}")


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    head, *rest = name.split(".")
    if head not in variables:
        raise MissingVariable(name, list(variables))
    value = variables[head]
    for index, part in enumerate(rest):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            walked = ".".join([head, *rest[:index]])
            raise MissingVariable(name, list(variables), _lacking(walked, value, part))
    return value


def _lacking(walked: str, value: Any, part: str) -> str:
    """Why ``value`` (reached by ``walked``) has no ``part``: a typo in a dotted name
    (``{{ person.idd }}``) is then told by what the value does hold, not by the list of
    variables, which holds ``person`` all right."""
    if isinstance(value, Mapping):
        return no_key(walked, value, part)
    if isinstance(value, list):
        if part.isascii() and part.isdigit():
            return no_item(walked, value)
        if not value:
            return f"{walked} is an empty list"
        return f"{walked} is a list, whose items are numbered from 0"
    return f"{walked} is {kind_of(value)}, not a mapping or a list"


def no_key(walked: str, value: Mapping[str, Any], key: str) -> str:
    """A mapping (at ``walked``) without ``key``, said with the keys it has."""
    keys = [str(k) for k in value]
    if not keys:
        return f"{walked} is an empty mapping"
    hint = did_you_mean(key, keys, quoted=True)
    shown = ", ".join(keys[:20]) + (", ..." if len(keys) > 20 else "")
    return f"{walked} has no key {key!r}{hint}; its keys: {shown}"


def no_item(walked: str, value: list[Any]) -> str:
    """A list (at ``walked``) too short for an index, said with the indices it has."""
    if not value:
        return f"{walked} is an empty list"
    if len(value) == 1:
        return f"{walked} has 1 item, numbered 0"
    return f"{walked} has {len(value)} items, 0 to {len(value) - 1}"


def kind_of(value: Any) -> str:
    """What a JSON value is, in words: "a mapping", "an empty list", "text", ..."""
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    return "a number" if isinstance(value, int | float) else "text"


def as_text(value: Any) -> str:
    """``value`` as it goes into text: a header, a path, a query, a raw body."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        # A captured object in text is JSON, as it came: Python's repr ({'id': ...}) is
        # nothing a receiver can read.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return "" if value is None else str(value)


class Template:
    """A compiled string: literal parts and placeholder names, alternating."""

    __slots__ = ("source", "parts", "whole", "names")

    def __init__(self, source: str, keep: re.Pattern[str] | None = None) -> None:
        """``keep`` matches placeholders that are someone else's (a mock's templated stub
        answers ``{{ request.path.1 }}`` itself): they stay in the text as written."""
        self.source = source
        parts: list[str] = []
        position = 0
        held = ""  # literal text so far, kept placeholders included
        for match in _scan(keep).finditer(source):
            literal = source[position : match.start()]
            if _OPEN in literal:
                raise TemplateSyntaxError(_bad(source, literal))
            position = match.end()
            if match.lastgroup == "keep":
                held += literal + match.group()
                continue
            parts += [held + literal, match.group("name")]
            held = ""
        tail = source[position:]
        if _OPEN in tail:
            raise TemplateSyntaxError(_bad(source, tail))
        parts.append(held + tail)
        self.parts = parts
        self.names = parts[1::2]
        # "{{ x }}" alone renders x itself, not its text.
        self.whole = len(parts) == 3 and parts[0] == "" and parts[2] == ""

    def render(self, variables: Mapping[str, Any]) -> Any:
        if self.whole:
            return _lookup(self.parts[1], variables)
        out = []
        for index, part in enumerate(self.parts):
            out.append(as_text(_lookup(part, variables)) if index % 2 else part)
        return "".join(out)


def _scan(keep: re.Pattern[str] | None) -> re.Pattern[str]:
    """The scenario's placeholders, after (at the same place) those ``keep`` leaves alone."""
    return _PLACEHOLDER if keep is None else re.compile(f"(?P<keep>{keep.pattern})|{_OWN}")


def _bad(source: str, fragment: str) -> str:
    start = fragment.index(_OPEN)
    snippet = fragment[start : start + 30]
    return (
        f"bad template {snippet!r} in {source!r}: expected '{{{{ name }}}}' "
        "with a variable name such as cid, run.iteration or child.id"
    )


def compile_value(value: Any, keep: re.Pattern[str] | None = None) -> Any:
    """Compile every templated string inside ``value``; ``value`` itself if none is.
    ``keep``: placeholders to leave as written (``Template``)."""
    if isinstance(value, str):
        return Template(value, keep) if _OPEN in value else value
    if isinstance(value, list):
        items = [compile_value(v, keep) for v in value]
        return _Dynamic(items) if any(_is_dynamic(v) for v in items) else value
    if isinstance(value, dict):
        entries = {compile_value(k, keep): compile_value(v, keep) for k, v in value.items()}
        if any(_is_dynamic(k) or _is_dynamic(v) for k, v in entries.items()):
            return _Dynamic(entries)
        return value
    return value


class _Dynamic:
    """A list or dict with templates somewhere inside."""

    __slots__ = ("value",)

    def __init__(self, value: list[Any] | dict[Any, Any]) -> None:
        self.value = value


def _is_dynamic(value: Any) -> bool:
    return isinstance(value, Template | _Dynamic)


def render_value(compiled: Any, variables: Mapping[str, Any]) -> Any:
    """Render what :func:`compile_value` returned; plain values come back unchanged."""
    if isinstance(compiled, Template):
        return compiled.render(variables)
    if isinstance(compiled, _Dynamic):
        inner = compiled.value
        if isinstance(inner, list):
            return [render_value(v, variables) for v in inner]
        return {
            as_text(render_value(k, variables)) if isinstance(k, Template) else k: render_value(
                v, variables
            )
            for k, v in inner.items()
        }
    return compiled


def render_text(compiled: Any, variables: Mapping[str, Any]) -> str:
    """Render a compiled string field to text (headers, path, query values)."""
    return as_text(render_value(compiled, variables))


def names_at(compiled: Any, loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every placeholder name inside what :func:`compile_value` returned, in order, with
    where it is: the keys and indexes down to it (``json.b.c.1``)."""
    if isinstance(compiled, Template):
        return [(loc, name) for name in compiled.names]
    if not isinstance(compiled, _Dynamic):
        return []
    inner = compiled.value
    if isinstance(inner, list):
        return [
            found for index, item in enumerate(inner) for found in names_at(item, (*loc, index))
        ]
    out: list[tuple[tuple[Any, ...], str]] = []
    for key, item in inner.items():
        at = (*loc, key.source if isinstance(key, Template) else key)
        out += names_at(key, at) + names_at(item, at)
    return out
