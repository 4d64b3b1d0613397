"""How near a path comes to a stub's or a service's, for the 404 of a call nothing answered;
and the name a misspelt one was likely meant to be (``did_you_mean``).

WireMock names the closest stub of an unmatched request whatever its URL; the mock does so
for a stub of a nearby path (``/citizens/0792...`` for a call of ``/citizen/0792...``) and for
a service's path template (``/citizens/{id}``). ``edit_distance`` is a Levenshtein distance
that stops past a small limit (``near_limit``); ``PathShape`` compares a ``path_pattern`` or
a template piece by piece between its ``/``s. Only a 404 asks, so a call that is answered
pays nothing for it.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable


def did_you_mean(given: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`` (did you mean 'X'?)`` for the one of ``known`` that ``given`` most likely
    misspells, or "" when none is alike enough (``cutoff``: difflib's ratio)."""
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def edit_distance(a: str, b: str, limit: int) -> int:
    """The Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it is more than
    ``limit``: only a band of ``2 * limit + 1`` cells of each row is worked out, and a row
    past the limit ends it, so a path far from another costs a few rows, not its length
    squared."""
    if a == b:
        return 0
    far = limit + 1
    if abs(len(a) - len(b)) > limit:
        return far
    # What they share at their ends costs nothing: /citizen/0792... and /citizens/0792...
    # leave "" and "s".
    start = len(os.path.commonprefix([a, b]))
    a, b = a[start:], b[start:]
    end = len(os.path.commonprefix([a[::-1], b[::-1]]))
    a, b = a[: len(a) - end], b[: len(b) - end]
    if not a or not b:
        return min(len(a) + len(b), far)
    width = len(b)
    row = [j if j < far else far for j in range(width + 1)]
    for i, char in enumerate(a, 1):
        low, high = max(1, i - limit), min(width, i + limit)
        new = [far] * (width + 1)
        left = new[low - 1] = i if i < far and low == 1 else far
        best = left
        for j in range(low, high + 1):
            cell = row[j - 1] if char == b[j - 1] else row[j - 1] + 1
            if row[j] + 1 < cell:
                cell = row[j] + 1
            if left + 1 < cell:
                cell = left + 1
            if cell > far:
                cell = far
            new[j] = left = cell
            if cell < best:
                best = cell
        if best > limit:
            return far
        row = new
    return row[width] if row[width] < far else far


def pairs_of(text: str) -> frozenset[str]:
    """The pairs of neighbouring characters of ``text``."""
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def near_limit(path: str) -> int:
    """The edits a path may be from a stub's or a service's for it to be named as meant:
    one for a short path, up to three for a long one."""
    return min(3, max(1, len(path) // 8))


class PathShape:
    """A ``path_pattern`` or a service's path template (``/citizens/{id}``) cut at its ``/``s,
    to tell how near a path comes to matching it: each literal segment by its edit distance,
    and a segment of an expression that does not take the path's as all the edits allowed.

    A pattern with a ``/`` inside a group (``/(a|b/c)``) is not cut: it is never named across
    paths. A last segment that is an expression (``/citizens/.*``) takes the rest of the path,
    as the expression would.
    """

    def __init__(self, segments: list[str | re.Pattern[str]]) -> None:
        self.segments = segments

    @classmethod
    def of_pattern(cls, pattern: str) -> PathShape | None:
        parts = _cut_at_slashes(pattern)
        if parts is None:
            return None
        segments: list[str | re.Pattern[str]] = []
        for part in parts:
            if not _REGEX_SYNTAX.search(part):
                segments.append(part)
                continue
            try:
                segments.append(re.compile(part))
            except re.error:  # a piece of a valid pattern may not stand alone: "a{1" ...
                return None
        return cls(segments)

    @classmethod
    def of_template(cls, template: str) -> PathShape:
        segments: list[str | re.Pattern[str]] = []
        for part in template.split("/"):
            if "{" not in part:
                segments.append(part)
                continue
            pieces = re.split(r"\{[^{}]*\}", part)
            segments.append(re.compile("[^/]+".join(re.escape(p) for p in pieces)))
        return cls(segments)

    def distance(self, path: str, limit: int) -> int:
        """How many edits ``path`` is from matching, or ``limit + 1`` once more."""
        parts = path.split("/")
        far = limit + 1
        if len(parts) != len(self.segments):
            last = self.segments[-1]
            if len(parts) < len(self.segments) or isinstance(last, str):
                return far
            parts = [*parts[: len(self.segments) - 1], "/".join(parts[len(self.segments) - 1 :])]
        # The cheap bounds first, so that of a thousand stubs few get their edits worked out:
        # an expression's segment that fails takes every edit allowed, a literal one at least
        # as many as the characters one of the two has and the other lacks.
        used, bound, unequal = 0, 0, []
        for segment, part in zip(self.segments, parts, strict=True):
            if isinstance(segment, str):
                if segment != part:
                    chars = set(part)
                    bound += max(len(chars.difference(segment)), len(set(segment) - chars))
                    unequal.append((segment, part))
            elif segment.fullmatch(part) is None:
                used += limit
            if used + bound > limit:
                return far
        for segment, part in unequal:
            used += edit_distance(segment, part, limit - used)
            if used > limit:
                return far
        return used


_REGEX_SYNTAX = re.compile(r"[.^$*+?{}\[\]\\|()]")


def _cut_at_slashes(pattern: str) -> list[str] | None:
    """``pattern``'s pieces between the ``/``s outside its groups and classes; None when a
    ``/`` is inside a group."""
    parts: list[str] = []
    current: list[str] = []
    depth, in_class, escaped = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]" or not current or current[-1] == "["
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "/":
            if depth:
                return None
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts
