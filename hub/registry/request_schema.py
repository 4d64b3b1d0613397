"""A service's request schema: checked when it is registered (a JSON Schema whose every
``$ref`` resolves within it; a refusal says where in it), and the validator of the request
bodies the gateway checks with it."""

from __future__ import annotations

import unicodedata
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

SCHEMA_URI = "urn:hub:request-schema"  # the base of a request schema without its own $id


def request_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """The validator of a service's request bodies: ``$ref`` only within the schema.

    jsonschema fetches a remote ``$ref`` (http://...) itself unless given a registry: from
    the gateway, that was a blocking download inside an exchange, to any address the
    schema named.
    """
    return Draft202012Validator(schema, registry=Registry())


def composed_hint(validator: Draft202012Validator, doc: Any, body: bytes, where: str) -> str:
    """For a body its schema refused: a note if its text came decomposed (NFD, as some
    systems send Vietnamese) and would match composed (NFC), else "".

    The schema compares text as written, so "Nữ" decomposed is not the enum's "Nữ" though
    the two look the same; the refusal said only "'Nữ' is not one of ['Nam', 'Nữ']". Run
    on refusals alone: a body that matches costs nothing more.
    """
    if body.isascii():
        return ""
    composed = _composed(doc)
    if composed == doc:
        return ""
    try:
        if next(iter(validator.iter_errors(composed)), None) is not None:
            return ""
    except (RecursionError, Unresolvable):
        return ""
    return (
        f"; at {where} the text is decomposed (Unicode NFD), and the body would match "
        "composed: send text in NFC"
    )


def _composed(value: Any) -> Any:
    """``value`` with every string in it, keys too, in Unicode NFC."""
    if isinstance(value, str):
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_composed(v) for v in value]
    if isinstance(value, dict):
        return {_composed(k): _composed(v) for k, v in value.items()}
    return value


_TYPES = "array, boolean, integer, null, number, object or string"


def _schema_problem(exc: SchemaError) -> str:
    """Where in the schema it breaks the metaschema (``properties.name.minLength``) and how."""
    where = ".".join(str(p) for p in exc.path)
    said = exc.message
    if exc.path and exc.path[-1] == "type" and exc.validator == "anyOf":
        said = f"{exc.instance!r} is no JSON Schema type; use {_TYPES} (or a list of them)"
    elif exc.validator == "format" and exc.validator_value == "regex":
        said += " (the hub's are Python's regular expressions: no \\p{...} classes)"
    return f"at {where}: {said}" if where else said


# Levels of objects and lists in a request schema: an object property is two (properties,
# then its schema), so 50 properties nested in one another. Thousands were a 500 (jsonschema
# recursed past Python's limit); a body would be checked against it just as deep.
MAX_DEPTH = 100


def _too_deep(schema: Any) -> bool:
    stack = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def check_request_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """``schema`` if it is a JSON Schema whose every ``$ref`` resolves within it."""
    if schema is None:
        return None
    if _too_deep(schema):
        raise ValueError(
            f"request_schema nests objects and lists more than {MAX_DEPTH} levels deep; "
            "give nested parts a name under $defs and point to them with $ref"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        problem = _schema_problem(exc)
        raise ValueError(f"request_schema is not a valid JSON Schema: {problem}") from None
    resource = DRAFT202012.create_resource(schema)
    uri = resource.id() or SCHEMA_URI
    resolver = Registry().with_resource(uri, resource).resolver(base_uri=uri)

    def walk(node: Any, top: bool = False) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict) or (not top and "$id" in node):
            return  # a subschema with an $id of its own: its references are relative to it
        for keyword in ("$ref", "$dynamicRef"):
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                resolver.lookup(ref)
            except Unresolvable:
                raise ValueError(
                    f"request_schema's {keyword} {ref!r} resolves to nothing: a reference "
                    "must point inside the schema (e.g. #/$defs/name), which the hub never "
                    "downloads"
                ) from None
        for key, value in node.items():
            if key not in ("const", "enum", "default", "examples"):  # data, not schemas
                walk(value)

    walk(schema, top=True)
    return schema
