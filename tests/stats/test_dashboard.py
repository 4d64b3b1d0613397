"""The dashboard in a real headless Chromium: no console errors, and charts with data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.gateway.conftest import CITIZEN, PROVIDER, load_registry, provider_app, registry_doc
from tests.support import OPERATOR, make_settings, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip

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
                    await page.goto(f"{hub_url}/dashboard")
                    await page.wait_for_selector("body[data-loaded='yes']", timeout=15000)
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
                finally:
                    await browser.close()
    assert problems == []
    # The tiles and the matrix count from the chart's first bucket edge, not from 24 hours
    # ago to the second: then they add up to the bars.
    since = "since=" + quote(chart["since"], safe="")
    for route in ("/api/stats/summary?", "/api/stats/matrix?"):
        assert any(route + since in url for url in asked), (route, since, asked)
    assert volume == 6 and total == "6"
    assert latency == 3
    # The provider's own 404 ("no such citizen") is a failure too, beside the hub's faults.
    assert sorted(faults) == ["Client.AccessDenied", "Client.BadRequest", "provider 404"]
    assert sorted(cells) == ["1", "5", "·", "·"]  # a row and a column each
    assert rate == "100 %"
    # The refused exchange has no provider or client: named so, not an empty label.
    assert sorted(series) == ["(not identified)", PROVIDER]
    assert "(not identified)" in heads and "" not in heads
    assert summary["total"] == 6 and summary["response_bytes"] > 0
    sent = summary["request_bytes"] + summary["response_bytes"]
    assert shared == (f"{sent} B" if sent < 1000 else f"{sent / 1000:.2f} kB")
    assert zone == "times in Asia/Ho_Chi_Minh"
    assert len(many) == 10 and many[:9] == [[f"VN/GOV/P{i:02}/provider", 12 - i] for i in range(9)]
    assert many[9] == ["other (3)", 120 - sum(12 - i for i in range(9))]
