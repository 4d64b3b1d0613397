"""After a known mix of granted, denied and failed exchanges through the real gateway, every
figure the operator API gives equals the number of log records that match."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.gateway.conftest import CITIZEN, CLIENT, OTHER, PROVIDER, Hub
from tests.stats.conftest import AUTH, exact_percentile
from tests.support import ADMIN

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"


async def traffic(hub: Hub) -> list[dict[str, Any]]:
    """Send the mix and return the log records it left."""
    c = hub.client
    expected = []
    for _ in range(5):
        expected.append((await c.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code)
    for _ in range(2):  # the provider has no such citizen
        r = await c.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/079203009999",
                        headers=hub.headers(**PURPOSE))  # fmt: skip
        expected.append(r.status_code)
    for _ in range(2):
        r = await c.post(f"/r1/{PROVIDER}/echo/echo", content=b'{"id": "a1"}',
                         headers=hub.headers(**{"Content-Type": "application/json"}))  # fmt: skip
        expected.append(r.status_code)
    expected.append((await c.get(LOOKUP, headers=hub.headers())).status_code)  # no purpose
    expected.append((await c.get(LOOKUP, headers={"X-Road-Client": CLIENT})).status_code)
    for _ in range(2):
        r = await c.get(f"/r1/{PROVIDER}/ungranted/citizens/{CITIZEN}", headers=hub.headers())
        expected.append(r.status_code)
    expected.append((await c.get(LOOKUP, headers=hub.headers(OTHER, **PURPOSE))).status_code)
    expected.append((await c.get(f"/r1/{PROVIDER}/nothing/x", headers=hub.headers())).status_code)
    expected.append(
        (await c.get(f"/r1/{PROVIDER}/unreachable/x", headers=hub.headers())).status_code
    )
    expected.append((await c.get(f"/r1/{PROVIDER}/bad/bad", headers=hub.headers())).status_code)
    expected.append((await c.get("/r1/VN/GOV/BCA", headers=hub.headers())).status_code)
    records = await hub.records()
    assert sorted(r["status_code"] for r in records) == sorted(expected)
    assert Counter(expected) == Counter({200: 5, 404: 3, 201: 2, 400: 2, 401: 1, 403: 3, 502: 2})
    return records


async def get(hub: Hub, path: str, **params: Any) -> Any:
    resp = await hub.client.get(path, params=params, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_summary_totals_faults_and_bytes_equal_the_log(hub: Hub) -> None:
    records = await traffic(hub)
    s = await get(hub, "/api/stats/summary")
    assert s["total"] == len(records) == 18
    assert s["succeeded"] == sum(r["succeeded"] for r in records) == 7
    assert s["failed"] == len(records) - 7
    assert s["by_fault"] == dict(Counter(r["fault_code"] for r in records if r["fault_code"]))
    # The provider's own failures (the two 404s "no such citizen"): no hub fault code.
    own = Counter(
        str(r["status_code"]) for r in records if not r["succeeded"] and not r["fault_code"]
    )
    assert s["provider_failed"] == dict(own) == {"404": 2}
    assert sum(s["by_fault"].values()) + sum(s["provider_failed"].values()) == s["failed"]
    assert s["by_status"] == {
        str(k): v for k, v in Counter(r["status_code"] for r in records).items()
    }
    assert s["request_bytes"] == sum(r["request_bytes"] for r in records) > 0
    assert s["response_bytes"] == sum(r["response_bytes"] for r in records)
    mine = await get(hub, "/api/stats/summary", client=OTHER, since="1h")
    assert mine["total"] == sum(r["client"] == OTHER for r in records) == 1
    lookups = await get(hub, "/api/stats/summary", service=f"{PROVIDER}/citizen-lookup")
    assert lookups["total"] == sum(r["service"] == f"{PROVIDER}/citizen-lookup" for r in records)


async def test_percentiles_are_within_five_percent_of_exact(hub: Hub) -> None:
    records = await traffic(hub)
    s = await get(hub, "/api/stats/summary")
    for field, key in (("total_ms", "latency_ms"), ("hub_ms", "hub_ms")):
        values = [r[field] for r in records]
        for q in (50, 95, 99):
            exact = exact_percentile(values, q)
            assert s[key][f"p{q}"] == pytest.approx(exact, rel=0.05), (field, q)


async def test_matrix_cells_equal_the_log(hub: Hub) -> None:
    records = await traffic(hub)
    m = await get(hub, "/api/stats/matrix", since="24h")
    cells = {(c["client"], c["provider"]): c["count"] for c in m["cells"]}
    assert cells == dict(Counter((r["client"], r["provider"]) for r in records))
    assert m["total"] == len(records)
    failed = {(c["client"], c["provider"]): c["failed"] for c in m["cells"]}
    assert failed[(CLIENT, PROVIDER)] == sum(
        1
        for r in records
        if (r["client"], r["provider"]) == (CLIENT, PROVIDER) and not r["succeeded"]
    )


@pytest.mark.parametrize("bucket", ["minute", "hour", "day", "month"])
async def test_series_sums_equal_the_log(hub: Hub, bucket: str) -> None:
    records = await traffic(hub)
    ts = await get(hub, "/api/stats/timeseries", bucket=bucket, group_by="service")
    per_service: Counter[str] = Counter()
    for p in ts["points"]:
        per_service.update(p["groups"])
        assert p["total"] == sum(p["groups"].values())
    assert +per_service == Counter(r["service"] for r in records)
    assert sum(p["total"] for p in ts["points"]) == len(records)
    assert sum(p["failed"] for p in ts["points"]) == sum(not r["succeeded"] for r in records)


async def test_top_and_growth_count_every_record(hub: Hub) -> None:
    records = await traffic(hub)
    top = await get(hub, "/api/stats/top", by="client", limit=10)
    assert {r["key"]: r["count"] for r in top["rows"]} == dict(
        Counter(r["client"] for r in records)
    )
    growth = await get(hub, "/api/stats/growth", period="day")
    assert growth["periods"][-1]["total"] == len(records)
    assert growth["periods"][-1]["change"] == len(records)


async def test_top_is_narrowed_as_the_summary_is(hub: Hub) -> None:
    # Who calls this service most: ?service= was taken and ignored, every service counted.
    records = await traffic(hub)
    service = f"{PROVIDER}/citizen-lookup"
    top = await get(hub, "/api/stats/top", by="client", service=service, client="")
    assert {r["key"]: r["count"] for r in top["rows"]} == dict(
        Counter(r["client"] for r in records if r["service"] == service)
    )
    assert top["rows"][0]["share"] == round(
        top["rows"][0]["count"] / sum(r["service"] == service for r in records), 4
    )


async def test_transactions_pages_cover_the_log_once_newest_first(hub: Hub) -> None:
    records = await traffic(hub)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = await get(hub, "/api/transactions", **params)
        assert len(page["items"]) <= 4
        seen += [item["request_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["request_id"] for r in reversed(records)]


async def test_transaction_filters_and_detail(hub: Hub) -> None:
    records = await traffic(hub)
    denied = await get(hub, "/api/transactions", fault="Client.AccessDenied")
    assert len(denied["items"]) == sum(r["fault_code"] == "Client.AccessDenied" for r in records)
    clean = await get(hub, "/api/transactions", fault="none", status=404)
    assert len(clean["items"]) == 2
    officer = await get(hub, "/api/transactions", user_id="officer-01", issue="HS-0001")
    assert len(officer["items"]) == sum(r["user_id"] == "officer-01" for r in records)
    first = records[0]
    detail = await get(hub, f"/api/transactions/{first['request_id']}")
    assert detail["id"] == first["id"] and detail["record_hash"] == first["record_hash"]
    # Fault codes are read in any case, as fault=none is.
    lower = await get(hub, "/api/transactions", fault="client.accessdenied")
    assert lower["items"] == denied["items"]
    missing = await hub.client.get("/api/transactions/nope", headers=AUTH)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_empty_filters_are_no_filters(hub: Hub) -> None:
    """``?since=&until=&client=&service=&provider=`` (a form's empty fields, SPEC's own
    spelling) counts everything, as an empty since already did; it counted nothing."""
    records = await traffic(hub)
    empty = {"since": "", "until": "", "client": "", "service": "", "provider": ""}
    s = await get(hub, "/api/stats/summary", **empty)
    assert s["total"] == len(records)
    series = await get(hub, "/api/stats/timeseries", **empty)
    assert sum(p["total"] for p in series["points"]) == len(records)
    page = await get(hub, "/api/transactions", **empty, fault="", user_id="", issue="")
    assert len(page["items"]) == len(records)


async def test_blanks_around_an_id_are_no_part_of_it(hub: Hub) -> None:
    """An id copied with a blank at an end was refused as "an invalid part 'civil-status '",
    the blank to be spotted between the quotes, where the gateway takes X-Road-Client so."""
    records = await traffic(hub)
    client, provider = records[0]["client"], records[0]["provider"]
    assert client and provider
    s = await get(hub, "/api/stats/summary", client=f"{client} ", provider=f"\t{provider}")
    exact = await get(hub, "/api/stats/summary", client=client, provider=provider)
    assert (
        s["total"]
        == exact["total"]
        == sum(r["client"] == client and r["provider"] == provider for r in records)
    )
    assert s["notes"] == []
    page = await get(hub, "/api/transactions", client=f" {client} ")
    assert [i["seq"] for i in page["items"]] == [
        i["seq"] for i in (await get(hub, "/api/transactions", client=client))["items"]
    ]
    # Its cursor continues the same listing, with or without the blanks.
    first = await get(hub, "/api/transactions", client=f"{client} ", limit=1)
    more = await get(hub, "/api/transactions", client=client, limit=1, cursor=first["next_cursor"])
    assert more["items"][0]["seq"] == page["items"][1]["seq"]
    blank = await get(hub, "/api/stats/summary", client="  ")
    assert blank["total"] == len(records)


async def test_an_officer_no_record_can_name_is_said_so(hub: Hub) -> None:
    """The gateway logs X-Road-UserId and X-Road-Issue as printable ASCII without blanks at
    their ends: user_id=cán-bộ-01 listed nothing without a word, as if the officer had made
    no request."""
    records = await traffic(hub)
    officer = next(r["user_id"] for r in records if r["user_id"])
    page = await get(hub, "/api/transactions", user_id="cán-bộ-01", issue=f"{officer} ")
    assert page["items"] == []
    assert page["notes"] == [
        "no record can have X-Road-UserId 'cán-bộ-01': the gateway takes 1-300 printable "
        "ASCII characters (no diacritics), without blanks at either end; nothing matches "
        "user_id=cán-bộ-01",
        f"no record can have X-Road-Issue '{officer} ': the gateway takes 1-300 printable "
        f"ASCII characters (no diacritics), without blanks at either end; nothing matches "
        f"issue={officer} ",
    ]
    found = await get(hub, "/api/transactions", user_id=officer)
    assert found["items"] and found["notes"] == []


async def test_an_empty_status_or_grouping_is_none(hub: Hub) -> None:
    """A form's empty status or group-by field is no filter and no grouping (docs/operators.md:
    an empty value is no filter); both were a 422 naming the empty value."""
    records = await traffic(hub)
    page = await get(hub, "/api/transactions", status="")
    assert len(page["items"]) == len(records)
    series = await get(hub, "/api/stats/timeseries", group_by="")
    assert series["group_by"] is None and series["keys"] == []
    assert sum(p["total"] for p in series["points"]) == len(records)


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/api/stats/summary", {"since": "yesterday-ish"}, 400, "ISO date"),
        ("/api/stats/summary", {"since": "1h", "until": "2h"}, 400, "before until"),
        ("/api/transactions", {"since": "2026-12-05", "until": "2026-12-04"}, 400, "before until"),
        ("/api/stats/timeseries", {"bucket": "week"}, 400, "bucket"),
        ("/api/stats/timeseries", {"bucket": "minute", "since": "30d"}, 400, "coarser bucket"),
        ("/api/stats/growth", {"period": "day", "since": "1990-01-01"}, 400, "coarser period "),
        ("/api/transactions", {"limit": 1001}, 400, "limit"),
        ("/api/transactions", {"cursor": "garbage!"}, 400, "next_cursor"),
        # seq:99999999999999999999999, past SQLite's and PostgreSQL's integers: was a 500.
        ("/api/transactions", {"cursor": "c2VxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, 400, "cursor"),
        ("/api/stats/growth", {"period": "week"}, 400, "period"),
        # Past the years datetime holds, once in UTC or a bucket further: these were 500s.
        ("/api/transactions", {"since": "0001-01-01"}, 400, "between 1900-01-01 and 2999"),
        ("/api/stats/summary", {"since": "0001-01-01"}, 400, "between 1900-01-01 and 2999"),
        ("/api/transactions", {"until": "9999-12-31T23:00:00-05:00"}, 400, "out of range"),
        ("/api/stats/timeseries", {"bucket": "year", "until": "9999-12-31"}, 400, "range"),
        ("/api/stats/growth", {"period": "year", "until": "9999-12-31"}, 400, "range"),
        ("/api/stats/timeseries", {"bucket": "day", "since": "0001-01-01"}, 400, "range"),
        ("/api/stats/summary", {"since": "999999w"}, 400, "out of range"),
        ("/api/stats/matrix", {"since": "999999y"}, 400, "out of range"),
        ("/api/stats/summary", {"since": "1899-12-30"}, 400, "out of range"),
        ("/api/stats/summary", {"until": "3000-01-05"}, 400, "out of range"),
        # Malformed ids matched nothing and answered zero: the log holds no such client,
        # service or provider (a malformed X-Road-Client is logged with no client at all).
        ("/api/stats/summary", {"client": "VN/GOV"}, 400,
         "client='VN/GOV' must have the form INSTANCE/CLASS/MEMBER/SUBSYSTEM"),
        ("/api/stats/timeseries", {"client": "VN/GOV/BTP/a b"}, 400,
         "client='VN/GOV/BTP/a b' has an invalid part 'a b': use letters, digits,"),
        ("/api/stats/top", {"provider": "EE/GOV/BCA/population"}, 400,
         "provider='EE/GOV/BCA/population': unknown instance 'EE' (use VN)"),
        ("/api/transactions", {"service": "VN/GOV/BCA/population"}, 400,
         "service='VN/GOV/BCA/population' must have the form INSTANCE/CLASS/MEMBER/SUBSYSTEM/"),
        ("/api/stats/summary", {"client": "VN/GOV"}, 400, "client=none keeps the exchanges"),
        # A fault code with a typo listed nothing, as if no such exchange had happened.
        ("/api/transactions", {"fault": "Client.AccesDenied"}, 400,
         "fault='Client.AccesDenied' is no fault code the hub logs: use one of "
         "Client.AccessDenied, Client.BadRequest,"),
        # A since in the future with no until: "since must be before until" named an
        # until the operator never gave.
        ("/api/stats/summary", {"since": "2999-01-01"}, 400,
         "since must be before until (now, as no until was given)"),
        ("/api/stats/summary", {"since": "1h", "until": "2h"}, 400,
         "relative forms count back from now"),
        # The instants as read, in the hub's zone: an operator in Ha Noi who wrote Z meant
        # midnight there, and the bare refusal did not say the Z made it 07:00.
        ("/api/stats/summary", {"since": "2026-05-01T00:00:00Z", "until": "2026-05-01T06:00"},
         400, "since must be before until; since is 2026-05-01T07:00:00+07:00, until "
         "2026-05-01T06:00:00+07:00"),
        ("/api/transactions", {"since": "2026-05-01", "until": "2026-04-30T17:00:00Z"}, 400,
         "since must be before until; both are 2026-05-01T00:00:00+07:00, an empty range"),
        ("/api/stats/matrix", {"since": "2999-01-01"}, 400,
         "(now, as no until was given); since is 2999-01-01T00:00:00+07:00, now 20"),
        # A misspelt or unsupported filter was ignored: the figures of everything, as if
        # narrowed. The matrix takes no client, though the summary does.
        ("/api/stats/summary", {"consumer": "VN/GOV/BTP/civil-status"}, 400,
         "unknown parameter 'consumer': /api/stats/summary takes since, until, client, "
         "service, provider"),
        ("/api/stats/matrix", {"client": "VN/GOV/BTP/civil-status"}, 400,
         "unknown parameter 'client': /api/stats/matrix takes since, until"),
        ("/api/transactions/abc", {"x": "1"}, 400, "/api/transactions/{ident} takes no para"),
        ("/api/transactions", {"from": "2026-01-01", "status_code": "200"}, 400,
         "unknown parameters 'from', 'status_code': /api/transactions takes since, until,"),
    ],
)  # fmt: skip
async def test_bad_parameters_get_a_4xx_sentence(
    hub: Hub, path: str, params: dict[str, Any], status: int, words: str
) -> None:
    resp = await hub.client.get(path, params=params, headers=AUTH)
    assert resp.status_code == status
    assert words in resp.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        # The second value won: client=A&client=B answered B's figures alone, as if both.
        ("/api/stats/summary", [("client", "VN/GOV/BTP/civil-status"),
                                ("client", "VN/COM/0101234565/ekyc")],
         "client is given 2 times: /api/stats/summary takes one value of each parameter"),
        ("/api/transactions", [("since", "1d"), ("since", "2d"), ("fault", "none")],
         "since is given 2 times"),
    ],
)  # fmt: skip
async def test_a_repeated_parameter_is_a_400(
    hub: Hub, path: str, params: list[tuple[str, str]], words: str
) -> None:
    resp = await hub.client.get(path, params=params, headers=AUTH)
    assert resp.status_code == 400
    assert words in resp.json()["detail"]


@pytest.mark.parametrize(
    ("params", "first", "last"),
    [
        # About 2,900 spans of days and hours: one OR of them all was deeper than SQLite's
        # 1,000 levels ("Expression tree is too large").
        ({"bucket": "month", "since": "1905-06-01"}, "1905-06", None),
        ({"bucket": "year", "since": "1900-01-01", "until": "2999-12-31"}, "1900", "2999"),
    ],
)
async def test_the_widest_ranges_count_every_record(
    hub: Hub, params: dict[str, Any], first: str, last: str | None
) -> None:
    records = await traffic(hub)
    series = await get(hub, "/api/stats/timeseries", **params)
    assert series["points"][0]["label"] == first
    assert last is None or series["points"][-1]["label"] == last
    assert sum(p["total"] for p in series["points"]) == len(records)
    growth = await get(hub, "/api/stats/growth", period="year", since="1900-01-01",
                       until="2999-12-31")  # fmt: skip
    assert sum(p["total"] for p in growth["periods"]) == len(records)
    assert len(growth["periods"]) == 1100


@pytest.mark.parametrize(
    "path",
    ["/api/stats/summary", "/api/stats/matrix", "/api/transactions", "/api/health/providers"],
)
async def test_operator_api_needs_the_operator_or_admin_token(hub: Hub, path: str) -> None:
    assert (await hub.client.get(path)).status_code == 401
    # Without a token no parameter is weighed: no names are told to a stranger.
    assert (await hub.client.get(path, params={"x": "1"})).status_code == 401
    bad = await hub.client.get(path, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert (await hub.client.get(path, headers=AUTH)).status_code == 200
    admin = await hub.client.get(path, headers={"Authorization": f"Bearer {ADMIN}"})
    assert admin.status_code == 200


async def test_a_record_is_found_by_its_x_road_id_chosen_or_not(hub: Hub) -> None:
    # The X-Road-Id index holds only ids a client chose (migration 0005); lookups by
    # X-Road-Id must still find every record, whichever way its id came.
    chosen = {"X-Road-Id": "case-2026-77"}
    for _ in range(2):
        await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE, **chosen))
    plain = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    records = await hub.records()
    assert [r["id"] == r["request_id"] for r in records] == [False, False, True]

    by_chosen = await get(hub, "/api/transactions/case-2026-77")
    assert by_chosen["request_id"] == records[1]["request_id"]  # the newest with that id
    assert by_chosen["same_xroad_id"] == 2
    by_request = await get(hub, f"/api/transactions/{records[0]['request_id']}")
    assert by_request["id"] == "case-2026-77" and by_request["same_xroad_id"] == 2
    default = await get(hub, f"/api/transactions/{plain.headers['x-road-id']}")
    assert default["request_id"] == records[2]["request_id"]
    assert default["same_xroad_id"] == 1


async def test_a_chosen_x_road_id_with_a_slash_is_found(hub: Hub) -> None:
    # The gateway takes `/` in an X-Road-Id; the lookup answered 404 "Not Found" for it.
    chosen = {"X-Road-Id": "BTP/2026/77"}
    sent = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE, **chosen))
    assert sent.status_code == 200
    for path in ("/api/transactions/BTP/2026/77", "/api/transactions/BTP%2F2026%2F77"):
        found = await get(hub, path)
        assert found["id"] == "BTP/2026/77"
        assert found["request_id"] == sent.headers["x-road-request-id"]
    missing = await hub.client.get("/api/transactions/BTP/2026/78", headers=AUTH)
    assert missing.status_code == 404 and "BTP/2026/78" in missing.json()["detail"]


async def test_blanks_around_a_looked_up_id_are_dropped(hub: Hub) -> None:
    # An id copied from a table with a blank at an end answered 404 "... 'case-2026-77 '".
    sent = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE, **{"X-Road-Id": "c-9"}))
    assert sent.status_code == 200
    for path in ("/api/transactions/%20c-9%20", "/api/transactions/c-9%09"):
        found = await get(hub, path)
        assert found["request_id"] == sent.headers["x-road-request-id"]
    missing = await hub.client.get("/api/transactions/%20c-8%20", headers=AUTH)
    assert missing.status_code == 404 and "'c-8'" in missing.json()["detail"], missing.text


async def test_listed_items_carry_each_records_body_hashes(hub: Hub) -> None:
    records = {r["request_id"]: r for r in await traffic(hub)}
    items = (await get(hub, "/api/transactions", limit=100))["items"]
    assert len(items) == len(records)
    for item in items:
        rec = records[item["request_id"]]
        assert (item["request_hash"], item["response_hash"]) == (
            rec["request_hash"],
            rec["response_hash"],
        )
    assert all(item["request_hash"] for item in items)
