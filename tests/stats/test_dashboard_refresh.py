"""The dashboard over time, as an operator leaves it open: a hub slower than the refresh,
series hidden from a legend, a token dialog cancelled, the file a download is saved as,
figures at a unit's edge, and why a provider is down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.stats.test_dashboard import dashboard, pytestmark  # noqa: F401  (browser, chromium)
from tests.stats.test_dashboard_views import FAULTS, PROVIDERS, some_traffic
from tests.support import OPERATOR

VISIBLE = "(id => (c => c.data.datasets.map((d, i) => c.isDatasetVisible(i)))(Chart.getChart(id)))"

# The middle of a chart's legend entry, in the page's coordinates.
LEGEND_ENTRY = """([id, i]) => {
  const c = Chart.getChart(id), box = c.legend.legendHitBoxes[i];
  const at = c.canvas.getBoundingClientRect();
  return [at.left + box.left + box.width / 2, at.top + box.top + box.height / 2];
}"""


async def test_a_hub_slower_than_the_refresh_still_draws(sqlite_url: str, tmp_path: Path) -> None:
    """Each refresh dropped the one before it: a hub taking over 15 seconds to answer (a
    month of traffic, a busy database) never had its answer drawn, the page stayed blank
    with nothing said, and another set of queries was sent every 15 seconds."""
    await some_traffic(sqlite_url)
    held: list[Any] = []
    asked: list[str] = []

    async def slow(route: Any) -> None:
        asked.append(route.request.url)
        held.append(route)

    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.clock.install()
        await page.route("**/api/stats/timeseries*", slow)
        await page.reload()
        await page.wait_for_timeout(300)
        for _ in range(2):  # half a minute passes, the first answer still to come
            await page.clock.run_for(15000)
            await page.wait_for_timeout(200)
        waiting = await page.locator("#status").inner_text()
        asked_while_waiting = len(asked)
        await held.pop().continue_()
        await page.wait_for_selector("body[data-loaded='yes']")
        drawn = await page.evaluate(
            "Chart.getChart('volume').data.datasets.reduce((n, d) => n + d.data.reduce("
            "(a, b) => a + b, 0), 0)"
        )
        await page.unroute("**/api/stats/timeseries*")
        async with page.expect_response("**/api/stats/timeseries*"):
            await page.clock.run_for(15000)  # and the next period asks again
    assert asked_while_waiting == 1, asked
    assert "waiting for the hub" in waiting, waiting
    assert drawn == len(PROVIDERS) * 3 + len(FAULTS)
    assert problems == []


async def test_a_series_hidden_from_the_legend_stays_hidden(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A provider hidden from the volume chart by a click on its legend entry (to see the
    smaller ones), or the hub's share hidden from the latency chart, came back at the next
    refresh, 15 seconds later."""
    await some_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        for chart, entry in (("volume", 0), ("latency", 1)):
            x, y = await page.evaluate(LEGEND_ENTRY, [chart, entry])
            await page.mouse.click(x, y)
        await page.wait_for_function(f"() => !{VISIBLE}('latency')[1]")
        hidden = await page.evaluate(
            "Chart.getChart('volume').data.datasets.filter((d, i) => "
            "!Chart.getChart('volume').isDatasetVisible(i)).map(d => d.key)"
        )
        await page.evaluate("refresh()")
        volume = await page.evaluate(VISIBLE, "volume")
        keys = await page.evaluate("Chart.getChart('volume').data.datasets.map(d => d.key)")
        latency = await page.evaluate(VISIBLE, "latency")
        # Shown again by a second click, it stays shown.
        x, y = await page.evaluate(LEGEND_ENTRY, ["latency", 1])
        await page.mouse.click(x, y)
        await page.wait_for_function(f"() => {VISIBLE}('latency')[1]")
        await page.evaluate("refresh()")
        again = await page.evaluate(VISIBLE, "latency")
    assert len(hidden) == 1, hidden
    assert [k for k, shown in zip(keys, volume, strict=True) if not shown] == hidden
    assert volume.count(False) == 1
    assert latency == [True, False]
    assert again == [True, True]
    assert problems == []


async def test_a_download_is_named_by_its_first_bucket_as_the_chart_labels_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The file was named by the first bucket's instant in UTC ("...T12-00.csv") while its
    first row, and the chart, said 19:00 in the hub's zone."""
    await some_traffic(sqlite_url)
    names = {}
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        for what in ("volume", "matrix"):
            async with page.expect_download() as info:
                await page.click(f"#{what}-csv")
            download = await info.value
            names[what] = download.suggested_filename
            await download.save_as(tmp_path / f"{what}.csv")
        await page.select_option("#range", "30d")
        await page.wait_for_function(
            "() => Chart.getChart('volume').options.scales.y.title.text.endsWith('day')"
        )
        async with page.expect_download() as info:
            await page.click("#volume-csv")
        download = await info.value
        names["30d"] = download.suggested_filename
        await download.save_as(tmp_path / "30d.csv")
    first = (tmp_path / "volume.csv").read_bytes().decode("utf-8-sig").split("\r\n")[1]
    label = first.split(",")[0]  # 2026-12-06T19:00, in the hub's zone
    assert names["volume"] == f"hub-volume-{label.replace(':', '-')}.csv", (names, label)
    assert names["matrix"] == f"hub-matrix-{label.replace(':', '-')}.csv", (names, label)
    day = (tmp_path / "30d.csv").read_bytes().decode("utf-8-sig").split("\r\n")[1].split(",")[0]
    assert names["30d"] == f"hub-volume-{day}.csv", (names, day)
    assert problems == []


async def test_figures_at_a_unit_s_edge_take_the_next_unit(sqlite_url: str, tmp_path: Path) -> None:
    """999,999 bytes read "1000 kB" and 99,950 "100.0 kB"; three failures in a million
    exchanges read "0.00 %" beside "3 failed", a provider's one error in 5,000 "0.0 %", and
    249 providers reachable of 250 "100 %"."""
    await some_traffic(sqlite_url)
    shown: dict[str, list[str]] = {"shared": [], "rate": []}
    figures = iter([(999_999, 1_000_000, 3), (99_950, 1_000_000, 0), (999, 1_000_000, 60)])

    async def summary(route: Any) -> None:
        resp = await route.fetch()
        s = await resp.json()
        sent, total, failed = next(figures)
        s.update(request_bytes=sent, response_bytes=0, total=total, succeeded=total - failed,
                 failed=failed)  # fmt: skip
        await route.fulfill(response=resp, json=s)

    async def health(route: Any) -> None:
        resp = await route.fetch()
        h = await resp.json()
        h["providers"] = [{"provider": PROVIDERS[0], "base_url": "http://x", "reachable": True,
                           "status": 200, "check_ms": 1.0, "checked_at": None, "error": None,
                           "exchanges": 5000, "errors": 1, "error_rate": 0.0002,
                           "circuit": "closed", "circuit_workers": None}]  # fmt: skip
        h["registered"], h["reachable"], h["connection_rate"] = 250, 249, 249 / 250
        await route.fulfill(response=resp, json=h)

    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.route("**/api/stats/summary*", summary)
        await page.route("**/api/health/providers*", health)
        for _ in range(3):
            await page.evaluate("refresh()")
            shown["shared"].append(await page.locator("[data-figure='data shared']").inner_text())
            shown["rate"].append(await page.locator("[data-figure='error rate']").inner_text())
        provider = await page.locator("#health td.num").all_inner_texts()
        connected = await page.locator("#connection-rate").inner_text()
    assert shown["shared"] == ["1.00 MB", "100 kB", "999 B"], shown
    assert shown["rate"] == ["< 0.01 %", "0.00 %", "0.01 %"], shown
    assert provider == ["5,000", "< 0.1 %"], provider
    assert connected == "> 99 %"  # not "100 %" with one provider down
    assert problems == []


async def test_a_dialog_cancelled_stays_closed_until_token_is_pressed(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The token dialog, cancelled (its button or Escape) to read the figures left on the
    page, opened again over them at the next refresh, every 15 seconds."""
    async with dashboard(sqlite_url, tmp_path, token="an-old-token") as (page, problems):
        await page.wait_for_selector("#token-dialog[open]")
        await page.clock.install()
        await page.reload()
        await page.wait_for_selector("#token-dialog[open]")
        await page.get_by_role("button", name="Cancel").click()
        async with page.expect_response("**/api/stats/timeseries*"):
            await page.clock.run_for(15000)  # the page still tries
        await page.wait_for_timeout(200)
        after_cancel = await page.evaluate("document.getElementById('token-dialog').open")
        status = await page.locator("#status").inner_text()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")  # the Token button, from the keyboard
        reopened = await page.evaluate("document.getElementById('token-dialog').open")
        await page.keyboard.press("Escape")
        async with page.expect_response("**/api/stats/timeseries*"):
            await page.clock.run_for(15000)
        await page.wait_for_timeout(200)
        after_escape = await page.evaluate("document.getElementById('token-dialog').open")
        await page.click("#change-token")
        await page.fill("#token", OPERATOR)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("body[data-loaded='yes']")
        # A token refused later (changed on the hub) is asked for again.
        await page.evaluate("localStorage.setItem('hub.operatorToken', 'changed-since')")
        await page.evaluate("refresh()")
        asked_again = await page.evaluate("document.getElementById('token-dialog').open")
    assert not after_cancel and "Token" in status, status
    assert reopened and not after_escape
    assert asked_again
    assert problems == []


async def test_why_a_provider_is_down_is_written_on_a_phone(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The reason ("ConnectError: All connection attempts failed") was only the tooltip of
    "down", which no phone or keyboard shows; in the state column it would break inside
    every word."""
    reasons = ["ConnectError: All connection attempts failed", "HTTP 503",
               "ReadTimeout: " + "x" * 180]  # fmt: skip

    async def health(route: Any) -> None:
        resp = await route.fetch()
        h = await resp.json()
        h["providers"] = [{"provider": p, "base_url": "http://x", "reachable": False,
                           "status": 503 if why == "HTTP 503" else None, "check_ms": None,
                           "checked_at": None, "error": None if why == "HTTP 503" else why,
                           "exchanges": 10, "errors": 10, "error_rate": 1.0,
                           "circuit": "open", "circuit_workers": None}
                          for p, why in zip(PROVIDERS, reasons, strict=False)]  # fmt: skip
        h["registered"], h["reachable"], h["connection_rate"] = 3, 0, 0.0
        await route.fulfill(response=resp, json=h)

    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.route("**/api/health/providers*", health)
        await page.reload()
        await page.wait_for_selector("#health .reason")
        states = await page.locator("#health tbody td:nth-child(2)").all_inner_texts()
        edges = await page.evaluate(
            "[...document.querySelectorAll('#health .reason')].map(r => "
            "r.getBoundingClientRect().right)"
        )
        card = await page.evaluate(
            "document.getElementById('health').getBoundingClientRect().right"
        )
        lines = await page.evaluate(
            "(r => r.getBoundingClientRect().height / parseFloat(getComputedStyle(r).lineHeight))"
            "(document.querySelector('#health .reason'))"
        )
        widths = await page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
    assert [s.split("\n", 1) for s in states] == [["down", r] for r in reasons], states
    assert all(edge <= card for edge in edges), (edges, card)
    assert round(lines) == 1, lines  # a line under the figures, not a word a line in a column
    assert widths[0] <= widths[1], widths
    assert problems == []
