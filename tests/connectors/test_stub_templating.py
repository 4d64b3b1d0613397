"""Templated stub answers (``"template": true``): a stub that echoes what it was asked."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectors
from connectors.kit.stubs import StubError, read_stubs
from tests.support import serve

NAME = "Nguyễn Văn An"
PEOPLE = {"method": "ANY", "path_pattern": "/v2/people/.*", "template": True}


async def put(api: httpx.AsyncClient, stubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await api.put("/__stubs", json=stubs)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_each_placeholder_renders(api: httpx.AsyncClient) -> None:
    body = {
        "path": "{{ request.path }}",
        "first": "{{ request.path.0 }}",
        "who": "{{request.path.2}}",
        "method": "{{ request.method }}",
        "page": "{{ request.query.page }}",
        "tenant": "{{ request.headers.X-TENANT }}",
        "item": "{{ request.json.items.1.id }}",
        "found": "{{ jsonpath '$.items[0].id' }}",
        "filtered": "{{ jsonpath \"$.items[?(@.id == 'b')].id\" }}",
        "at": "{{ now }}",
        "ref": "{{ uuid }}",
        "said": "{{ request.method }} {{ request.path }}?page={{ request.query.page }}",
    }
    headers = {"X-Ref": "{{ uuid }}", "X-Who": "{{ request.path.2 }}"}
    await put(api, [{**PEOPLE, "headers": headers, "body": body}])
    sent = {"items": [{"id": 7}, {"id": "b"}]}
    answer = await api.post("/v2/people/an?page=2&page=3", json=sent, headers={"x-tenant": "t1"})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    at = got.pop("at")
    ref = got.pop("ref")
    assert got == {
        "path": "/v2/people/an",
        "first": "v2",
        "who": "an",
        "method": "POST",
        "page": "2",  # the first value of a parameter given twice
        "tenant": "t1",
        "item": "b",
        "found": 7,
        "filtered": "b",
        "said": "POST /v2/people/an?page=2",
    }
    assert at.endswith("Z") and dt.datetime.fromisoformat(at).tzinfo == dt.UTC
    # One uuid per answer, so the body's and a header's agree.
    assert str(uuid.UUID(ref)) == ref == answer.headers["x-ref"]
    assert answer.headers["x-who"] == "an"
    again = await api.post("/v2/people/an", json=sent)
    assert again.json()["ref"] != ref


async def test_text_and_whole_body_echo(api: httpx.AsyncClient) -> None:
    await put(
        api,
        [
            {**PEOPLE, "method": "PUT", "text": "{{ request.method }} {{ request.json.name }}"},
            {**PEOPLE, "method": "POST", "body": {"echo": "{{ request.json }}", "keys": "x"}},
        ],
    )
    text = await api.put("/v2/people/an", json={"name": "An", "age": 30})
    assert text.text == "PUT An" and text.headers["content-type"].startswith("text/plain")
    echoed = await api.post("/v2/people/an", json={"name": "An", "age": 30})
    assert echoed.json() == {"echo": {"name": "An", "age": 30}, "keys": "x"}


async def test_a_whole_placeholder_keeps_the_json_type(api: httpx.AsyncClient) -> None:
    fields = ("amount", "count", "big", "paid", "note", "tags", "payer")
    body: dict[str, Any] = {name: f"{{{{ request.json.{name} }}}}" for name in fields}
    body["ids"] = "{{ jsonpath '$.items[*].id' }}"
    body["in_text"] = "{{ request.json.amount }} VND"
    body["nested"] = [{"at": ["{{ request.json.count }}"]}]
    body["{{ request.json.note }}"] = "keys are not templates"
    await put(api, [{**PEOPLE, "body": body}])
    sent = {
        "amount": 12.5,
        "count": 3,
        "big": 2**70,
        "paid": False,
        "note": None,
        "tags": ["a"],
        "payer": {"name": NAME},
        "items": [{"id": 1}, {"id": "2"}],
    }
    got = (await api.post("/v2/people/an", json=sent)).json()
    assert {name: got[name] for name in fields} == {name: sent[name] for name in fields}
    assert got["paid"] is False and isinstance(got["count"], int)
    assert got["ids"] == [1, "2"]  # several matches: the list of them
    assert got["in_text"] == "12.5 VND"
    assert got["nested"] == [{"at": [3]}]
    assert got["{{ request.json.note }}"] == "keys are not templates"


async def test_a_value_not_there_renders_as_empty_text(api: httpx.AsyncClient) -> None:
    body = {
        "query": "{{ request.query.page }}",
        "header": "{{ request.headers.x-missing }}",
        "segment": "{{ request.path.9 }}",
        "member": "{{ request.json.a.b.0 }}",
        "found": "{{ jsonpath '$.nothing' }}",
        "said": "<{{ request.json.a }}>",
    }
    await put(api, [{**PEOPLE, "headers": {"X-Page": "{{ request.query.page }}"}, "body": body}])
    empty = dict.fromkeys(body, "") | {"said": "<>"}
    for sent in ({"content": b"not json"}, {"json": {"a": 1}}, {"content": b'{"a": NaN}'}):
        answer = await api.post("/v2/people/an", **sent)
        assert answer.status_code == 200, answer.text
        assert answer.json() == empty | {"said": "<1>" if "json" in sent else "<>"}
        assert answer.headers["x-page"] == ""


async def test_vietnamese_names_in_the_path_and_body(api: httpx.AsyncClient) -> None:
    body = {"who": "{{ request.path.2 }}", "name": "{{ request.json.full_name }}"}
    headers = {"Location": "/v2/people/{{ request.path.2 }}"}
    await put(api, [{**PEOPLE, "status": 201, "headers": headers, "body": body}])
    # A "/" encoded in a segment stays in it: segments are split first, then decoded.
    answer = await api.post("/v2/people/Nguy%E1%BB%85n%2FAn", json={"full_name": NAME})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"who": "Nguyễn/An", "name": NAME}
    # A header carries printable ASCII: what is beyond it is percent-encoded (UTF-8).
    assert answer.headers["location"] == "/v2/people/Nguy%E1%BB%85n/An"


async def test_literal_braces_stay_without_template(api: httpx.AsyncClient) -> None:
    plain = {"method": "GET", "path": "/v2/plain", "headers": {"X-T": "{{ uuid }}"}}
    await put(
        api,
        [
            {**plain, "body": {"a": "{{ request.path }}", "b": "{{ not even a placeholder"}},
            {"method": "GET", "path": "/v2/text", "text": "}} {{ request.pth }}"},
            {**PEOPLE, "text": r"\{{ request.path }} is {{ request.path }}, \}} a brace"},
        ],
    )
    literal = await api.get("/v2/plain")
    assert literal.json() == {"a": "{{ request.path }}", "b": "{{ not even a placeholder"}
    assert literal.headers["x-t"] == "{{ uuid }}"
    assert (await api.get("/v2/text")).text == "}} {{ request.pth }}"
    escaped = await api.get("/v2/people/an")
    assert escaped.text == "{{ request.path }} is /v2/people/an, }} a brace"


@pytest.mark.parametrize(
    ("stub", "said"),
    [
        (
            {"body": {"items": [{"id": "{{ request.pth }}"}]}},
            "body.items[0].id: unknown placeholder {{ request.pth }}",
        ),
        ({"text": "hi {{ request.path "}, "text: unbalanced braces: '{{' at character 3"),
        ({"text": "a }} b"}, "text: unbalanced braces: '}}' at character 2"),
        ({"text": "{{ a {{ uuid }}"}, "text: unbalanced braces: '{{' at character 0"),
        ({"headers": {"X-A": "{{ request.json. }}"}}, "headers.X-A: unknown placeholder"),
        (
            {"headers": {"Set-Cookie": ["a=1", "b={{ now() }}"]}},
            "headers.Set-Cookie[1]: unknown placeholder {{ now() }}",
        ),
        (
            {"body": {"a": "{{ jsonpath '$.items[' }}"}},
            "body.a: bad JSONPath in {{ jsonpath '$.items[' }}",
        ),
        ({"body": "{{ jsonpath 'items' }}"}, "body: bad JSONPath in {{ jsonpath 'items' }}"),
        ({"body": "{{ jsonpath $.a }}"}, "give the JSONPath in quotes"),
        ({"body": "{{ }}"}, "body: empty placeholder {{ }}"),
        ({"body": "{{{ request.path }}}"}, "unknown placeholder {{{ request.path }}"),
        ({"body": "{{ request.path.-1 }}"}, "unknown placeholder {{ request.path.-1 }}"),
        ({"body": "{{ request.headers.a b }}"}, "is not a header name"),
        ({"template": "yes", "text": "x"}, "template: must be"),
    ],
)
async def test_bad_templates_are_refused_naming_the_field(
    api: httpx.AsyncClient, stub: dict[str, Any], said: str
) -> None:
    given = {**PEOPLE, **stub}
    for answer in (
        await api.post("/__stubs", json=given),
        await api.put("/__stubs", json=[given]),
    ):
        assert answer.status_code == 422, answer.text
        assert said in answer.json()["message"], answer.json()
    assert (await api.get("/__stubs")).json() == []


async def test_the_list_and_journal_show_the_template(api: httpx.AsyncClient) -> None:
    stub = {**PEOPLE, "body": {"token": "{{ request.headers.authorization }}"}}
    [shown] = await put(api, [stub])
    assert shown["template"] is True and shown["body"] == stub["body"]
    answer = await api.post(
        "/v2/people/an", json={"password": "hunter2"}, headers={"Authorization": "Bearer sk-1"}
    )
    assert answer.json() == {"token": "Bearer sk-1"}  # what the test asked the mock to echo
    [listed] = (await api.get("/__stubs")).json()
    assert listed["body"] == stub["body"] and listed["hits"] == 1
    [seen] = (await api.get("/__requests")).json()["items"]
    assert seen["stub"] == "s1" and seen["headers"]["authorization"] == "Bearer [redacted]"
    assert "hunter2" not in seen["body_preview"]
    # What GET shows can be PUT back, template and all.
    [again] = await put(api, [listed])
    assert again["template"] is True and again["body"] == stub["body"]
    plain = (await put(api, [{"method": "GET", "path": "/a"}]))[0]
    assert "template" not in plain  # shown only when given, as the other optional fields


@pytest.fixture
async def mock() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The population mock served by uvicorn on a free port, and a client of it."""
    app = connectors.get("population").create_app(seed=42)
    async with (
        serve(app, ws="none", timeout_graceful_shutdown=1) as base,
        httpx.AsyncClient(base_url=base, timeout=5.0) as client,
    ):
        yield client, base


async def test_header_values_beyond_ascii_are_percent_encoded_on_the_wire(
    mock: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = mock
    headers = {"X-Note": "{{ request.query.note }}", "X-Name": "{{ request.json.name }}"}
    await put(client, [{**PEOPLE, "headers": headers, "text": "{{ request.query.note }}"}])
    # A line break in a header would split the answer: it is sent as %0A, never a 500.
    answer = await client.post(
        "/v2/people/an", params={"note": "a\r\nX-Evil: 1"}, json={"name": f" {NAME}\t"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-note"] == "a%0D%0AX-Evil: 1" and "x-evil" not in answer.headers
    assert answer.headers["x-name"] == "Nguy%E1%BB%85n V%C4%83n An"  # ends trimmed, as HTTP does
    assert answer.text == "a\r\nX-Evil: 1"  # the body is no header: as given


@pytest.mark.parametrize(
    "sent",
    [
        b'{"name": "\\ud800"}',  # a lone surrogate: no UTF-8 answer could carry it
        # Deeper than a stub's own body may nest: put in one, the answer could not serialise.
        b'{"name": "An", "a": ' + b"[" * 150 + b"]" * 150 + b"}",
        # A number past a double's range, which Python reads as inf: echoed, the answer's
        # JSON said Infinity, which no JSON parser but Python's reads.
        b'{"name": "An", "a": [1e400, -1e400]}',
    ],
)
async def test_a_request_json_no_answer_could_carry_is_read_as_none(
    api: httpx.AsyncClient, sent: bytes
) -> None:
    body = {"echo": "{{ request.json }}", "name": "{{ request.json.name }}"}
    await put(api, [{**PEOPLE, "body": body}])
    answer = await api.post("/v2/people/an", content=sent)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"echo": "", "name": ""}


async def test_header_values_are_cut_to_what_clients_read(
    mock: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = mock
    # A 1 MB member echoed in a header: the answer went out, and no client read it (curl
    # stopped at 100 KB, Python's http.client at a 64 KiB line, httpx at a 16 KiB head).
    headers = {"X-Big": "{{ request.json.big }}", "X-Then": "v={{ request.json.name }}"}
    await put(client, [{**PEOPLE, "headers": headers, "text": "{{ request.json.name }}"}])
    answer = await client.post("/v2/people/an", json={"big": "ễ" * 1_000_000, "name": NAME})
    assert answer.status_code == 200 and answer.text == NAME  # the body is no header: whole
    # The values together take 8 KiB at most, each cut between two characters, never in one.
    big, then = answer.headers["x-big"], answer.headers["x-then"]
    assert big == "%E1%BB%85" * (8192 // 9) and then == "v="
    assert len(big) + len(then) <= 8192


async def test_a_jsonpath_that_cannot_apply_to_the_body_finds_nothing(
    api: httpx.AsyncClient,
) -> None:
    # jsonpath-ng's extensions raise on values of another type than they expect.
    body = {"sorted": "{{ jsonpath '$.a.`sorted`' }}", "sub": "{{ jsonpath '$.n.`sub(/x/, y)`' }}"}
    await put(api, [{**PEOPLE, "body": body}])
    odd = await api.post("/v2/people/an", json={"a": [1, "x"], "n": 5})
    assert odd.status_code == 200 and odd.json() == {"sorted": "", "sub": ""}, odd.text
    fine = await api.post("/v2/people/an", json={"a": [2, 1], "n": "x1"})
    assert fine.json() == {"sorted": [1, 2], "sub": "y1"}


def test_a_stubs_file_with_a_bad_template_is_refused(tmp_path: Path) -> None:
    given = tmp_path / "stubs.json"
    given.write_text(json.dumps([{**PEOPLE, "text": "{{ request.qery.a }}"}]), encoding="utf-8")
    with pytest.raises(StubError, match=r"stubs\[0\]: text: unknown placeholder"):
        read_stubs(given)


async def test_a_header_sent_on_several_lines_renders_them_joined(api: httpx.AsyncClient) -> None:
    await put(api, [{**PEOPLE, "text": "{{ request.headers.x-tenant }}"}])
    answer = await api.get("/v2/people/an", headers=[("X-Tenant", "t1"), ("x-tenant", "t2")])
    assert answer.text == "t1, t2"  # as the journal shows it
