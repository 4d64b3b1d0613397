"""Reading registry YAML with line numbers, so every refusal can name where to look."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError


class RegistryFileError(ValueError):
    """A registry file that cannot be applied; the message names the file, line and key."""


def decode(data: bytes, source: str, fix: str = "save it as UTF-8") -> str:
    """``data`` as text, or a refusal naming the first byte that is not UTF-8 and its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise RegistryFileError(
            f"{source}: not UTF-8 (byte 0x{byte:02x} at line {line}); {fix}"
        ) from None


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == key), None)
            if nxt is None:
                nxt = next((k for k, _ in node.value if k.value == key), None)
                return nxt or node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return node
    return node


def load(text: str, source: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse YAML text into data plus its node tree (for line numbers)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise RegistryFileError(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RegistryFileError(
            f"{source}: a registry file is a mapping with members, subsystems, services, grants"
        )
    return data, node


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    if node is None:
        return None
    return _node_at(node, loc).start_mark.line + 1


def describe(exc: ValidationError, source: str, node: yaml.Node | None) -> str:
    """One line per problem: ``file:line: services[2].endpoints[0].method: what to fix``."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        line = line_of(node, loc)
        where = f"{source}:{line}" if line else source
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
        lines.append(f"{where}: {path}: {msg}")
    return "\n".join(lines)
