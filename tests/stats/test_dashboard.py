"""The dashboard in a real headless Chromium: no console errors, and charts with data."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.gateway.conftest import CITIZEN, PROVIDER, load_registry, provider_app, registry_doc
from tests.stats.conftest import log_records, record
from tests.support import OPERATOR, make_settings, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip

# Every Content-Security-Policy violation the page reports, kept where the test reads it.
WATCH_POLICY = """
window.refusedByPolicy = [];
document.addEventListener("securitypolicyviolation", (e) => window.refusedByPolicy.push(
  `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


async def test_dashboard_loads_without_errors_and_draws_data(
    sqlite_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    from hub.app import create_app

    papp = provider_app()
    async with serve(papp) as base_url:
        keys = await load_registry(sqlite_url, registry_doc(base_url))
        app = create_app(make_settings(sqlite_url, tmp_path))
        async with serve(app) as hub_url, httpx.AsyncClient(base_url=hub_url) as client:
            headers = {"X-Road-Client": "VN/GOV/BTP/civil-status",
                       "Authorization": f"Bearer {keys['VN/GOV/BTP/civil-status']}",
                       "X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"}  # fmt: skip
            for cid in (CITIZEN, CITIZEN, CITIZEN, "079203009999"):
                await client.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/{cid}", headers=headers)
            await client.get(f"/r1/{PROVIDER}/ungranted/citizens/{CITIZEN}", headers=headers)
            await client.get("/r1/VN", headers=headers)  # refused before anything is known
            await client.get("/api/health/providers?refresh=true",
                             headers={"Authorization": f"Bearer {OPERATOR}"})  # fmt: skip

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    page = await browser.new_page()
                    problems: list[str] = []
                    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                    page.on("pageerror", lambda e: problems.append(str(e)))
                    asked: list[str] = []
                    page.on("request", lambda r: asked.append(r.url))
                    await page.add_init_script(
                        f"localStorage.setItem('hub.operatorToken', '{OPERATOR}')"
                    )
                    await page.add_init_script(WATCH_POLICY)
                    opened = await page.goto(f"{hub_url}/dashboard")
                    await page.wait_for_selector("body[data-loaded='yes']", timeout=15000)
                    policy = (await opened.all_headers()).get("content-security-policy", "")
                    refused = await page.evaluate("window.refusedByPolicy")
                    volume = await page.evaluate(
                        "Chart.getChart('volume').data.datasets"
                        ".reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0)"
                    )
                    latency = await page.evaluate(
                        "Chart.getChart('latency').data.datasets[0].data.filter(v => v > 0).length"
                    )
                    faults = await page.evaluate("Chart.getChart('errors').data.labels")
                    series = await page.evaluate(
                        "Chart.getChart('volume').data.datasets.map(d => d.label)"
                    )
                    heads = await page.locator("#matrix th").all_inner_texts()
                    cells = await page.locator("#matrix td.cell").all_inner_texts()
                    cells_bg = await page.evaluate(
                        "[...document.querySelectorAll('#matrix td.cell')]"
                        ".map(td => td.style.backgroundColor)"
                    )
                    total = await page.locator("[data-figure='exchanges']").inner_text()
                    rate = await page.locator("#connection-rate").inner_text()
                    shared = await page.locator("[data-figure='data shared']").inner_text()
                    zone = await page.locator("#volume-zone").inner_text()
                    summary = (await client.get("/api/stats/summary?since=24h",
                        headers={"Authorization": f"Bearer {OPERATOR}"})).json()  # fmt: skip
                    chart = (await client.get("/api/stats/timeseries?since=24h&bucket=hour",
                        headers={"Authorization": f"Bearer {OPERATOR}"})).json()  # fmt: skip

                    # More groups than colours: the biggest nine, and one "other" bar for the
                    # rest, so each bar still adds up to its bucket's total.
                    async def many_groups(route: Any) -> None:
                        resp = await route.fetch()
                        ts = await resp.json()
                        keys = [f"VN/GOV/P{i:02}/provider" for i in range(12)]
                        ts["keys"] = keys
                        ts["points"] = [{**p, "total": 120, "groups": {k: 12 - i for i, k in
                            enumerate(keys)}} for p in ts["points"]]  # fmt: skip
                        await route.fulfill(response=resp, json=ts)

                    await page.route("**/api/stats/timeseries*", many_groups)
                    await page.reload()
                    await page.wait_for_selector("body[data-loaded='yes']", timeout=15000)
                    many = await page.evaluate(
                        "Chart.getChart('volume').data.datasets.map(d => [d.label, d.data[0]])"
                    )
                    refused += await page.evaluate("window.refusedByPolicy")
                finally:
                    await browser.close()
    assert problems == []
    # The page ran under its strict policy (hub/core/headers.py) and broke none of it: the
    # matrix's colours are set from the script, not as inline style attributes.
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy, policy
    assert refused == [], refused
    # A row and a column each, with the failures under the count (the unknown citizen and
    # the ungranted call; the caller refused before it was known).
    assert sorted(cells) == ["1\n1 failed", "5\n2 failed", "·", "·"], cells
    coloured = [c for c in cells_bg if c]
    assert len(coloured) == 2 and all("(11, 107, 203" in c for c in coloured), coloured
    # The tiles and the matrix count from the chart's first bucket edge, not from 24 hours
    # ago to the second: then they add up to the bars.
    since = "since=" + quote(chart["since"], safe="")
    for route in ("/api/stats/summary?", "/api/stats/matrix?"):
        assert any(route + since in url for url in asked), (route, since, asked)
    assert volume == 6 and total == "6"
    assert latency == 3
    # The provider's own 404 ("no such citizen") is a failure too, beside the hub's faults.
    assert sorted(faults) == ["Client.AccessDenied", "Client.BadRequest", "provider 404"]
    assert rate == "100 %"
    # The refused exchange has no provider or client: named so, not an empty label; the
    # provider by the registry's names (tests/stats/test_dashboard_names.py has the rest).
    assert sorted(series) == ["(not identified)", "Bộ Công an · Dân cư"]
    assert "(not identified)" in heads and "" not in heads
    assert summary["total"] == 6 and summary["response_bytes"] > 0
    sent = summary["request_bytes"] + summary["response_bytes"]
    assert shared == (f"{sent} B" if sent < 1000 else f"{sent / 1000:.2f} kB")
    assert zone == "times in Asia/Ho_Chi_Minh"
    assert len(many) == 10 and many[:9] == [[f"VN/GOV/P{i:02}/provider", 12 - i] for i in range(9)]
    assert many[9] == ["other (3)", 120 - sum(12 - i for i in range(9))]


@contextlib.asynccontextmanager
async def dashboard(
    db_url: str,
    tmp_path: Path,
    token: str | None = OPERATOR,
    width: int = 1280,
    before: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None,
    zone: str = "Asia/Ho_Chi_Minh",
    locale: str = "en-US",
    **settings: Any,
) -> AsyncIterator[tuple[Any, list[str]]]:
    """The hub on ``db_url`` and a Chromium page on its dashboard (not yet loaded), with the
    page's errors collected; ``token`` is what the browser has kept, ``before`` runs against
    the hub first, ``zone`` and ``locale`` are the browser's."""
    from playwright.async_api import async_playwright

    from hub.app import create_app

    app = create_app(make_settings(db_url, tmp_path, **settings))
    async with serve(app) as hub_url, async_playwright() as pw:
        if before is not None:
            async with httpx.AsyncClient(base_url=hub_url) as client:
                await before(client)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": width, "height": 900}, timezone_id=zone, locale=locale
            )
            problems: list[str] = []
            page.on("console", lambda m: m.type == "error" and "401" not in m.text
                    and problems.append(m.text))  # fmt: skip
            page.on("pageerror", lambda e: problems.append(str(e)))
            if token is not None:
                await page.add_init_script(f"localStorage.setItem('hub.operatorToken', '{token}')")
            page.set_default_timeout(15000)
            await page.add_init_script(WATCH_POLICY)
            await page.goto(f"{hub_url}/dashboard")
            yield page, problems
            # Each test asserts problems == [] after the block: with the policy's refusals.
            problems.extend(await page.evaluate("window.refusedByPolicy"))
        finally:
            await browser.close()


async def test_a_refused_token_is_said_in_the_dialog_and_typing_survives_refreshes(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with dashboard(sqlite_url, tmp_path, token="an-old-token") as (page, problems):
        await page.wait_for_selector("#token-dialog[open]")
        await page.wait_for_function("document.getElementById('status').textContent !== ''")
        said = await page.locator("#token-dialog").inner_text()
        await page.fill("#token", "half-typ")
        await page.evaluate("refresh()")  # what the 15-second timer does
        await page.wait_for_function("document.getElementById('status').textContent !== ''")
        await page.wait_for_timeout(300)
        typed = await page.input_value("#token")
        await page.fill("#token", f" {OPERATOR} ")  # as pasted
        await page.click("#token-form button[type=submit]")
        await page.wait_for_selector("body[data-loaded='yes']")
        still_open = await page.evaluate("document.getElementById('token-dialog').open")
        said_after = await page.locator("#token-error").inner_text()
    assert "refused" in said
    assert typed == "half-typ"
    assert not still_open and said_after == ""
    assert problems == []  # no unhandled rejection from the requests refused together


async def test_without_a_token_the_page_says_what_to_do(sqlite_url: str, tmp_path: Path) -> None:
    async with dashboard(sqlite_url, tmp_path, token=None) as (page, problems):
        await page.wait_for_selector("#token-dialog[open]")
        await page.keyboard.press("Escape")
        status = await page.locator("#status").inner_text()
    assert "token" in status.lower() and "Token" in status
    assert problems == []


async def test_the_charts_show_the_range_chosen_last(sqlite_url: str, tmp_path: Path) -> None:
    """A slow answer for a range left behind does not overwrite the range chosen since."""
    await log_records(sqlite_url, [record(datetime.now(UTC) - timedelta(minutes=2))])  # drawn
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")

        held = asyncio.Event()

        async def slow_30d(route: Any) -> None:
            if "since=30d" in route.request.url:
                held.set()
                await asyncio.sleep(1.5)
            await route.continue_()

        summaries: list[Any] = []  # each refresh asks for one, after its series
        both = asyncio.Event()

        def answered(response: Any) -> None:
            if "/api/stats/summary" in response.url:
                summaries.append(response)
                if len(summaries) == 2:
                    both.set()

        page.on("response", answered)
        await page.route("**/api/stats/timeseries*", slow_30d)
        await page.select_option("#range", "30d")
        await asyncio.wait_for(held.wait(), 30)  # the 30 days' series is held back
        await page.select_option("#range", "1h")
        for _ in range(600):  # until the hour is drawn (30 s at most)
            if await page.evaluate("Chart.getChart('volume').data.labels.length") == 61:
                break
            await asyncio.sleep(0.05)
        # Then the range left behind answers too (however busy the machine), and has its
        # moment to draw over the hour wrongly.
        await asyncio.wait_for(both.wait(), 30)
        await asyncio.gather(*(r.finished() for r in summaries))
        await page.wait_for_timeout(300)
        labels = await page.evaluate("Chart.getChart('volume').data.labels")
        axis = await page.evaluate(
            "Chart.getChart('volume').scales.x.ticks.map(t => t.label).filter(Boolean)"
        )
        unit = await page.evaluate("Chart.getChart('volume').options.scales.y.title.text")
    assert len(labels) == 61  # the last hour's minutes, not the 31 days
    # Each bar's tooltip with its date ("6 Dec 09:15": "06-12 09:15" read as 12 June to
    # anyone used to month-day); on the axis, its time, and the date on the first label
    # and where the day turns.
    day_time = r"\d{1,2} [A-Z][a-z]{2} \d\d:\d\d"
    assert all(re.fullmatch(day_time, label) for label in labels), labels
    dated = [label for label in axis if " " in label]
    assert re.fullmatch(day_time, axis[0]), axis[0]
    assert all(re.fullmatch(r"\d\d:\d\d", label) for label in axis if label not in dated)
    assert 1 <= len(dated) <= 2, dated
    assert unit == "exchanges per minute"
    assert problems == []


async def test_an_empty_database_and_a_narrow_window(sqlite_url: str, tmp_path: Path) -> None:
    """At 800 px nothing runs off the page, every fault code keeps its label, and counts
    are whole numbers; with no exchanges the latency tiles read "–", not "– ms"."""
    providers = [f"VN/GOV/AGENCY{i}/a-rather-long-subsystem-name" for i in range(6)]
    codes = [f"Client.{c}" for c in ("AccessDenied", "BadRequest", "MissingPurpose",
             "RateLimited", "Unauthorized")] + [f"Server.Service{c}" for c in
             ("Failed", "Timeout", "Unavailable", "Disabled")]  # fmt: skip

    async with dashboard(sqlite_url, tmp_path, width=800) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        empty_p95 = await page.locator("[data-figure='p95 latency']").inner_text()
        ticks = await page.evaluate("Chart.getChart('volume').scales.y.ticks.map(t => t.value)")

        async def matrix(route: Any) -> None:
            resp = await route.fetch()
            m = await resp.json()
            m["clients"], m["providers"] = ["VN/GOV/BTP/civil-status"], providers
            m["cells"] = [{"client": "VN/GOV/BTP/civil-status", "provider": p,
                           "count": 1000 + i, "succeeded": 1000, "failed": i}
                          for i, p in enumerate(providers)]  # fmt: skip
            await route.fulfill(response=resp, json=m)

        async def summary(route: Any) -> None:
            resp = await route.fetch()
            s = await resp.json()
            s["by_fault"] = {c: i + 1 for i, c in enumerate(codes)}
            await route.fulfill(response=resp, json=s)

        await page.route("**/api/stats/matrix*", matrix)
        await page.route("**/api/stats/summary*", summary)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.wait_for_timeout(300)
        widths = await page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        labels = await page.evaluate("Chart.getChart('errors').scales.y.ticks.length")
        # Scrolled to its last provider, the matrix still names each row's client.
        await page.evaluate("document.getElementById('matrix').scrollLeft = 10000")
        edges = await page.evaluate(
            "[document.getElementById('matrix').getBoundingClientRect().left,"
            " document.querySelector('#matrix tbody th').getBoundingClientRect().left]"
        )
    assert empty_p95 == "–"
    assert abs(edges[0] - edges[1]) < 2, edges
    assert all(float(t).is_integer() for t in ticks), ticks
    assert widths[0] <= widths[1], widths
    assert labels == len(codes)
    assert problems == []


async def test_health_shows_a_stopped_provider_and_its_open_circuit(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serve(provider_app()) as base_url:
        keys = await load_registry(sqlite_url, registry_doc(base_url))
    # The provider is stopped now: its exchanges fail and open the circuit.

    async def fail(client: httpx.AsyncClient) -> None:
        headers = {"X-Road-Client": "VN/GOV/BTP/civil-status",
                   "Authorization": f"Bearer {keys['VN/GOV/BTP/civil-status']}",
                   "X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"}  # fmt: skip
        for _ in range(3):
            await client.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}", headers=headers)
        await client.get("/api/health/providers?refresh=true",
                         headers={"Authorization": f"Bearer {OPERATOR}"})  # fmt: skip

    opened = dashboard(sqlite_url, tmp_path, before=fail, breaker_min_requests=2)
    async with opened as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        row = page.locator("#health tr", has_text=PROVIDER)
        cells = await row.locator("th, td").all_inner_texts()
        why = await row.locator(".reason").inner_text()
        circuit_bad = await row.locator("th, td").nth(4).get_attribute("class")
        rate = await page.locator("#connection-rate").inner_text()
        heads = await page.locator("#health th").all_inner_texts()
        window = await page.locator("#health-window").inner_text()
    assert cells[0].splitlines() == ["Bộ Công an · Dân cư", PROVIDER], cells  # name, then id
    assert cells[1].splitlines()[0] == "down" and cells[4] == "open", cells
    # The third exchange the open circuit refused: it never reached the provider.
    # A short header, and under the table what its window is, as `hub stats health` says it:
    # "calls (15 min)" counted up to 16 minutes.
    assert heads[2:4] == ["calls", "error rate"], heads
    assert window == "calls and error rate: the last 15 minutes and the current one", window
    assert cells[2:4] == ["2", "100.0 %"], cells
    assert why and cells[1].splitlines()[1:] == [why], cells  # why, without a mouse
    assert circuit_bad == "bad"
    assert rate == "0 %"
    assert problems == []


async def test_a_token_with_characters_no_token_has_is_asked_again(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A token pasted with a typographic dash or an accent: fetch itself refuses such a
    header, which read as "the hub did not answer"."""
    async with dashboard(sqlite_url, tmp_path, token="opérateur—token") as (page, problems):
        await page.wait_for_selector("#token-dialog[open]")
        await page.wait_for_function("document.getElementById('status').textContent !== ''")
        said = await page.locator("#token-error").inner_text()
        status = await page.locator("#status").inner_text()
        await page.fill("#token", "tök")
        await page.click("#token-form button[type=submit]")
        kept_open = await page.evaluate("document.getElementById('token-dialog').open")
        stored = await page.evaluate("localStorage.getItem('hub.operatorToken')")
    assert "characters" in said and "Token" in status, (said, status)
    assert kept_open and stored == "opérateur—token"
    assert problems == []


async def test_times_in_the_hub_s_zone_and_latency_from_a_millisecond_to_seconds(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A browser in another zone: "updated" reads in the hub's zone, as the chart's buckets
    do. Latency spanning 1 ms to 5 s: every bar can still be seen, and tiles read briefly."""
    now = datetime.now(UTC)
    latencies = [0.846] * 50 + [18.829] * 48 + [5099.657] * 2
    await log_records(
        sqlite_url,
        [record(now - timedelta(minutes=1), total_ms=ms, hub_ms=ms / 100) for ms in latencies],
    )
    async with dashboard(sqlite_url, tmp_path, zone="America/New_York") as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        status = await page.locator("#status").inner_text()
        p95 = await page.locator("[data-figure='p95 latency']").inner_text()
        heights = await page.evaluate(
            "Chart.getChart('latency').getDatasetMeta(0).data.map(b => b.base - b.y)"
        )
        values = await page.evaluate("Chart.getChart('latency').data.datasets[0].data")
    hub_time = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    shown = datetime.strptime(status.removeprefix("updated "), "%H:%M:%S")
    assert status.startswith("updated ")
    assert abs(hub_time.hour * 60 + hub_time.minute - shown.hour * 60 - shown.minute) <= 1
    assert re.fullmatch(r"1[89](\.\d)? ms", p95), p95
    assert values[0] < 1 and values[2] > 5000
    assert all(h >= 10 for h in heights), heights  # p50 is not a flat line under p99
    assert problems == []


async def test_the_token_dialog_and_the_hub_going_away(sqlite_url: str, tmp_path: Path) -> None:
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.click("#change-token")
        said = await page.locator("#token-error").inner_text()
        labelled = await page.get_by_label("Operator token").count()
        await page.get_by_role("button", name="Cancel").click()
        still_open = await page.evaluate("document.getElementById('token-dialog').open")
        # In the DOM: with no exchanges the charts are hidden (their "No exchanges" said).
        charts = await page.locator("canvas[role='img']").count()
        unnamed = await page.evaluate(
            "[...document.querySelectorAll('canvas')].filter(c => !c.getAttribute('aria-label'))"
            ".length"
        )

        await page.route("**/api/**", lambda route: route.abort())
        await page.evaluate("refresh()")
        await page.wait_for_selector("#status.error")
        gone = await page.locator("#status").inner_text()
        await page.unroute("**/api/**")
        await page.evaluate("refresh()")
        await page.wait_for_function("!document.getElementById('status').className")
        back = await page.locator("#status").inner_text()
    assert said == ""  # not "[object PointerEvent]"
    assert labelled == 1 and not still_open
    assert charts == 3 and unnamed == 0
    # The figures left on the page are said to be old, and that the page keeps trying.
    assert "did not answer" in gone and "figures from" in gone and "retrying" in gone, gone
    assert back.startswith("updated ")
    assert problems == [] or all("ERR_FAILED" in p for p in problems), problems
