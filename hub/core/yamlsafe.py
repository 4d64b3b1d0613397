"""Reading YAML values as PyYAML's safe loader does, each refusal a YAMLError with its line."""

from __future__ import annotations

import sys
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor


class SafeValues(SafeConstructor):
    """PyYAML's safe constructor, refusing with the value's line what Python cannot make of
    a value YAML reads (a traceback from `hub registry apply` and `hub replay`, and a 500
    from the admin API, before): a whole number longer than Python reads, a date that does
    not exist."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            digits = sum(ch.isdigit() for ch in node.value)
            raise ConstructorError(
                None,
                None,
                f"a whole number of {digits} digits, longer than the "
                f"{sys.get_int_max_str_digits()} Python reads: no field takes one",
                node.start_mark,
            ) from None

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise ConstructorError(
                None,
                None,
                f"{node.value[:40]!r} is no date ({exc}); put it in quotes to give it as text",
                node.start_mark,
            ) from None

    yaml_constructors = {
        **SafeConstructor.yaml_constructors,
        "tag:yaml.org,2002:int": construct_yaml_int,
        "tag:yaml.org,2002:timestamp": construct_yaml_timestamp,
    }


class SafeValuesLoader(SafeValues, yaml.SafeLoader):
    """yaml.SafeLoader with :class:`SafeValues` for its constructor."""
