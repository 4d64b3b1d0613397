"""The mocks' edges a tester meets: 405s of shared paths, non-ASCII headers, WireMock's admin
paths, and stubs files written by Windows editors."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

import connectors
from hub.cli.main import app as hub_cli


@pytest.fixture
async def business() -> AsyncIterator[httpx.AsyncClient]:
    app = connectors.get("business").create_app(seed=42, size=1000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://business") as client:
        yield client


async def test_a_405_names_every_method_of_a_service_path(business: httpx.AsyncClient) -> None:
    # GET /enterprises searches and POST /enterprises registers: the 405 said "GET only".
    wrong = await business.delete("/enterprises")
    assert wrong.status_code == 405, wrong.text
    assert wrong.headers["allow"] == "GET, POST"
    assert "takes GET, POST only" in wrong.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/__faults", "GET, PUT, DELETE"),
        ("PATCH", "/__stubs", "GET, PUT, POST, DELETE"),
        ("PUT", "/__requests", "GET, DELETE"),
        ("GET", "/__reset", "POST"),
    ],
)
async def test_a_405_of_a_control_names_every_method_it_takes(
    api: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    wrong = await api.request(method, path)
    assert wrong.status_code == 405, wrong.text
    assert wrong.headers["allow"] == allow
    assert f"takes {allow} only" in wrong.json()["message"]


async def test_a_stub_matches_a_header_sent_in_utf8(api: httpx.AsyncClient) -> None:
    stub = {"method": "GET", "path": "/v2/who", "request_headers": {"X-Name": "Nguyễn"}}
    assert (await api.put("/__stubs", json=[{**stub, "text": "An"}])).status_code == 200
    name = {"X-Name": "Nguyễn".encode()}  # as curl sends it
    answer = await api.get("/v2/who", headers=name)  # type: ignore[arg-type]
    assert answer.status_code == 200 and answer.text == "An", answer.text
    # The journal shows the header as sent, not its bytes read as Latin-1.
    [entry] = (await api.get("/__requests?path=/v2/who")).json()["items"]
    assert entry["headers"]["x-name"] == "Nguyễn"


async def test_a_header_value_on_two_lines_is_refused(api: httpx.AsyncClient) -> None:
    # No header arrives with a line break in it, so the stub could never answer.
    stub = {"method": "GET", "path": "/v2/x", "request_headers": {"X-A": "a\nb"}}
    refused = await api.post("/__stubs", json=stub)
    assert refused.status_code == 422, refused.text
    assert "request_headers" in refused.json()["message"]
    assert "one line" in refused.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "ours"),
    [
        ("GET", "/__admin/mappings", "/__stubs"),
        ("POST", "/__admin/mappings", "/__stubs"),
        ("GET", "/__admin/requests", "/__requests"),
        ("POST", "/__admin/reset", "/__reset"),
        ("GET", "/__requests/42", "/__requests"),
    ],
)
async def test_a_control_path_there_is_not_lists_the_controls(
    api: httpx.AsyncClient, method: str, path: str, ours: str
) -> None:
    answer = await api.request(method, path)
    assert answer.status_code == 404, answer.text
    message = answer.json()["message"]
    assert f"no control {method} {path}" in message and ours in message
    assert "no stub" not in message  # a control path is never stubbed


def test_a_stubs_file_with_a_byte_order_mark_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Notepad saves UTF-8 with a BOM; PUT /__stubs took such a body, --stubs refused the file.
    text = '[{"method": "GET", "path": "/v2/x", "text": "Xin chào"}]'
    result, served = _mock_with_stubs(tmp_path, monkeypatch, text, "utf-8-sig")
    assert result.exit_code == 0, result.output
    assert len(served) == 1


@pytest.mark.parametrize(
    "query", ["method=GET&method=POST", "status=200&status=404", "limit=1&limit=5"]
)
async def test_a_journal_filter_given_twice_is_refused(api: httpx.AsyncClient, query: str) -> None:
    # Only the last value counted, so "GET or POST" silently meant POST.
    await api.get("/v2/nothing")
    answer = await api.get(f"/__requests?{query}")
    assert answer.status_code == 422, answer.text
    name = query.split("=")[0]
    assert f"{name} is given 2 times" in answer.json()["message"]
    if name != "limit":
        assert (await api.get(f"/__requests/count?{query}")).status_code == 422


async def test_a_journal_filter_given_twice_names_its_values(api: httpx.AsyncClient) -> None:
    # As a service's refusal does: which values clashed, not only how many.
    answer = await api.get("/__requests?method=GET&method=POST")
    assert answer.json()["message"] == (
        "query parameter method is given 2 times (GET, POST): each filter takes one value "
        "(ask once per value and add up the answers)"
    )


async def test_a_near_miss_names_text_in_another_unicode_form(api: httpx.AsyncClient) -> None:
    # "Nguyễn" composed (NFC) and decomposed (NFD) look the same: the 404 said only that the
    # body did not hold the name, which a tester could not see.
    nfc, nfd = "Nguyễn Văn An", unicodedata.normalize("NFD", "Nguyễn Văn An")
    stub = {"id": "verify", "method": "POST", "path": "/v2/verify", "query": {"name": nfc}}
    await api.put("/__stubs", json=[{**stub, "request_json": {"full_name": nfc}}])
    said = (await api.post("/v2/verify", params={"name": nfd}, json={"full_name": nfd})).json()
    assert "closest stub 'verify'" in said["message"], said
    assert said["message"].count("in another Unicode form (NFD, not NFC)") == 2, said
    # Matching stays exact: the stub answers the form it was given.
    assert (await api.post("/v2/verify", params={"name": nfc}, json={"full_name": nfc})).is_success


def test_a_stubs_file_with_a_lone_surrogate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The mock started, and its GET /__stubs was a 500 until it was stopped.
    text = '[{"method": "GET", "path": "/v2/x", "text": "\\udc00"}]'
    result, served = _mock_with_stubs(tmp_path, monkeypatch, text, "utf-8")
    assert result.exit_code == 2, result.output
    assert "is not JSON: a lone surrogate, half of a UTF-16 pair" in result.output
    assert "both halves of the pair): \\udc00: line 1 column 46" in result.output
    assert not served


def _mock_with_stubs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, encoding: str
) -> tuple[Any, list[Any]]:
    """`hub mock population --stubs FILE` with ``text`` in that file: the command's result,
    and the apps uvicorn would have served (none when the mock refused to start)."""
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda api, **_: served.append(api))
    monkeypatch.setattr("hub.cli.connectors.listenable", lambda *_: None)
    path = tmp_path / "stubs.json"
    path.write_text(text, encoding)
    args = ["mock", "population", "--size", "1000", "--port", "1", "--stubs", str(path)]
    return CliRunner().invoke(hub_cli, args), served


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "the stubs file {path} is empty: write [] for no stubs"),
        ("\n  \n", "the stubs file {path} is empty: write [] for no stubs"),
        (
            '[{"method": "GET", "path": "/v2/x", "text": "a"},\n]',
            "the stubs file {path} is not JSON: Expecting value: line 2 column 1 (char 50); "
            "the ',' at line 1 column 49 comes before ']', which JSON does not allow: delete it",
        ),
        (
            '[{"method": "GET", "path": "/v2/x", "text": "a",}]',
            "is not JSON: Expecting property name enclosed in double quotes: line 1 column 49 "
            "(char 48); the ',' at line 1 column 48 comes before '}', which JSON does not "
            "allow: delete it",
        ),
    ],
    ids=["empty", "blank", "comma before ]", "comma before }"],
)
def test_a_stubs_file_that_is_empty_or_has_a_trailing_comma_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, said: str
) -> None:
    # "Expecting value: line 2 column 1" pointed past the comma that was the mistake, and an
    # empty file (a redirect that failed) was told the same.
    result, served = _mock_with_stubs(tmp_path, monkeypatch, text, "utf-8")
    assert result.exit_code == 2, result.output
    path = tmp_path / "stubs.json"
    assert said.replace("{path}", str(path)) in result.output, result.output
    assert not served


async def test_a_control_with_a_trailing_slash_answers_as_without(api: httpx.AsyncClient) -> None:
    # /__faults/ answered a 307 to /__faults, with an empty body: curl without -L printed
    # nothing, and the fault was not set. The controls that hold nothing below them answer
    # the same with the slash, as WireMock's users asked of its /__admin/docs/.
    slow = {"latency_ms": 5}
    put = await api.put("/__faults/", json=slow)
    assert put.status_code == 200, put.text
    assert (await api.get("/__faults")).json() == put.json()
    assert put.json()["latency_ms"] == 5
    got = await api.get("/__faults/")
    assert got.status_code == 200 and got.json() == put.json()
    cleared = await api.delete("/__faults/")
    assert cleared.status_code == 200 and cleared.json()["latency_ms"] == 0
    assert (await api.get("/__faults")).json() == cleared.json()
    wrong = await api.patch("/__faults/")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, PUT, DELETE"
    through_hub = await api.put("/__faults/", json=slow, headers={"X-Road-Client": "VN/GOV/A/b"})
    assert through_hub.status_code == 403, through_hub.text
    assert (await api.get("/__health/")).json()["status"] == "ok"
    assert (await api.post("/__reset/")).json()["status"] == "reset"
    # The journal too: only /__requests/count is below it, and no id, so /__requests/
    # can mean nothing but the journal (a 307 with an empty body before).
    assert (await api.get("/citizens", params={"limit": 1})).status_code == 200
    listed = await api.get("/__requests/", params={"limit": 1})
    assert listed.status_code == 200 and listed.json()["items"], listed.text
    assert listed.json()["matched"] == (await api.get("/__requests")).json()["matched"]
    emptied = await api.delete("/__requests/")
    assert emptied.status_code == 200 and emptied.json()["deleted"] >= 1, emptied.text
