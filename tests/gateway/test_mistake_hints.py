"""A refusal of a connector developer's slip points at the slip: a mistyped service code, a
form sent where JSON is asked for, a misspelt field of a body with a closed schema."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hub.gateway.body import schema_problem
from tests.gateway.conftest import (
    CLIENT,
    PROVIDER,
    Hub,
    load_registry,
    provider_app,
    registry_doc,
)
from tests.support import hub_client, make_settings, serve

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}


async def test_a_mistyped_service_code_is_told_the_one_meant(hub: Hub) -> None:
    # It said "there is no service .../citizen-lookp" and nothing more.
    r = await hub.client.get(f"/r1/{PROVIDER}/citizen-lookp/citizens/1", headers=hub.headers())
    assert r.status_code == 404 and r.headers["X-Road-Error"] == "Client.UnknownService"
    assert r.json()["message"] == (
        f"there is no service {PROVIDER}/citizen-lookp (did you mean {PROVIDER}/citizen-lookup?)"
    )
    # Nothing near: no guess.
    r = await hub.client.get(f"/r1/{PROVIDER}/zzzzzz/x", headers=hub.headers())
    assert r.json()["message"] == f"there is no service {PROVIDER}/zzzzzz"
    # A provider that is not registered is said to be the reason.
    r = await hub.client.get("/r1/VN/GOV/BCA/populaton/citizen-lookup/x", headers=hub.headers())
    assert r.status_code == 404 and r.json()["message"] == (
        "there is no service VN/GOV/BCA/populaton/citizen-lookup: no subsystem "
        f"VN/GOV/BCA/populaton is registered (did you mean {PROVIDER}?)"
    )


async def test_a_form_sent_for_json_is_told_to_send_json(hub: Hub) -> None:
    # curl -d 'id=1' got "the body is not valid JSON: unexpected character: line 1 column 1
    # (char 0)", which did not say what had been sent instead.
    headers = hub.headers(**{"Content-Type": "application/x-www-form-urlencoded"})
    r = await hub.client.post(f"/r1/{PROVIDER}/echo/echo", content=b"id=1&x=2", headers=headers)
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    message = r.json()["message"]
    assert message.startswith("the body is not valid JSON: "), message
    assert message.endswith(
        "; it reads as form fields (name=value&...): send them as one JSON object, such as "
        '{"id": "1", "x": "2"}'
    ), message
    # Broken JSON keeps the parser's words alone.
    r = await hub.client.post(f"/r1/{PROVIDER}/echo/echo", content=b"{nope", headers=headers)
    assert "form fields" not in r.json()["message"]


async def test_a_body_not_in_utf8_is_told_where(hub: Hub) -> None:
    # orjson said "str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)",
    # wherever the byte was.
    headers = hub.headers(**{"Content-Type": "application/json"})
    body = b'{"id": "1", "name": "Nguy\xe1n"}'  # Latin-1's idea of a Vietnamese letter
    r = await hub.client.post(f"/r1/{PROVIDER}/echo/echo", content=body, headers=headers)
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    assert r.json()["message"] == (
        "the body is not valid JSON: it is not UTF-8 (send the text as UTF-8): "
        "byte 0xe1 at line 1, column 26"
    )


def closed_doc(base_url: str) -> dict[str, Any]:
    doc = registry_doc(base_url)
    doc["services"].append(
        {
            "id": f"{PROVIDER}/verify",
            "endpoints": [{"method": "POST", "path": "/echo"}],
            "request_schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "full_name": {"type": "string"},
                    "date_of_birth": {"type": "string"},
                },
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
        }
    )
    doc["grants"].append({"client": CLIENT, "service": f"{PROVIDER}/verify"})
    return doc


async def test_a_misspelt_field_of_a_closed_schema_is_told_the_one_meant(
    db_url: str, tmp_path: Path
) -> None:
    async with serve(provider_app()) as base_url:
        keys = await load_registry(db_url, closed_doc(base_url))
        async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
            h = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}", **PURPOSE}

            async def said(body: dict[str, Any]) -> str:
                r = await c.post(f"/r1/{PROVIDER}/verify/echo", json=body, headers=h)
                assert r.status_code == 422, r.text
                assert r.headers["X-Road-Error"] == "Client.InvalidPayload"
                return str(r.json()["message"])

            # jsonschema's "Additional properties are not allowed ('fullname' was
            # unexpected)" named the slip but not the field meant.
            message = await said({"id": "1", "fullname": "A", "x-trace": "t"})
            assert message == (
                f"the body does not match the request schema of {PROVIDER}/verify: at (body): "
                "'fullname' (did you mean 'full_name'?) is not a field of it; it takes id, "
                "full_name, date_of_birth"
            )
            message = await said({"id": "1", "dob": "2000-01-01", "zz": 1})
            assert message.endswith(
                "'dob', 'zz' are not fields of it; it takes id, full_name, date_of_birth"
            ), message


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        ({"ids": ["ab"] * 101}, "101 items, more than the 100 it takes"),
        ({"ids": []}, "no items, fewer than the 1 it needs"),
        ({"ids": ["abcdefgh"]}, "8 characters, more than the 4 it takes"),
        ({"ids": ["a"]}, "1 character, fewer than the 2 it needs"),
    ],
)
def test_a_list_or_text_of_the_wrong_size_is_told_its_size_and_the_limit(
    doc: dict[str, Any], said: str
) -> None:
    # jsonschema said "['ab', 'ab', ... ] is too long": the whole list, and no limit.
    schema = {
        "type": "object",
        "properties": {
            "ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"type": "string", "minLength": 2, "maxLength": 4},
            }
        },
    }
    [error] = list(Draft202012Validator(schema).iter_errors(doc))
    assert schema_problem(error) == said


def test_a_value_of_none_of_a_choice_of_forms_is_named_once() -> None:
    # As a batch lookup's as_of (a date or null): jsonschema's words named the value three
    # times, and "is too long" gave no limit.
    schema = {
        "type": "object",
        "properties": {
            "as_of": {
                "anyOf": [
                    {"type": "string", "maxLength": 10, "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                    {"type": "null"},
                ]
            }
        },
    }
    [error] = list(Draft202012Validator(schema).iter_errors({"as_of": "2024-01-01T00:00:00"}))
    assert schema_problem(error) == (
        "'2024-01-01T00:00:00' meets none of the forms it may take: "
        "it does not match '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'; it has 19 characters, more than "
        "the 10 it takes; it is not of type 'null'"
    )


@pytest.mark.parametrize(
    ("sent", "missing"),
    [
        ({}, "X-Road-UserId and X-Road-Issue are missing"),
        ({"X-Road-UserId": "officer-01"}, "X-Road-Issue is missing"),
        ({"X-Road-UserId": "officer-01", "X-Road-Issue": ""}, "X-Road-Issue is missing"),
        ({"X-Road-Issue": "HS-0001"}, "X-Road-UserId is missing"),
    ],
    ids=["both", "issue", "empty-issue", "userid"],
)
async def test_a_missing_purpose_header_is_named(
    hub: Hub, sent: dict[str, str], missing: str
) -> None:
    # It said "send X-Road-UserId ... and X-Road-Issue ..." whichever one had been sent, so a
    # developer who had sent one looked for the fault in the one that was there.
    r = await hub.client.get(
        f"/r1/{PROVIDER}/citizen-lookup/citizens/1", headers=hub.headers(**sent)
    )
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.MissingPurpose"
    assert r.json()["message"] == (
        f"{PROVIDER}/citizen-lookup serves personal data, so it needs X-Road-UserId (the "
        f"officer asking) and X-Road-Issue (the case or dossier the request serves): {missing}"
    )


async def test_a_getopenapi_service_code_slip_is_told_the_code_meant(hub: Hub) -> None:
    # A mistyped code was "there is no service ...", and the full service id given as the
    # code was "not a service code: use letters, digits, ...", which hid what to send.
    url = f"/r1/{PROVIDER}/getOpenAPI"
    r = await hub.client.get(f"{url}?serviceCode=citizen-lookp", headers=hub.headers())
    assert r.status_code == 404 and r.headers["X-Road-Error"] == "Client.UnknownService"
    assert r.json()["message"] == (
        f"there is no service {PROVIDER}/citizen-lookp (did you mean citizen-lookup?)"
    )
    r = await hub.client.get(f"{url}?serviceCode={PROVIDER}/citizen-lookup", headers=hub.headers())
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    assert r.json()["message"] == (
        f"serviceCode '{PROVIDER}/citizen-lookup' is a service id: give its code alone, "
        f"serviceCode=citizen-lookup (the provider is the path's, {PROVIDER})"
    )
    for code in ("a b", "a/b"):
        r = await hub.client.get(f"{url}?serviceCode={code}", headers=hub.headers())
        assert r.json()["message"] == (
            f"serviceCode '{code}' is not a service code: use letters, digits, '-', '_' or '.'"
        )


def vietnamese_doc(base_url: str) -> dict[str, Any]:
    doc = registry_doc(base_url)
    doc["services"].append(
        {
            "id": f"{PROVIDER}/card",
            "endpoints": [{"method": "POST", "path": "/echo"}],
            "request_schema": {
                "type": "object",
                "properties": {
                    "sex": {"enum": ["Nam", "Nữ"]},
                    "province": {"const": "Thành phố Hồ Chí Minh"},
                    # "Nguyễn Văn Ả": 12 characters composed, 16 decomposed
                    "full_name": {"type": "string", "maxLength": 12},
                },
            },
        }
    )
    doc["grants"].append({"client": CLIENT, "service": f"{PROVIDER}/card"})
    return doc


async def test_vietnamese_sent_decomposed_is_told_to_send_it_composed(
    db_url: str, tmp_path: Path
) -> None:
    # "Nữ" sent decomposed (NFD, "Nu" and two combining marks) against a schema's composed
    # "Nữ": the refusal read "'Nữ' is not one of ['Nam', 'Nữ']", the two looking the same.
    nfd = {
        "sex": unicodedata.normalize("NFD", "Nữ"),
        "province": unicodedata.normalize("NFD", "Thành phố Hồ Chí Minh"),
        "full_name": unicodedata.normalize("NFD", "Nguyễn Văn Ả"),
    }
    async with serve(provider_app()) as base_url:
        keys = await load_registry(db_url, vietnamese_doc(base_url))
        async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
            h = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}", **PURPOSE}
            url = f"/r1/{PROVIDER}/card/echo"
            for field, value in nfd.items():
                r = await c.post(url, json={field: value}, headers=h)
                assert r.status_code == 422, r.text
                assert r.headers["X-Road-Error"] == "Client.InvalidPayload"
                message = r.json()["message"]
                assert message.startswith("the body does not match the request schema"), message
                assert message.endswith(
                    f"; at {field} the text is decomposed (Unicode NFD), and the body would "
                    "match composed: send text in NFC"
                ), message
                composed = unicodedata.normalize("NFC", value)
                r = await c.post(url, json={field: composed}, headers=h)
                assert r.status_code == 201, r.text  # the provider's echo
            # A body that does not match composed either is told no more than before.
            r = await c.post(url, json={"sex": unicodedata.normalize("NFD", "Nũ")}, headers=h)
            assert r.status_code == 422 and "NFD" not in r.json()["message"], r.text
