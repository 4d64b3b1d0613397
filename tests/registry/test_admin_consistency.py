"""The admin API answers alike across its resources: a duplicate is a 409 everywhere, a
malformed identifier a 400 wherever it is sent (SPEC §4), and a write refuses a query
parameter it does not take rather than doing something else than asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from hub.registry import service as registry
from hub.registry.yamlio import RegistryFileError
from tests.registry.registries import ADMIN_H, CLIENT, SERVICE, small_registry
from tests.support import hub_client, make_settings

YAML_H = {**ADMIN_H, "Content-Type": "application/yaml"}
DOC = small_registry(
    services=[{"id": SERVICE, "endpoints": [{"method": "GET", "path": "/citizens/{id}"}]}]
)


async def _load(c: httpx.AsyncClient) -> None:
    r = await c.put("/admin/registry", json=DOC, headers=ADMIN_H)
    assert r.status_code == 200, r.text


@asynccontextmanager
async def loaded(url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A hub on ``url`` after ``_load``."""
    async with hub_client(make_settings(url, tmp_path)) as (_app, c):
        await _load(c)
        yield c


async def test_a_grant_posted_twice_is_a_409_as_any_other_duplicate(
    db_url: str, tmp_path: Path
) -> None:
    async with loaded(db_url, tmp_path) as c:
        grant = {"client": CLIENT, "service": SERVICE}
        assert (await c.post("/admin/grants", json=grant, headers=ADMIN_H)).status_code == 201
        r = await c.post("/admin/grants", json=grant, headers=ADMIN_H)
        assert r.status_code == 409, r.text
        assert r.json()["detail"] == (
            f"{CLIENT} has a grant for {SERVICE} already; PATCH /admin/grants to change it"
        )
        # A POST never changes what is there: the grant stays enabled.
        r = await c.post("/admin/grants", json={**grant, "enabled": False}, headers=ADMIN_H)
        assert r.status_code == 409
        listed = (await c.get("/admin/grants", headers=ADMIN_H)).json()
        assert listed == [{**grant, "enabled": True}]


async def test_a_write_refuses_a_query_parameter_it_does_not_take(
    db_url: str, tmp_path: Path
) -> None:
    async with loaded(db_url, tmp_path) as c:
        new = {"members": [{"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"}]}
        # dry_run misspelt: it applied for real, and said dry_run false.
        r = await c.put("/admin/registry", params={"dryrun": "true"}, json=new, headers=ADMIN_H)
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == (
            "unknown query parameter 'dryrun'; this takes: dry_run, prune, prune_all"
        )
        assert (await c.get("/admin/members/VN/GOV/BTP", headers=ADMIN_H)).status_code == 404
        r = await c.delete("/admin/services/" + SERVICE, params={"force": "1"}, headers=ADMIN_H)
        assert r.status_code == 400 and "this takes: none" in r.text, r.text
        assert (await c.get("/admin/services/" + SERVICE, headers=ADMIN_H)).status_code == 200
        r = await c.post(
            "/admin/members", params={"x": "1"}, json=new["members"][0], headers=ADMIN_H
        )
        assert r.status_code == 400
        # What a route takes still goes through.
        r = await c.put("/admin/registry", params={"dry_run": "true"}, json=new, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["dry_run"] is True


@pytest.mark.parametrize(
    ("method", "path", "body", "said"),
    [
        ("GET", "/admin/members/VN/GOV/B%20TP", None, "invalid part 'B TP'"),
        ("GET", "/admin/members/VN/GOV/BCA/", None, "must have the form"),
        ("PATCH", "/admin/subsystems/VN/GOV/BCA/cli%20ent", {"name": "x"}, "invalid part"),
        ("DELETE", "/admin/services/VN/GOV/BCA/population/a%2Bb", None, "invalid part 'a+b'"),
        ("GET", "/admin/subsystems?member=VN/XXX/BCA", None, "unknown member class 'XXX'"),
        ("GET", "/admin/services?subsystem=VN/GOV/BCA/a%20b", None, "invalid part"),
        ("GET", "/admin/grants?client=VN/GOV/BCA", None, "subsystem identifier"),
        ("GET", "/admin/grants?service=VN/GOV/BCA/x/y%C3%A9", None, "invalid part 'yé'"),
        ("GET", "/admin/keys?client=civil-status", None, "subsystem identifier"),
        ("DELETE", f"/admin/grants?client=VN/GOV/BCA/a%20b&service={SERVICE}", None, "invalid"),
        ("POST", "/admin/members", {"id": "VN/GOV/B TP", "name": "x"}, "body.id: member"),
        ("POST", "/admin/subsystems", {"id": "VN/GOV/BCA/é"}, "invalid part 'é'"),
        ("POST", "/admin/grants", {"client": CLIENT, "service": "VN/GOV/BCA/p/a b"}, "'a b'"),
        ("POST", "/admin/keys", {"client": "VN/GOV/BCA/a b"}, "body.client: subsystem"),
        ("PATCH", "/admin/grants", {"client": "x", "service": SERVICE, "enabled": False}, "'x'"),
        ("PUT", "/admin/registry", {"members": [{"id": "US/GOV/X", "name": "x"}]}, "'US'"),
    ],
)
async def test_a_malformed_identifier_is_a_400_wherever_it_is_sent(
    sqlite_url: str, tmp_path: Path, method: str, path: str, body: dict | None, said: str
) -> None:
    async with loaded(sqlite_url, tmp_path) as c:
        r = await c.request(method, path, json=body, headers=ADMIN_H)
        assert r.status_code == 400 and said in r.json()["detail"], r.text
        assert len((await c.get("/admin/services", headers=ADMIN_H)).json()) == 1


async def test_a_malformed_identifier_in_registry_yaml_is_a_400(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        text = "members:\n  - id: VN/GOV/BCA\n    name: B\nsubsystems:\n  - id: VN/GOV/BCA/a b\n"
        r = await c.put("/admin/registry", content=text.encode(), headers=YAML_H)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("body:5: subsystems[0].id: subsystem identifier")
        # Other mistakes stay 422, as a well-formed id that names nothing does.
        text = "members:\n  - id: VN/GOV/BCA\n    nam: B\n"
        r = await c.put("/admin/registry", content=text.encode(), headers=YAML_H)
        assert r.status_code == 422 and "unknown key 'nam'" in r.text
        r = await c.post("/admin/keys", json={"client": "VN/GOV/BCA/nobody"}, headers=ADMIN_H)
        assert r.status_code == 422


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "members:\n  - id: VN/GOV/BCA\n    name: A\n    name: B\n",
            "reg.yaml:4: members[0]: the key 'name' is given twice (also at line 3)",
        ),
        (
            "services:\n  - id: VN/GOV/BCA/p/s\n    enabled: false\n    timeout_ms: 5\n"
            "    enabled: true\n",
            "reg.yaml:5: services[0]: the key 'enabled' is given twice (also at line 3)",
        ),
        (
            "members: []\ngrants: []\nmembers:\n  - id: VN/GOV/BCA\n    name: A\n",
            "reg.yaml:3: the key 'members' is given twice (also at line 1)",
        ),
    ],
)
def test_a_key_given_twice_in_yaml_is_refused_not_the_last_taken(text: str, said: str) -> None:
    with pytest.raises(RegistryFileError) as caught:
        registry.parse_documents([("reg.yaml", text)])
    assert str(caught.value) == said


FINGERPRINT = "ab" * 32


async def test_one_certificate_proves_one_subsystem(sqlite_url: str, tmp_path: Path) -> None:
    async with loaded(sqlite_url, tmp_path) as c:
        r = await c.patch(
            f"/admin/subsystems/{CLIENT}", json={"cert_sha256": FINGERPRINT}, headers=ADMIN_H
        )
        assert r.status_code == 200, r.text
        # A second holder was taken silently, and one of the two stopped being proven by it.
        other = "VN/GOV/BCA/population"
        r = await c.patch(
            f"/admin/subsystems/{other}", json={"cert_sha256": FINGERPRINT}, headers=ADMIN_H
        )
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith(
            f"certificate {FINGERPRINT} is registered for {CLIENT} already"
        )
        new = {"id": "VN/GOV/BCA/third", "cert_sha256": FINGERPRINT.upper()}
        r = await c.post("/admin/subsystems", json=new, headers=ADMIN_H)
        assert r.status_code == 409 and CLIENT in r.json()["detail"], r.text
        r = await c.put("/admin/registry", json={"subsystems": [new]}, headers=ADMIN_H)
        assert r.status_code == 409 and CLIENT in r.json()["detail"], r.text
        subs = (await c.get("/admin/subsystems", headers=ADMIN_H)).json()
        assert [s["id"] for s in subs if s["cert_sha256"]] == [CLIENT]
        # Moving it in one document is fine: what counts is the registry after it.
        moved = {"subsystems": [{"id": CLIENT, "cert_sha256": None}, new]}
        r = await c.put("/admin/registry", json=moved, headers=ADMIN_H)
        assert r.status_code == 200, r.text
        subs = (await c.get("/admin/subsystems", headers=ADMIN_H)).json()
        assert [s["id"] for s in subs if s["cert_sha256"]] == [new["id"]]
        # The entry that holds it may be changed, with its own certificate given again.
        r = await c.patch(
            f"/admin/subsystems/{new['id']}",
            json={"name": "x", "cert_sha256": FINGERPRINT},
            headers=ADMIN_H,
        )
        assert r.status_code == 200, r.text


def test_an_entry_of_the_second_file_is_named_by_its_place_in_that_file() -> None:
    first = "members:\n  - id: VN/GOV/BCA\n    name: A\n"
    second = "members:\n  - id: VN/GOV/BCA\n    name: B\n"
    with pytest.raises(RegistryFileError) as caught:
        doc = registry.parse_documents([("a.yaml", first), ("b.yaml", second)])
        registry._check_unique(doc)
    assert str(caught.value) == (
        "b.yaml:2: members[0]: VN/GOV/BCA appears twice (also at a.yaml:2), with another name: "
        "declare it once, or alike in every file"
    )
    grant = "grants:\n  - client: VN/GOV/BCA/c\n    service: VN/GOV/BCA/p/s\n"
    doc = registry.parse_documents([("a.yaml", first), ("b.yaml", grant)])
    with pytest.raises(RegistryFileError) as caught:
        registry._check_references(doc)
    assert str(caught.value).startswith("b.yaml:2: grants[0]: grant VN/GOV/BCA/c -> ")
    doc = registry.parse_documents([("a.yaml", grant + grant.replace("grants:\n", ""))])
    with pytest.raises(RegistryFileError) as caught:
        registry._check_unique(doc)
    assert str(caught.value).startswith("a.yaml:4: grants[1]: VN/GOV/BCA/c -> VN/GOV/BCA/p/s")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "said"),
    [
        # A body that names an entry there is not: 422, whatever the entry (POST /admin/keys
        # was a 404, which reads as a route that is not there).
        ("POST", "/admin/keys", {"client": "VN/GOV/BCA/nobody"}, 422, "unknown client"),
        ("POST", "/admin/keys", {"client": CLIENT + "x"}, 422, f"(did you mean {CLIENT}?)"),
        ("POST", "/admin/grants", {"client": CLIENT, "service": SERVICE + "x"}, 422,
         f"(did you mean {SERVICE}?)"),
        ("POST", "/admin/grants", {"client": "VN/GOV/BCA/x", "service": SERVICE}, 422, "unknown"),
        ("POST", "/admin/grants", {"client": CLIENT, "service": SERVICE + "2"}, 422, "unknown"),
        ("POST", "/admin/subsystems", {"id": "VN/GOV/BTP/x"}, 422, "not declared"),
        ("POST", "/admin/services", {"id": "VN/GOV/BCA/x/y"}, 422, "not declared"),
        ("PUT", "/admin/registry", {"grants": [{"client": "VN/GOV/BCA/x", "service": SERVICE}]},
         422, "unknown client"),
        # A path that names one: 404.
        ("POST", "/admin/keys/999/rotate", None, 404, "no active key 999"),
        ("DELETE", "/admin/keys/999", None, 404, "no key 999"),
        ("PATCH", "/admin/subsystems/VN/GOV/BCA/x", {"name": "x"}, 404, "no such subsystem"),
        ("DELETE", "/admin/members/VN/GOV/BTP", None, 404, "no such member"),
    ],
)  # fmt: skip
async def test_an_unknown_entry_is_a_422_in_a_body_and_a_404_in_a_path(
    sqlite_url: str,
    tmp_path: Path,
    method: str,
    path: str,
    body: dict | None,
    status: int,
    said: str,
) -> None:
    async with loaded(sqlite_url, tmp_path) as c:
        before = (await c.get("/admin/events", headers=ADMIN_H)).json()["items"]
        r = await c.request(method, path, json=body, headers=ADMIN_H)
        assert r.status_code == status and said in r.json()["detail"], r.text
        assert (await c.get("/admin/events", headers=ADMIN_H)).json()["items"] == before


async def test_a_query_parameter_given_twice_is_refused_not_one_of_them_taken(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with loaded(sqlite_url, tmp_path) as c:
        await c.post("/admin/grants", json={"client": CLIENT, "service": SERVICE}, headers=ADMIN_H)
        # The last was taken: [] here, with no word that the first was dropped.
        r = await c.get(
            "/admin/grants",
            params=[("client", CLIENT), ("client", "VN/GOV/BCA/population")],
            headers=ADMIN_H,
        )
        assert r.status_code == 400, r.text
        assert (
            r.json()["detail"] == "query parameter 'client' is given more than once; give it once"
        )
        r = await c.put("/admin/registry?dry_run=true&dry_run=false", json={}, headers=ADMIN_H)
        assert r.status_code == 400 and "'dry_run' is given more than once" in r.text
        r = await c.get("/admin/grants", params={"client": CLIENT}, headers=ADMIN_H)
        assert r.status_code == 200 and len(r.json()) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", f"/admin/services/{SERVICE}", {"timeout_ms": True}, "body.timeout_ms"),
        ("PATCH", f"/admin/services/{SERVICE}", {"max_body_bytes": False}, "body.max_body_bytes"),
        ("PATCH", f"/admin/subsystems/{CLIENT}", {"quota_rps": True}, "body.quota_rps"),
        ("POST", "/admin/subsystems", {"id": "VN/GOV/BCA/x", "quota_per_day": True}, "quota_per"),
        ("PUT", "/admin/registry", {"services": [{"id": SERVICE, "timeout_ms": True}]}, "timeout"),
    ],
)
async def test_true_or_false_is_no_number(
    sqlite_url: str, tmp_path: Path, method: str, path: str, body: dict, field: str
) -> None:
    async with loaded(sqlite_url, tmp_path) as c:
        r = await c.request(method, path, json=body, headers=ADMIN_H)
        # It was taken for 1: a service that timed out after 1 ms, a client let 1 call a second.
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert field in detail and "takes a whole number, not " in detail, detail
        # The value as the caller wrote it, in JSON: "(got true)", not Python's "(got True)".
        assert "True" not in detail and "False" not in detail, detail
        service = (await c.get(f"/admin/services/{SERVICE}", headers=ADMIN_H)).json()
        assert service["timeout_ms"] == 10_000 and service["max_body_bytes"] == 1024 * 1024
        assert (await c.get(f"/admin/subsystems/{CLIENT}", headers=ADMIN_H)).json()[
            "quota_rps"
        ] is None


async def test_an_export_format_there_is_not_is_named_with_those_there_are(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        r = await c.get("/admin/registry", params={"format": "xml"}, headers=ADMIN_H)
        # It said: String should match pattern '^(json|yaml)$'.
        assert r.status_code == 400
        assert r.json()["detail"] == "query.format: Input should be 'json' or 'yaml' (got 'xml')"
