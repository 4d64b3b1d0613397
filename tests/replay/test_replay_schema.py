"""The shipped JSON Schema matches the model, and the scenario library is valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from hub.replay.loader import load_paths
from hub.replay.schemas import SCHEMA_PATH, json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_schema_is_generated_from_the_model() -> None:
    shipped = json.loads(SCHEMA_PATH.read_text())
    assert shipped == json_schema(), "regenerate: python -m hub.replay.schemas > " + str(
        SCHEMA_PATH
    )
    jsonschema.Draft202012Validator.check_schema(shipped)


def test_library_loads_and_validates_against_the_schema() -> None:
    plans = load_paths([ROOT / "scenarios"])
    names = {p.name for p in plans}
    assert {"bank-ekyc", "birth-linked-procedure", "not-permitted", "provider-slow"} <= names
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    for file in sorted((ROOT / "scenarios").rglob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(file.read_text())))
        assert not errors, (file, errors[:1])
