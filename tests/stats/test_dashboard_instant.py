"""One refresh of the dashboard describes one instant: its tiles, bars and matrix count the
same exchanges, whatever the hub logs while the page asks for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.stats.conftest import log_records, record
from tests.stats.test_dashboard import dashboard, pytestmark  # noqa: F401  (browser, chromium)

FIGURES = """() => ({
  tiles: document.querySelector("[data-figure='exchanges']").textContent,
  bars: Chart.getChart('volume').data.datasets
    .reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0),
  matrix: [...document.querySelectorAll('#matrix td.cell')]
    .reduce((n, td) => n + (Number(td.textContent.replace(/,/g, '')) || 0), 0),
})"""
ROUTES = ("**/api/stats/timeseries*", "**/api/stats/summary*")


async def test_tiles_bars_and_matrix_of_one_refresh_count_the_same_exchanges(
    db_url: str, tmp_path: Path
) -> None:
    """An exchange logged just before the series is read, and one just before the summary
    is: the tiles counted up to their own request and came out above the bars. The
    summary and the matrix now end at the series' `until`, the hub's "now" it counted to."""
    earlier = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=2)
    await log_records(db_url, [record(earlier) for _ in range(3)])
    asked: list[str] = []

    async def logged_meanwhile(route: Any) -> None:
        # Stamped now, after the page's refresh began: between its requests, as live traffic.
        asked.append(route.request.url)
        await log_records(db_url, [record(datetime.now(UTC).replace(tzinfo=None))])
        await route.continue_()

    async with dashboard(db_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        before = await page.evaluate(FIGURES)
        for route in ROUTES:
            await page.route(route, logged_meanwhile)
        await page.evaluate("document.body.dataset.loaded = 'no'; refresh()")
        await page.wait_for_selector("body[data-loaded='yes']")
        for route in ROUTES:
            await page.unroute(route)
        during = await page.evaluate(FIGURES)
        await page.evaluate("document.body.dataset.loaded = 'no'; refresh()")
        await page.wait_for_selector("body[data-loaded='yes']")
        after = await page.evaluate(FIGURES)
    assert before == {"tiles": "3", "bars": 3, "matrix": 3}
    assert len(asked) == 2, asked
    # The one logged before the series was read is in all three; the other in none.
    assert during == {"tiles": "4", "bars": 4, "matrix": 4}, during
    assert after == {"tiles": "5", "bars": 5, "matrix": 5}  # the next refresh has it
    assert problems == []


async def test_a_browser_clock_set_wrong_changes_neither_range_nor_time(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The figures are of the hub's "now": a browser two hours behind reads the last hour
    and "updated" at the hub's time, not its own."""
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.clock.set_system_time(datetime.now(UTC) - timedelta(hours=2))
        await page.evaluate("document.body.dataset.loaded = 'no'")
        await page.select_option("#range", "1h")
        await page.wait_for_selector("body[data-loaded='yes']")
        status = await page.locator("#status").inner_text()
        labels = await page.evaluate("Chart.getChart('volume').data.labels")
    hub = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    shown = datetime.strptime(status.removeprefix("updated "), "%H:%M:%S")
    assert status.startswith("updated "), status
    assert abs(hub.hour * 60 + hub.minute - shown.hour * 60 - shown.minute) % 1440 <= 1, status
    # Each bar as its tooltip dates it, "8 Dec 02:47": the hub's minute, or the one before.
    times = [hub, hub - timedelta(minutes=1)]
    assert labels[-1] in [f"{t.day} {t:%b %H:%M}" for t in times], labels[-3:]
    assert problems == []
