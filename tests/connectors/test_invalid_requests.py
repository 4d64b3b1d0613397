"""A request a mock's models refuse is a 422 ``{"type", "message"}`` that says what to fix.

FastAPI's own answer was ``{"detail": [{"loc": ..., "msg": ...}]}``, a list of pydantic errors
in a shape no other answer of the mocks has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import connectors
from schemas.identifiers import PERSONAL_ID_FORM

JSON = {"content-type": "application/json"}


@pytest.fixture(params=connectors.names())
async def mock(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = connectors.get(request.param).create_app(seed=42, size=200)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        yield client


async def _call(name: str, method: str, path: str, **kw: Any) -> httpx.Response:
    """One call of the mock ``name`` (as the ``mock`` fixture makes it), in process."""
    app = connectors.get(name).create_app(seed=42, size=200)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        return await client.request(method, path, **kw)


def problem(answer: httpx.Response) -> str:
    """The message of a 422 InvalidRequest (and nothing else in the body)."""
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert set(body) == {"type", "message"} and body["type"] == "InvalidRequest", body
    return body["message"]


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"error_rate": 5}, "error_rate: must be at most 1 (got 5)"),
        ({"latency_ms": -1}, "latency_ms: must be at least 0 (got -1)"),
        ({"latency_ms": "x"}, 'latency_ms: must be a valid number (got "x")'),
        ({"error_status": 200}, "error_status: must be at least 400 (got 200)"),
        ({"services": []}, "services: must be a valid dictionary (got a list)"),
        (
            {"noise": 1},
            "noise is not a field of this request; it takes latency_ms, jitter_ms, error_rate, "
            "error_status, timeout_rate, reset_rate, malformed_rate, seed, services",
        ),
        (
            {"services": {"x": {"eror_rate": 1}}},
            "services.x.eror_rate is not a field of this request (did you mean 'error_rate'?); "
            "it takes latency_ms, jitter_ms, error_rate, error_status, timeout_rate, "
            "reset_rate, malformed_rate",
        ),
        (
            {"services": {"x": {"reset_rate": 2}}},
            "services.x.reset_rate: must be at most 1 (got 2)",
        ),
        (
            {"error_rate": 0.6, "timeout_rate": 0.6},
            "reset_rate + timeout_rate + error_rate + malformed_rate must be <= 1",
        ),
    ],
)  # fmt: skip
async def test_wrong_faults_say_what_to_fix(
    mock: httpx.AsyncClient, faults: dict, message: str
) -> None:
    assert problem(await mock.put("/__faults", json=faults)) == message


async def test_several_mistakes_in_one_sentence(mock: httpx.AsyncClient) -> None:
    said = problem(await mock.put("/__faults", json={"error_rate": 5, "jitter_ms": "x"}))
    # In the model's field order, not the body's.
    assert said == (
        'jitter_ms: must be a valid number (got "x"); error_rate: must be at most 1 (got 5)'
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error_rate": ', "the body is not valid JSON: expecting value at line 1, column 16"),
        (b'{"error_rate": 0}\n{', "the body is not valid JSON: extra data at line 2, column 1"),
        (b"{'error_rate': 0}", "the body is not valid JSON: expecting property name enclosed"),
    ],
)
async def test_a_body_that_is_not_json_says_where(
    mock: httpx.AsyncClient, body: bytes, message: str
) -> None:
    assert problem(await mock.put("/__faults", content=body, headers=JSON)).startswith(message)


async def test_a_body_that_is_no_object(mock: httpx.AsyncClient) -> None:
    said = problem(await mock.put("/__faults", json=[1]))
    assert said == "the body must be a JSON object (got a list)"
    said = problem(await mock.put("/__faults"))
    assert said == "the body is missing: send a JSON object"
    text = {"content-type": "text/plain"}
    plain = await mock.put("/__faults", content=b"error_rate=1", headers=text)
    assert problem(plain) == (
        "the body must be a JSON object sent with Content-Type: application/json (got text/plain)"
    )


async def test_a_stub_body_of_null_is_not_called_missing(mock: httpx.AsyncClient) -> None:
    # JSON null was taken for no body at all: "the body is missing" to a body that was sent.
    said = problem(await mock.put("/__stubs", content=b"null", headers=JSON))
    assert said == "the body must be a JSON list of stubs ([] for none) (got null)"
    said = problem(await mock.post("/__stubs", content=b"null", headers=JSON))
    assert said == "the body must be a stub as a JSON object (got null)"
    said = problem(await mock.post("/__stubs", content=b"", headers=JSON))
    assert said == "the body is missing: send a stub as a JSON object"


async def test_a_number_json_cannot_carry_is_named_not_a_500(mock: httpx.AsyncClient) -> None:
    # Python's json writes NaN; echoing it back once broke the answer's own encoding.
    answer = await mock.put("/__faults", content=b'{"latency_ms": NaN}', headers=JSON)
    assert problem(answer) == "latency_ms: must be a finite number (got NaN)"


async def test_service_routes_answer_the_same_way() -> None:
    limit = await _call("population", "GET", "/citizens", params={"limit": 500})
    births = await _call("population", "POST", "/births", json={"full_name": "A", "sex": "male"})
    doc = (await _call("population", "GET", "/openapi.json")).json()
    assert problem(limit) == "query parameter limit: must be at most 100 (got 500)"
    assert problem(births) == "date_of_birth is required"
    # The OpenAPI document describes the 422 that is sent, not FastAPI's list of errors.
    answers = doc["paths"]["/citizens"]["get"]["responses"]
    assert answers["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {})


PERSON = "079090001234"
ADDRESS = {"province": "79", "commune": "23701", "detail": "Số 1 Lê Lợi"}
PARTY = {"kind": "citizen", "id": PERSON, "name": "Nguyễn Văn An"}
CERTIFICATE = {"code": "792412345670", "serial": "AK01234567"}


@pytest.mark.parametrize(
    ("name", "path", "body", "where"),
    [
        ("population", "/births", {"full_name": "   ", "date_of_birth": "2025-01-01", "sex": "male", "mother_id": PERSON}, "full_name"),  # noqa: E501
        ("population", "/births", {"full_name": "A", "date_of_birth": "2025-01-01", "sex": "male", "mother_id": PERSON, "ethnicity": " "}, "ethnicity"),  # noqa: E501
        ("population", "/births", {"full_name": "A", "date_of_birth": "2025-01-01", "sex": "male", "mother_id": PERSON, "nationality": "\t"}, "nationality"),  # noqa: E501
        ("population", "/deaths", {"id": PERSON, "date_of_death": "2025-01-01", "place_of_death": "  "}, "place_of_death"),  # noqa: E501
        ("population", "/residences", {"id": PERSON, "kind": "permanent", "address": ADDRESS | {"detail": "  "}}, "address.detail"),  # noqa: E501
        ("business", "/enterprises", {"name": "     ", "head_office": ADDRESS, "legal_representative": {"id": PERSON, "full_name": "A"}}, "name"),  # noqa: E501
        ("business", "/enterprises", {"name": "Công ty TNHH A", "head_office": ADDRESS, "legal_representative": {"id": PERSON, "full_name": " "}}, "legal_representative.full_name"),  # noqa: E501
        ("business", "/enterprises", {"name": "Công ty TNHH A", "head_office": ADDRESS | {"detail": " "}, "legal_representative": {"id": PERSON, "full_name": "A"}}, "head_office.detail"),  # noqa: E501
        ("land", "/parcels/w7dytcbw9u29/transfers", {"from": PARTY | {"name": " "}, "to": PARTY, "certificate": CERTIFICATE}, "from.0.name"),  # noqa: E501
        ("land", "/parcels/w7dytcbw9u29/transfers", {"from": PARTY, "to": [PARTY | {"name": "  "}], "certificate": CERTIFICATE}, "to.0.name"),  # noqa: E501
        ("insurance", "/cards", {"holder_id": PERSON, "full_name": "   "}, "full_name"),
    ],
)  # fmt: skip
async def test_a_name_or_text_of_spaces_alone_is_refused(
    name: str, path: str, body: dict, where: str
) -> None:
    # "   " passed min_length=1 and was stored as a newborn's name or an enterprise's.
    answer = await _call(name, "POST", path, json=body)
    assert f"{where}: must not be blank" in problem(answer)


# Each mock's list endpoints, with the filters they need.
LISTS = {
    "population": [("/citizens", {}), ("/citizens/changes", {})],
    "business": [("/enterprises", {})],
    "land": [("/parcels", {})],
    "insurance": [("/cards", {"holder_id": "079200317948"})],
}


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("cursor", ["zz", "-5", "", "\u00b2", "9" * 5000])
async def test_a_cursor_no_page_gave_out_is_an_invalid_request(name: str, cursor: str) -> None:
    # Population and insurance answered 422 "Unprocessable" where business and land answered
    # "InvalidRequest", and a cursor of thousands of digits was a 500 (int() refuses them).
    for path, filters in LISTS[name]:
        said = problem(await _call(name, "GET", path, params={**filters, "cursor": cursor}))
        assert "cursor" in said, said


# Each mock's list endpoints, a typo of one of their filters, and what they take.
TYPOS = {
    "population": [
        (
            "/citizens",
            {"provinc": "79"},
            "province, name, birth_year, born_before, status, household_id, limit, cursor",
        ),
        ("/citizens/changes", {"sinse": "2025-01-01"}, "since, limit, cursor"),
    ],
    "business": [
        (
            "/enterprises",
            {"representative": "079090001234"},
            "name, province, status, representative_id, limit, cursor",
        )
    ],
    "land": [
        ("/parcels", {"landuser": "079090001234"}, "province, commune, land_user, limit, cursor")
    ],
    "insurance": [
        ("/cards", {"holder_id": "079200317948", "holder": "x"}, "holder_id, limit, cursor")
    ],
}


@pytest.mark.parametrize("name", list(TYPOS))
async def test_an_unknown_query_parameter_is_named_not_ignored(name: str) -> None:
    # GET /citizens?provinc=79 answered every citizen: a scenario's search "passed" while its
    # filter was never applied.
    for path, query, takes in TYPOS[name]:
        typo = next(iter(set(query) - {"holder_id"}))
        said = problem(await _call(name, "GET", path, params=query))
        assert f"unknown query parameter '{typo}'" in said, said
        assert said.endswith(f"takes {takes}"), said
        # The typo is named even when a known parameter is wrong too.
        said = problem(await _call(name, "GET", path, params={**query, "limit": 500}))
        assert typo in said, said


@pytest.mark.parametrize(
    ("name", "path", "query", "said"),
    [
        (
            "population",
            "/citizens/079049355864?as_of=2024-02-29&as_of=2024-03-01",
            "as_of",
            "query parameter as_of is given 2 times (2024-02-29, 2024-03-01): citizen-lookup "
            "takes one value of it",
        ),
        ("population", "/citizens?province=79&province=01", "province", "citizen-search"),
        ("land", "/parcels/w7dytcbw9u29?as_of=2025-01-01&as_of=2025-01-01", "as_of", "parcel"),
    ],
)  # fmt: skip
async def test_a_query_parameter_given_twice_is_refused(
    name: str, path: str, query: str, said: str
) -> None:
    # The last one was taken, silently: a record as of another day than the first asked, a
    # search of one province of two.
    message = problem(await _call(name, "GET", path))
    assert message.startswith(f"query parameter {query} is given 2 times"), message
    assert said in message


async def test_unknown_query_parameters_are_all_named_with_a_suggestion() -> None:
    many = await _call(
        "population", "GET", "/citizens", params={"provinc": "79", "zzz": "1", "limit": 1}
    )
    lookup = await _call("population", "GET", "/citizens/079090001234", params={"fields": "id"})
    verify = await _call(
        "population", "POST", "/citizens/verify", params={"debug": "1"},
        json={"id": "1", "full_name": "A"},
    )  # fmt: skip
    fine = await _call("population", "GET", "/citizens", params={"province": "79", "limit": 1})
    assert problem(many) == (
        "unknown query parameters 'provinc' (did you mean 'province'?), 'zzz': citizen-search "
        "takes province, name, birth_year, born_before, status, household_id, limit, cursor"
    )
    assert problem(lookup) == "unknown query parameter 'fields': citizen-lookup takes as_of"
    assert problem(verify).startswith(
        "unknown query parameter 'debug': citizen-verify takes no query parameters"
    )
    assert fine.status_code == 200 and len(fine.json()["items"]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error_rate": True}, "error_rate: must be a valid number (got true)"),
        ({"latency_ms": False}, "latency_ms: must be a valid number (got false)"),
        ({"error_status": True}, "error_status: must be a valid integer (got true)"),
        ({"seed": True}, "seed: must be a valid integer (got true)"),
        ({"error_rate": "0.5"}, 'error_rate: must be a valid number (got "0.5")'),
        ({"seed": "7"}, 'seed: must be a valid integer (got "7")'),
        (
            {"services": {"x": {"timeout_rate": True}}},
            "services.x.timeout_rate: must be a valid number (got true)",
        ),
    ],
)
async def test_a_fault_value_is_a_number_not_a_boolean_or_text(
    mock: httpx.AsyncClient, body: dict, message: str
) -> None:
    # {"error_rate": true} was taken for 1.0: every call failed, and nothing said why.
    assert problem(await mock.put("/__faults", json=body)) == message
    assert (await mock.get("/__faults")).json()["error_rate"] == 0
    # Whole numbers are numbers too.
    taken = await mock.put("/__faults", json={"error_rate": 1, "latency_ms": 0, "seed": 3})
    assert taken.status_code == 200 and taken.json()["error_rate"] == 1


DATED_WRITES = [
    ("population", "/births", {"full_name": "A", "sex": "male", "mother_id": "079000000001"}),
    ("population", "/deaths", {"id": "079000000001"}),
    ("insurance", "/cards", {"holder_id": "079000000001"}),
    (
        "business",
        "/enterprises",
        {
            "name": "Công ty TNHH Sông Hồng",
            "head_office": {"province": "01", "commune": "00301", "detail": "Số 5"},
            "legal_representative": {"id": "079090000001", "full_name": "A"},
        },
    ),
]


def _with_date(name: str, body: dict, date: object) -> tuple[str, dict]:
    """The body with ``date`` as its date field, and that field's name."""
    if name == "business":
        person = {**body["legal_representative"], "date_of_birth": date}
        return "date_of_birth", {**body, "legal_representative": person}
    field = "date_of_death" if "id" in body else "date_of_birth"
    return field, {**body, field: date}


@pytest.mark.parametrize(
    ("name", "path", "body"), DATED_WRITES, ids=[p for _, p, _ in DATED_WRITES]
)
@pytest.mark.parametrize(
    ("date", "said"),
    [
        # A number was taken for a Unix time (0 registered a birth on 1970-01-01), and
        # "20240101" was refused as a datetime "that should have zero time".
        (0, "must be an ISO date, YYYY-MM-DD such as 1990-05-17 (got 0)"),
        ("20240101", "must be an ISO date, YYYY-MM-DD such as 1990-05-17 (got '20240101')"),
        ("2024-01-01T10:00:00Z", "must be an ISO date, YYYY-MM-DD such as 1990-05-17"),
        ("2024-02-30", "2024-02-30 is not a date of the calendar"),
    ],
    ids=["number", "digits", "datetime", "no such day"],
)
async def test_a_date_of_a_write_is_an_iso_date(
    name: str, path: str, body: dict, date: object, said: str
) -> None:
    field, sent = _with_date(name, body, date)
    message = problem(await _call(name, "POST", path, json=sent))
    assert message.startswith(f"{field} {said}"), message
    # The hub validates with the same rule: the request schema wants the pattern too.
    services = connectors.get(name).manifest.services
    spec = next(s for s in services if (s.method, s.path) == ("POST", path))
    assert "[0-9]{4}-[0-9]{2}-[0-9]{2}" in str(spec.request_schema())


@pytest.mark.parametrize("capital", [1e30, 10**19, 2.5])
async def test_a_charter_capital_out_of_range_is_named(capital: float) -> None:
    # 1e30 passed the hub's schema (no maximum) and the mock then spoke of "an input string".
    from schemas.business import EnterpriseRegistration

    body = {
        "name": "Công ty TNHH A",
        "head_office": ADDRESS,
        "legal_representative": {"id": PERSON, "full_name": "A"},
        "charter_capital_vnd": capital,
    }
    said = problem(await _call("business", "POST", "/enterprises", json=body))
    assert said.startswith("charter_capital_vnd: must be"), said
    schema = EnterpriseRegistration.model_json_schema()["properties"]["charter_capital_vnd"]
    assert {"maximum": 10**18} in [{"maximum": s.get("maximum")} for s in schema["anyOf"]]


async def test_a_mistyped_field_is_named_with_the_one_meant(mock: httpx.AsyncClient) -> None:
    # "leave it out" was the advice: a stub without its mistyped "status" answers 200.
    stub = {"method": "GET", "path": "/x", "stauts": 404}
    said = problem(await mock.put("/__stubs", json=[stub]))
    assert said.startswith(
        "stubs[0].stauts is not a field of this request (did you mean 'status'?); it takes id, "
        "method, path, "
    ), said
    said = problem(await mock.put("/__faults", json={"eror_rate": 0.5}))
    assert said.startswith("eror_rate is not a field of this request (did you mean 'error_rate'?)")


async def test_a_mistyped_field_of_a_service_is_named_with_the_one_meant() -> None:
    body = {"id": "079203001234", "fullname": "Nguyễn Văn An"}
    said = problem(await _call("population", "POST", "/citizens/verify", json=body))
    assert "fullname is not a field of this request (did you mean 'full_name'?); it takes id, " in (
        said
    ), said


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/__stubs", b'[{"method": "GET", "path": "/v2/x", "text": "\\ud800"}]'),
        ("POST", "/__stubs", b'{"method": "GET", "path": "/v2/\\ud800"}'),
        ("POST", "/__stubs", b'{"method": "GET", "path": "/v2/x", "query": {"a": "\\udc00"}}'),
        ("PUT", "/__faults", b'{"\\ud800": 1}'),
        ("PUT", "/__scenarios/transfer", b'{"state": "\\ud83d"}'),
    ],
)  # fmt: skip
async def test_a_lone_surrogate_is_no_json_not_a_500(
    mock: httpx.AsyncClient, method: str, path: str, body: bytes
) -> None:
    # "\ud800" is half of a UTF-16 pair, which Python's json reads; echoed in a message, or
    # kept in a stub, it then failed the answer's UTF-8 (a 500), GET /__stubs included.
    answer = await mock.request(method, path, content=body, headers=JSON)
    said = problem(answer)
    assert said.startswith("the body is not valid JSON: a lone surrogate, half of a utf-16 pair")
    assert "(write the character itself, or both halves of the pair): \\u" in said, said
    listed = await mock.get("/__stubs")
    assert listed.status_code == 200 and listed.json() == []


async def test_a_lone_surrogate_in_a_service_body_is_no_json() -> None:
    body = b'{"id": "079203001234", "full_name": "Nguy\\u1ec5n \\ud800"}'
    said = problem(
        await _call("population", "POST", "/citizens/verify", content=body, headers=JSON)
    )
    # A pair (an emoji) is a character: read as ever.
    pair = b'{"id": "079203001234", "full_name": "An \\ud83d\\ude00"}'
    paired = await _call("population", "POST", "/citizens/verify", content=pair, headers=JSON)
    assert said == (
        "the body is not valid JSON: a lone surrogate, half of a utf-16 pair and no character "
        "(write the character itself, or both halves of the pair): \\ud800 at line 1, column "
        "50 (character 49)"
    )
    assert paired.status_code == 200 and paired.json() == {"match": False}


async def test_a_body_that_is_not_utf8_says_so(mock: httpx.AsyncClient) -> None:
    # It was a 400 "There was an error parsing the body", which said nothing of what to fix.
    body = '{"services": {"Phú Yên": {}}}'.encode("latin-1")  # as a Windows editor saves it
    said = problem(await mock.put("/__faults", content=body, headers=JSON))
    assert said == (
        "the body is not valid JSON: it is not utf-8 (send the text as utf-8): byte 0xfa at "
        "line 1, column 18 (character 17)"
    )


async def test_a_huge_value_is_quoted_cut_in_the_refusal(api: httpx.AsyncClient) -> None:
    # A 60,000-character id came back whole in the 400's message.
    answer = await api.get("/citizens/" + "7" * 60_000)
    assert answer.status_code == 400, answer.text[:200]
    message = answer.json()["message"]
    assert len(message) < 400, message[:400]
    assert f"'{'7' * 40}...' (60,000 characters)" in message
    assert message.endswith("is not a personal identification number: " + PERSONAL_ID_FORM)
