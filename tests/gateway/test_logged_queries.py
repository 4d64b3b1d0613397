"""What the log keeps of a query the hub did not expect: no personal value, no key's secret.

A personal-data service's query values were pseudonymised, but a value sent without a name
(``?Nguyễn Văn An``) or an ID number written with separators as a parameter's name stood in
the log as the parameter's name. On an ordinary service a key sent in the URL kept only its
public prefix, unless written ``hub%5F...`` or ``HUB_...``: then its secret went in whole.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from hub.core.security import pseudonym
from hub.gateway.privacy import log_path
from tests.gateway.conftest import CLIENT, PROVIDER, Hub
from tests.support import ADMIN, OPERATOR

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"}


async def test_a_personal_query_keeps_no_value_in_a_parameters_name(hub: Hub) -> None:
    name = "Nguyễn Văn An"
    queries = [
        quote(name),  # a free-text search with no parameter name
        "079203001234x",  # an ID number run on into a bare word
        "0792-0300-1234=x",  # an ID number with separators, as a name
        quote("079 203 001 234") + "=1",
        "nguyen-van-an",  # a bare lower-case value
        "limit=5&" + quote(name) + "=",
    ]
    for query in queries:
        resp = await hub.client.get(
            f"/r1/{PROVIDER}/people/people?{query}", headers=hub.headers(**PURPOSE)
        )
        assert resp.status_code == 200, resp.text
    paths = [r["path"] for r in await hub.records()]
    assert len(paths) == len(queries)
    leaked = ["Nguy", "Văn", "V%C4%83n", "079", "0792", "1234", "nguyen"]
    assert not [p for p in paths if any(v in p for v in leaked)], paths
    # Harmless parameters stay readable; the same value gets the same pseudonym.
    assert paths[-1].startswith("/people?limit=5&~"), paths[-1]
    assert paths[0].split("?")[1] == paths[-1].split("&")[1].split("=")[0], paths


async def test_a_key_in_the_url_of_an_ordinary_service_keeps_only_its_prefix(hub: Hub) -> None:
    key = hub.keys[CLIENT]
    prefix, secret = key.split("_", 2)[1:]
    spelled = [
        key.replace("_", "%5F"),
        key.replace("_", "%5f"),
        "HUB" + key[3:],
        "Hub" + key[3:].replace("_", "%5F"),
    ]
    for form in spelled:
        resp = await hub.client.get(
            f"/r1/{PROVIDER}/answers/x/{form}?api_key={form}", headers=hub.headers()
        )
        assert resp.status_code == 404  # the provider has no such path; the log has it
    paths = [r["path"] for r in await hub.records()]
    assert len(paths) == len(spelled)
    assert not [p for p in paths if secret[:8] in p or quote(secret)[:8] in p], paths
    assert all(p.count(prefix) == 2 for p in paths), paths


async def test_an_admin_or_operator_token_in_a_gateway_url_is_not_logged(hub: Hub) -> None:
    # Operators read the log: the admin token written there by mistake would be theirs.
    for token in (ADMIN, OPERATOR):
        resp = await hub.client.get(
            f"/r1/{PROVIDER}/answers/x/{token}?token={token}", headers=hub.headers()
        )
        assert resp.status_code == 404  # the provider has no such path; the log has it
    paths = [r["path"] for r in await hub.records()]
    assert paths == ["/x/~?token=~", "/x/~?token=~"], paths


def _escaped(text: str) -> str:
    """Every byte of ``text`` percent-encoded: what a URL may say for any character."""
    return "".join(f"%{b:02X}" for b in text.encode())


async def test_a_token_or_key_percent_encoded_in_a_gateway_url_is_not_logged(hub: Hub) -> None:
    # A URL may encode any character; the token is the same, and so was the operators' loss.
    key = hub.keys[CLIENT]
    prefix, secret = key.split("_", 2)[1:]
    sent = [
        f"/x/{_escaped(ADMIN)}?token={_escaped(OPERATOR)}",
        f"/x/y?token={ADMIN[:5]}{_escaped(ADMIN[5:])}",
        f"/x/y?api_key={key.replace('_', '%255F')}",  # encoded twice
    ]
    for path in sent:
        resp = await hub.client.get(f"/r1/{PROVIDER}/answers{path}", headers=hub.headers())
        assert resp.status_code == 404  # the provider has no such path; the log has it
    paths = [r["path"] for r in await hub.records()]
    assert paths[:2] == ["/x/~?token=~", "/x/y?token=~"], paths
    assert prefix in paths[2] and secret[:8] not in paths[2], paths


def test_a_token_as_an_http_client_encodes_it_is_not_logged() -> None:
    # openssl rand -base64 makes tokens of / + =, which a query string carries encoded.
    token = "q7/Zk+0aB9x2Lm4Wv8Tn=="
    for query in (f"token={quote(token, safe='')}", f"token={quote(token)}", f"t={token}"):
        logged = log_path("s", "/x", query, {}, False, tokens=(token,))
        assert logged in ("/x?token=~", "/x?t=~"), logged


async def test_a_refusal_does_not_echo_an_api_key_sent_in_the_wrong_place(hub: Hub) -> None:
    # Refusals are printed by replays, kept in clients' logs and pasted into tickets.
    key = hub.keys[CLIENT]
    prefix, secret = key.split("_", 2)[1:]
    sent = [
        (f"/r1/{PROVIDER}/files/x", {"X-Road-Client": key, "Authorization": f"Bearer {key}"}),
        (f"/r1/{PROVIDER}/files/x/{key}", hub.headers()),
    ]
    messages = []
    for path, headers in sent:
        resp = await hub.client.get(path, headers=headers)
        assert resp.status_code in (400, 401, 403), resp.text
        messages.append(resp.json()["message"])
    assert not [m for m in messages if secret[:8] in m], messages
    # The public prefix may stay, as in the log: it names the key, not its secret.
    assert f"hub_{prefix}_~" in messages[1], messages


async def test_a_name_typed_composed_or_decomposed_gets_one_pseudonym(hub: Hub) -> None:
    # Some systems send Vietnamese decomposed (NFD): "Nguyễn" as "Nguye" + U+0302 + U+0303.
    # It is the same text, the provider's search finds the same people, and an operator
    # grouping the log by person must see one pseudonym, not two.
    composed = unicodedata.normalize("NFC", "Nguyễn Văn Ả")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    for form in (composed, decomposed):
        for query in (f"name={quote(form)}", quote(form)):
            resp = await hub.client.get(
                f"/r1/{PROVIDER}/people/people?{query}", headers=hub.headers(**PURPOSE)
            )
            assert resp.status_code == 200, resp.text
    paths = [r["path"] for r in await hub.records()]
    assert len(paths) == 4
    assert len(set(paths)) == 2, paths
    assert not [p for p in paths if "Nguy" in p or "%CC" in p], paths


def test_a_decomposed_value_in_a_personal_path_gets_the_composed_ones_pseudonym() -> None:
    composed = unicodedata.normalize("NFC", "Hồ Thị Ánh")
    decomposed = unicodedata.normalize("NFD", composed)
    logged = {
        log_path("s", f"/people/{quote(form)}", "", {}, True, opaque=True)
        for form in (composed, decomposed)
    }
    assert len(logged) == 1, logged
    # ASCII values (ID numbers, officer ids) keep the pseudonyms already in the log.
    assert log_path("s", "/people", "q=079203001234", {}, True) == (
        "/people?q=" + pseudonym("s", "079203001234")
    )
