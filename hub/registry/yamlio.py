"""Reading registry YAML with line numbers, so every refusal can name where to look."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from hub.core.hints import unknown_key
from hub.core.ids import IdError
from hub.core.limits import budget_of
from hub.core.yamlsafe import SafeValues

NESTED = "nested too deep to read: lists or mappings thousands of levels inside one another"
# What to do about PyYAML's complaints at the usual slips of a hand-edited file, which name
# only the parser's tokens ("<block end>"): a value holding ": ", a key indented one space
# off, a key without its colon and space.
YAML_FIXES = (
    (
        "mapping values are not allowed here",
        "a value holding ': ' goes in quotes (name: \"a: b\"), and a key is indented as the "
        "keys beside it",
    ),
    ("expected <block end>", "indent this line as the keys or list items beside it"),
    ("could not find expected ':'", "write each key as 'key: value', with a space after the colon"),
)


class RegistryFileError(ValueError):
    """A registry file that cannot be applied; the message names the file, line and key.

    ``malformed``: the file cannot be read (not UTF-8, not YAML, a key given twice) or names
    an identifier that is not well-formed (SPEC §4), which the admin API answers with a 400
    (``status``) where it answers a document read whose content is wrong with a 422.
    """

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed

    @property
    def status(self) -> int:
        """The status the admin API answers it with."""
        return 400 if self.malformed else 422


def decode(data: bytes, source: str, fix: str = "save it as UTF-8") -> str:
    """``data`` as text, or a refusal naming the first byte that is not UTF-8 and its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise RegistryFileError(
            f"{source}: not UTF-8 (byte 0x{byte:02x} at line {line}); {fix}", malformed=True
        ) from None


def _node_at(node: yaml.Node, loc: tuple[Any, ...], key_node: bool = False) -> yaml.Node:
    """The node at ``loc``; with ``key_node``, the last key's own node (where a key that is
    refused stands, rather than the block below it)."""
    for i, key in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            last = key_node and i == len(loc) - 1
            nxt = next((k if last else v for k, v in node.value if k.value == key), None)
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
        # The data is built from the node tree, not parsed again: parsing is most of the
        # time of a large file (a 5 MB one took minutes, parsed twice).
        data = None if node is None else SafeValues().construct_document(node)
    except yaml.YAMLError as exc:
        raise RegistryFileError(_yaml_error(exc, source), malformed=True) from None
    except RecursionError:
        # [[[[... thousands deep: PyYAML's parser recurses (a traceback, a 500 from the API).
        raise RegistryFileError(f"{source}: {NESTED}", malformed=True) from None
    _check_keys(node, source)
    _check_size(node, text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RegistryFileError(
            f"{source}: a registry file is a mapping with members, subsystems, services, grants"
        )
    for section in ("members", "subsystems", "services", "grants"):
        # `members:` with every entry under it commented out is YAML's null: no entries.
        if section in data and data[section] is None:
            data[section] = []
    return data, node


def _yaml_error(exc: yaml.YAMLError, source: str) -> str:
    """PyYAML's complaint with the line it noticed it at and, when that is further down, the
    line of what was left open (an unclosed ``{`` shows on the line after it)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark else source
    problem = getattr(exc, "problem", None) or str(exc)
    opened = getattr(exc, "context_mark", None)
    context = getattr(exc, "context", None) or ""  # "while parsing a flow mapping"
    if mark and opened and opened.line < mark.line and " a " in context:
        what = context.split(" a ", 1)[1]
        problem += f" (in the {what} that starts at line {opened.line + 1})"
    if "'\\t'" in problem:
        problem += "; YAML indents with spaces, not tabs"
    else:
        problem += next((f"; {fix}" for said, fix in YAML_FIXES if problem.startswith(said)), "")
    return f"{where}: not valid YAML: {problem}"


def _check_size(node: yaml.Node | None, text: str, source: str) -> None:
    """Refuse a file whose aliases expand it far past what it writes out: each value is
    validated (and checked for characters no database stores) as often as it is referred to,
    and nine levels of aliases of lists of aliases held `hub registry apply` for hours."""
    budget = budget_of(text)
    sizes: dict[int, int] = {}  # each node's values, its aliases expanded, counted once

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias: counted once, as the walk above sees it
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(key) + size(value) for key, value in node.value)
        else:
            total = 1
        sizes[id(node)] = min(total, budget + 1)  # no need to count on past the limit
        return sizes[id(node)]

    try:
        held = 0 if node is None else size(node)
    except RecursionError:
        raise RegistryFileError(f"{source}: {NESTED}", malformed=True) from None
    if held > budget:
        raise RegistryFileError(
            f"{source}: YAML aliases make this file hold more than {budget:,} values, far "
            "more than it writes out; refer to each anchor fewer times (an alias of a list "
            "of aliases multiplies them), or write the values out",
            malformed=True,
        )


def _check_keys(node: yaml.Node | None, source: str) -> None:
    """Refuse a key given twice in one mapping: YAML took the last, so `enabled: false` with
    an `enabled: true` further down the entry was silently undone."""
    seen: set[int] = set()

    def walk(node: yaml.Node, path: str) -> None:
        if id(node) in seen:  # an alias, met before (or a recursive one)
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in first:
                        where = f"{source}:{line}: {path}: " if path else f"{source}:{line}: "
                        raise RegistryFileError(
                            f"{where}the key {key.value!r} is given twice (also at line "
                            f"{first[key.value]})",
                            malformed=True,
                        )
                    first[key.value] = line
                    walk(value, f"{path}.{key.value}" if path else key.value)

    if node is not None:
        walk(node, "")


def names_bad_identifier(exc: ValidationError) -> bool:
    """Whether one of ``exc``'s errors is an identifier that is not well-formed."""
    return any(isinstance(e.get("ctx", {}).get("error"), IdError) for e in exc.errors())


def line_of(node: yaml.Node | None, loc: tuple[Any, ...], key_node: bool = False) -> int | None:
    if node is None:
        return None
    return _node_at(node, loc, key_node).start_mark.line + 1


def _given(err: Any) -> str:
    value = err.get("input")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def describe(exc: ValidationError, source: str, node: yaml.Node | None, model: Any = None) -> str:
    """One line per problem: ``file:line: services[2].endpoints[0].method: what to fix``;
    ``model`` (the document's) lets an unknown key name the keys allowed in its place."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        line = line_of(node, loc, key_node=err["type"] == "extra_forbidden")
        where = f"{source}:{line}" if line else source
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = unknown_key(model, loc)
        elif err["type"] == "model_type":  # pydantic names the model class here
            keys = (
                "client: ... and service: ..."
                if loc[:1] == ("grants",)
                else "id: ... and its other keys"
            )
            msg = f"an entry is a mapping ({keys}), not {_given(err)}"
        elif err["type"] == "list_type" and isinstance(err.get("input"), dict):
            # A section or endpoints written without the dashes of its entries.
            msg = "must be a list: start each entry with '- ' (got a mapping)"
        elif err["type"].endswith(("_type", "_parsing")):
            # YAML reads `no`, `0755`, `8010` as what they look like: say what it read.
            msg = f"{msg} (got {_given(err)})"
        lines.append(f"{where}: {path}: {msg}")
    return "\n".join(lines)
