"""What a refusal of a misspelt name adds, so that the typo is fixed from the message alone:
the id, key or setting most likely meant (``did_you_mean``) and, for an unknown key of a
registry file or an admin API body, the keys allowed there (``unknown_key``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, get_args

from pydantic import BaseModel


def did_you_mean(
    given: str, known: Iterable[str], *, cutoff: float = 0.6, quoted: bool = False
) -> str:
    """`` (did you mean X?)`` for the one of ``known`` that ``given`` most likely misspells,
    or "" when none is alike enough. ``cutoff`` is difflib's: its 0.6 takes a word a few
    letters off; an id is offered only a letter or two off (0.8 and more), as a long one
    shares its start with all of its kind. ``quoted`` shows X as the message shows the name
    it corrects (``'name'``)."""
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=cutoff)
    if not close:
        return ""
    return f" (did you mean {close[0]!r}?)" if quoted else f" (did you mean {close[0]}?)"


def unknown_key(root: Any, loc: Sequence[Any]) -> str:
    """The refusal of key ``loc[-1]`` in a document of type ``root`` (a pydantic model, or a
    list or union of them), ``loc`` being pydantic's path to it:
    ``unknown key 'nmae' (did you mean 'name'?); allowed: id, name, enabled``."""
    key = str(loc[-1])
    message = f"unknown key {key!r}"
    model = _model_at(root, loc[:-1])
    if model is None:
        return message
    allowed = [field.alias or name for name, field in model.model_fields.items()]
    # A key cut short ("grace" for grace_seconds) is too unlike for difflib alone.
    close = difflib.get_close_matches(key, allowed, n=1) or [
        name for name in allowed if len(key) >= 3 and name.startswith(key)
    ]
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return f"{message}; allowed: {', '.join(allowed)}"


def _model_at(root: Any, path: Sequence[Any]) -> type[BaseModel] | None:
    model = _model_in(root)
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):  # an item of a list: the list's model is already the item's
            continue
        field = model.model_fields.get(str(part)) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model ``annotation`` holds: itself, or that of ``list[...]``, ``X | None``..."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
