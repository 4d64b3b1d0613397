"""Scenario YAML parsed with the line of every key and item; templates survive flow mappings."""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.reader import Reader
from yaml.resolver import Resolver

from hub.core.limits import budget_of
from hub.core.yamlsafe import SafeValues, SafeValuesLoader
from hub.replay.compiler import Loc
from hub.replay.problems import ScenarioLoadError
from hub.replay.sources import yaml_problem

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: its own parser alone
    FAST_PARSER: type | None = None
else:
    FAST_PARSER = CParser

    class _Fast(CParser, SafeValues, Resolver):
        """libyaml's scanner and parser, PyYAML's constructor and resolver."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeValues.__init__(self)
            Resolver.__init__(self)


# A template in a plain YAML value inside a flow mapping breaks the YAML ("{" opens a
# mapping there): ``headers: {X-Road-Issue: KYC-{{ run.iteration }}}``, as written in the
# product's spec, was "bad YAML". Templates are masked with private-use characters of the
# same length (so errors keep their columns) while the YAML is parsed, and put back after.
TEMPLATE = re.compile(r"\{\{[^{}\n]*\}\}")
MASKED = re.compile("\ue000[^\ue002]*\ue002")
MASK_CHARS = ("\ue000", "\ue001", "\ue002")


def _mask(text: str) -> tuple[str, dict[str, str]]:
    if any(c in text for c in MASK_CHARS):
        return text, {}  # the file uses these characters itself: parsed as it is
    originals: dict[str, str] = {}

    def token(match: re.Match[str]) -> str:
        n = len(originals)
        if n >= 0x1000:
            return match.group()
        masked = "\ue000" + chr(0xE100 + n)
        masked += "\ue001" * (len(match.group()) - len(masked) - 1) + "\ue002"
        originals[masked] = match.group()
        return masked

    return TEMPLATE.sub(token, text), originals


def _unmask(value: Any, originals: dict[str, str]) -> Any:
    if isinstance(value, str):
        if "\ue000" not in value:
            return value
        return MASKED.sub(lambda m: originals.get(m.group(), m.group()), value)
    if isinstance(value, dict):
        return {_unmask(k, originals): _unmask(v, originals) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_unmask(v, originals) for v in value)
    return value


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int], list[tuple[Loc, str]]]:
    """The document, the line of every key and item, and any duplicate keys."""
    text, originals = _mask(text)
    data, lines, duplicates = _parse_masked(text, file)
    if not originals:
        return data, lines, duplicates
    return (
        _unmask(data, originals),
        {_unmask(loc, originals): line for loc, line in lines.items()},
        [(_unmask(loc, originals), _unmask(m, originals)) for loc, m in duplicates],
    )


def _parse_masked(text: str, file: str) -> tuple[Any, dict[Loc, int], list[tuple[Loc, str]]]:
    with _no_collection():
        parsed = _parse_fast(text)
        node, data = parsed if parsed is not None else _parse_slow(text, file)
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, str]] = []
        if node is not None:
            # Without aliases a file has fewer values than characters; aliases of aliases
            # ("billion laughs") multiply them, and each is walked, checked and compiled.
            budget = [budget_of(text)]
            try:
                _walk(node, (), lines, duplicates, (), budget)
            except _TooLarge as exc:
                where = ".".join(str(p) for p in exc.loc)
                raise ScenarioLoadError(
                    [
                        f"{file}:{exc.line}: YAML aliases at {where} make this file hold more "
                        f"than {budget_of(text):,} values, far more than it writes out; "
                        "refer to each anchor fewer times (an alias of a list of aliases "
                        "multiplies them), or write the values out"
                    ]
                ) from None
            except _RecursiveAlias as exc:
                where = ".".join(str(p) for p in exc.loc)
                raise ScenarioLoadError(
                    [
                        f"{file}:{exc.line}: recursive YAML alias at {where}: it refers to the "
                        f"anchor at line {exc.anchor_line} that contains it"
                    ]
                ) from None
    return data, lines, duplicates


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while a file's nodes and values are made.

    The tens of thousands of nodes of a long file set it going again and again, over a
    heap that only grew: it took 0.3 of the 0.45 s the nodes of 2000 steps took to make
    from libyaml's events. Nothing made here is garbage before the file is read.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse_fast(text: str) -> tuple[Any, Any] | None:
    """The node tree and the document, parsed by libyaml; None if not to be had so.

    PyYAML's own scanner and parser, in Python, took 2.8 of the 3.2 s a scenario of 2000
    steps took to load (cProfile). A file libyaml refuses is parsed again by PyYAML, for
    its words, which the hints below read; so is a file with a tab or a character PyYAML's
    reader refuses, which libyaml may take, or with an anchor (``_compose``).
    """
    if FAST_PARSER is None or "\t" in text or Reader.NON_PRINTABLE.search(text):
        return None
    loader = _Fast(text)
    try:
        node = _compose(loader)
        if node is _CAREFUL:
            return None
        return node, loader.construct_document(node) if node is not None else None
    except (yaml.YAMLError, UnicodeError):
        return None
    finally:
        loader.dispose()


_CAREFUL = ScalarNode("", "")  # what _compose answers for a file it leaves to PyYAML
_NO_KEY = ScalarNode("", "")  # a mapping's next node is a key
_NODE_EVENTS = (ScalarEvent, MappingStartEvent, SequenceStartEvent)


def _compose(loader: Any) -> Any:
    """The nodes of libyaml's events, as PyYAML's composer makes them, but in a loop.

    libyaml's own composer recursed in C: a file nested some ten thousand deep overflowed
    the stack and the process died; PyYAML's, in Python, took twice as long as this one.
    Anchors and aliases, and a second document, are left to PyYAML (``_CAREFUL``).
    """
    get, resolve = loader.get_event, loader.resolve
    get()  # the stream's start
    if isinstance(get(), StreamEndEvent):  # else the document's start
        return None
    resolved: dict[tuple[str, Any], str] = {}  # the same text, the same tag: asked once
    stack: list[list[Any]] = []  # [collection, a mapping's key waiting for its value]
    while True:
        event = get()
        kind = type(event)
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            node = stack.pop()[0]
            node.end_mark = event.end_mark
        elif kind not in _NODE_EVENTS or event.anchor is not None:
            return _CAREFUL  # an alias, or an anchor
        elif kind is ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                key = (event.value, event.implicit)
                tag = resolved.get(key)
                if tag is None:
                    tag = resolved[key] = resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        else:
            cls = MappingNode if kind is MappingStartEvent else SequenceNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(cls, None, event.implicit)
            stack.append([cls(tag, [], event.start_mark, None, event.flow_style), _NO_KEY])
            continue
        if not stack:
            break
        frame = stack[-1]
        if isinstance(frame[0], SequenceNode):
            frame[0].value.append(node)
        elif frame[1] is _NO_KEY:
            frame[1] = node
        else:
            frame[0].value.append((frame[1], node))
            frame[1] = _NO_KEY
    get()  # the document's end
    return node if isinstance(get(), StreamEndEvent) else _CAREFUL


def _parse_slow(text: str, file: str) -> tuple[Any, Any]:
    """The node tree and the document, parsed by PyYAML; ScenarioLoadError in its words."""
    loader = None
    try:
        # The loader checks every character as it is made: a NUL or an ESC in the file
        # raised out of here, a traceback instead of the line that holds it.
        loader = SafeValuesLoader(text)
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        raise ScenarioLoadError([_unprintable(file, text, exc)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        if mark is not None:
            rows = text.splitlines()
            hint = _quote_hint(rows[mark.line] if mark.line < len(rows) else "")
            detail += hint or _indent_hint(problem)
        raise ScenarioLoadError([f"{where}: bad YAML: {detail}"]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _indent_hint(problem: str) -> str:
    """What PyYAML's words for a misindented line ("expected <block end>, but found
    '<block mapping start>'") mean in the file."""
    if problem.startswith("expected <block end>"):
        return (
            "; check this line's indentation: a key lines up with the other keys of its "
            "mapping, a '- ' with the other items of its list"
        )
    if problem.startswith("found character '\\t'"):
        # An editor that indents with tabs: PyYAML names the character, not the rule.
        return "; YAML indents with spaces, not tabs: replace this line's tabs with spaces"
    if problem == "mapping values are not allowed here":
        return (
            "; a key indented deeper than the key above it, or a value holding ': ' that "
            "needs quotes"
        )
    return ""


def _unprintable(file: str, text: str, error: yaml.reader.ReaderError) -> str:
    """A character YAML does not allow in a file (NUL, ESC, ...), with its line and column."""
    said, line, column = yaml_problem(error, text)
    code = error.character
    escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return (
        f"{file}:{line}:{column}: bad YAML: {said} files; remove it, or write it as an "
        f'escape in double quotes ("{escape}")'
    )


# An unquoted JSONPath as a value: ``cid: $.items[0].id`` inside ``{ }``, where YAML reads
# "[" as the start of a list and "," as the end of the value.
_UNQUOTED_PATH = re.compile(r"(?:^|[{,\s])[\w.-]+:\s+(\$[^\s,{}'\"]*)")


# An unquoted JSONPath as a key: ``json: {$.items[0].id: x}``, as the docs' ``{$.match: true}``
# invites.
_UNQUOTED_KEY = re.compile(r"[{,]\s*(\$[^\s,{}'\"]*?):(?:\s|$)")


def _quote_hint(line: str) -> str:
    match = _UNQUOTED_PATH.search(line)
    if match is None:
        match = next((m for m in _UNQUOTED_KEY.finditer(line) if "[" in m.group(1)), None)
    if match is None or any(c in match.group(1) for c in MASK_CHARS):
        return ""
    path = match.group(1)
    # A filter's path goes on past a space or a quote: then no example of it.
    example = f', e.g. "{path}"' if path.count("[") == path.count("]") else ""
    return f"; a JSONPath holding [ ] or other YAML punctuation must be quoted{example}"


_NOT_JSON_TAGS = {f"tag:yaml.org,2002:{kind}" for kind in ("set", "binary", "omap", "pairs")}
# "\ud83d\ude00" as JSON writes an emoji: YAML reads it as two lone halves of a UTF-16
# pair, which no UTF-8 request can carry (each iteration failed on it, its whole request
# head, API key included, in the report).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate(node: yaml.Node) -> str | None:
    """What is wrong with a scalar holding a lone UTF-16 surrogate, or None."""
    if not isinstance(node, yaml.ScalarNode) or not isinstance(node.value, str):
        return None
    found = _SURROGATE.search(node.value)
    if found is None:
        return None
    return (
        f"the text holds \\u{ord(found.group()):04x}, half of a UTF-16 surrogate pair, "
        "which UTF-8 cannot carry; write the character itself, or one beyond \\uffff as "
        "\\U and 8 hex digits (e.g. \\U0001F600)"
    )


class _TooLarge(Exception):
    def __init__(self, loc: Loc, line: int) -> None:
        self.loc, self.line = loc, line


class _RecursiveAlias(Exception):
    def __init__(self, loc: Loc, line: int, anchor_line: int) -> None:
        self.loc, self.line, self.anchor_line = loc, line, anchor_line


def _walk(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, str]],
    parents: tuple[yaml.Node, ...],
    budget: list[int] | None = None,
) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            # The line of the top-level entry: deeper ones are those of the anchors, far above.
            raise _TooLarge(loc, lines[loc[:2]])
    problem = _surrogate(node)
    if problem:
        duplicates.append((loc, problem))
    if node.tag in _NOT_JSON_TAGS:
        # A set or bytes would fail, or go out as something else, only once the run began.
        kind = node.tag.rsplit(":", 1)[-1]
        duplicates.append(
            (loc, f"YAML's !!{kind} is not a JSON-like value; use a list, a mapping or text")
        )
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        # An alias is the very node of its anchor, so a node inside itself is a cycle that
        # nothing (nor this walk, nor JSON) could ever finish.
        if any(node is parent for parent in parents):
            raise _RecursiveAlias(loc, lines[loc], node.start_mark.line + 1)
        parents = (*parents, node)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*loc, key)
            if key in seen:
                duplicates.append((child, f"key {key!r} appears twice"))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            problem = _surrogate(key_node)
            if problem:
                duplicates.append((child, problem))
            _walk(value_node, child, lines, duplicates, parents, budget)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*loc, index), item.start_mark.line + 1)
            _walk(item, (*loc, index), lines, duplicates, parents, budget)
