"""The dashboard as an operator reads it over a week, on a small phone and from a screen
reader: every day dated on the time axis, every fault code whole, every control named."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.gateway.conftest import load_registry, registry_doc
from tests.stats.conftest import log_records, record
from tests.stats.test_dashboard import dashboard, pytestmark  # noqa: F401  (browser, chromium)
from tests.stats.test_dashboard_views import some_traffic

# A label the axis or a tooltip dates: "2 Dec 00:00".
DATED = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d\d:\d\d")

# The volume axis's labels as drawn ("" where a bucket has none), and where each is drawn.
AXIS = """(() => { const x = Chart.getChart('volume').scales.x;
  return x.ticks.map((t, i) => [t.label, x.getPixelForTick(i)]); })()"""

# The colour of each of the volume axis's grid lines.
GRID = """(() => { const x = Chart.getChart('volume').scales.x;
  return x.ticks.map((t, i) => x.options.grid.setContext(x.getContext(i)).color); })()"""


async def until(page: Any, expression: str) -> None:
    """Waits for ``expression`` to hold on the page: polled, since the page's policy refuses
    the eval wait_for_function polls a string with."""
    for _ in range(150):
        if await page.evaluate(expression):
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


async def bars_over(page: Any, n: int) -> None:
    """Waits for the volume chart to have more than ``n`` buckets (a new range drawn)."""
    await until(
        page, f"(Chart.getChart('volume') || {{data: {{labels: []}}}}).data.labels.length > {n}"
    )


async def test_a_week_dates_every_day_on_the_time_axis_and_in_tooltips(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Over the last 7 days the axis read "1 Dec 02:00", then "02:00" seven times: Chart.js
    skipped the labels that carried the dates, and a bar's tooltip said "10:00" of no day."""
    await some_traffic(sqlite_url)
    for width in (1280, 375):
        async with dashboard(sqlite_url, tmp_path, width=width) as (page, problems):
            await page.wait_for_selector("body[data-loaded='yes']")
            await page.select_option("#range", "7d")
            await bars_over(page, 100)
            await page.wait_for_timeout(300)
            axis = await page.evaluate(AXIS)
            titles = await page.evaluate("Chart.getChart('volume').data.labels")
            grid = await page.evaluate(GRID)
        shown = [(text, x) for text, x in axis if text]
        days = {DATED.match(text).group(0)[:-6] for text, _ in shown if DATED.match(text)}
        assert len(days) >= 7, (width, shown)  # 8 local days, the first one partly
        gaps = [b - a for (_, a), (_, b) in zip(shown, shown[1:], strict=False)]
        assert min(gaps) >= 20, (width, shown)  # no label written over the next one
        assert all(DATED.fullmatch(t) for t in titles), titles[:5]
        # A grid line under each label, none between: one a bucket greyed out the bars.
        lines = [
            text for (text, _), colour in zip(axis, grid, strict=True) if colour != "transparent"
        ]
        assert lines == [text for text, _ in shown], (width, lines)
        assert problems == []


async def test_an_hour_across_midnight_dates_the_new_day(sqlite_url: str, tmp_path: Path) -> None:
    """The minute axis of the last hour keeps the label where the day changes."""
    await some_traffic(sqlite_url)

    async def across_midnight(route: Any) -> None:
        resp = await route.fetch()
        ts = await resp.json()
        start = datetime(2026, 12, 7, 23, 20)
        for i, p in enumerate(ts["points"]):
            p["label"] = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M")
        await route.fulfill(response=resp, json=ts)

    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.route("**/api/stats/timeseries*", across_midnight)
        await page.select_option("#range", "1h")
        await bars_over(page, 50)
        await page.wait_for_timeout(300)
        axis = await page.evaluate(AXIS)
    shown = [text for text, _ in axis if text]
    assert "8 Dec 00:00" in shown, shown
    assert shown[0].startswith("7 Dec "), shown
    assert problems == []


async def test_on_a_small_phone_every_fault_code_is_written_whole(
    sqlite_url: str, tmp_path: Path
) -> None:
    """At 375 px "Server.ServiceUnavailable", what an open circuit answers, lost its first
    letter at the card's edge, and at 320 px its first word: Chart.js gives the labels half
    the chart's width at most."""
    now = datetime.now(UTC) - timedelta(minutes=2)
    await log_records(sqlite_url, [
        record(now, succeeded=False, status_code=503, fault_code="Server.ServiceUnavailable"),
        record(now, succeeded=False, status_code=403, fault_code="Client.AccessDenied"),
    ])  # fmt: skip
    for width in (320, 375):
        async with dashboard(sqlite_url, tmp_path, width=width) as (page, problems):
            await page.wait_for_selector("body[data-loaded='yes']")
            room = await page.evaluate(
                """(() => { const c = Chart.getChart('errors'), y = c.scales.y;
                  c.ctx.save(); c.ctx.font = Chart.helpers.toFont(y.options.ticks.font).string;
                  const lines = y.ticks.flatMap((t) => [].concat(t.label));
                  const widest = Math.max(...lines.map((l) => c.ctx.measureText(l).width));
                  c.ctx.restore();
                  return [widest + y.options.ticks.padding + y.options.grid.tickLength,
                          y.right, c.chartArea.height / y.ticks.length,
                          lines.length / y.ticks.length]; })()"""
            )
            said = await page.locator("#errors").get_attribute("aria-label")
            title = await page.evaluate(
                "(c => c.options.plugins.tooltip.callbacks.title(c.data.labels.map((l, i) =>"
                " ({dataIndex: i}))))(Chart.getChart('errors'))"
            )
        needed, right, per_code, lines = room
        assert needed <= right, (width, room)
        assert per_code >= 14 * lines, (width, room)  # two lines of 12 px do not overlap
        assert said and "Server.ServiceUnavailable 1" in said, said
        assert sorted(title) == ["Client.AccessDenied", "Server.ServiceUnavailable"], title
        assert problems == []


async def test_every_control_and_table_has_a_name_of_its_own(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A screen reader heard "Download CSV" twice, of no telling what, two tables of no
    name, and the health table's figures without the provider they are of."""
    await load_registry(sqlite_url, registry_doc("http://127.0.0.1:9"))  # providers' health
    await some_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.wait_for_selector("#health table")
        tree = await page.locator("main").aria_snapshot()
        buttons = re.findall(r'button "([^"]+)"', tree)
        tables = re.findall(r"- table(?: \"([^\"]*)\")?:", tree)
        rows = await page.evaluate(
            "[...document.querySelectorAll('#health tbody tr')].map((tr) =>"
            " [tr.firstElementChild.tagName, tr.firstElementChild.scope])"
        )
    assert len(buttons) == 2 and len(set(buttons)) == 2, buttons
    assert all("Download CSV" in b for b in buttons), buttons  # the words shown, for voice
    assert tables == ["Who shared with whom", "Provider health"], tables
    assert rows and all(r == ["TH", "row"] for r in rows), rows
    assert problems == []


async def test_the_page_says_where_its_figures_start(sqlite_url: str, tmp_path: Path) -> None:
    """ "last 24 hours" counted from the hour's edge 24 hours back, up to 25 hours, and the
    page did not say so: `hub stats summary --since 24h` gave the operator other figures."""
    await some_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        first = await page.evaluate("Chart.getChart('volume').data.labels[0]")
        span = await page.locator("#span").inner_text()
        ends = await page.locator("#span").get_attribute("title")
        await page.select_option("#range", "30d")
        await until(page, "/^since \\d{4}/.test(document.getElementById('span').textContent)")
        days = await page.locator("#span").inner_text()
    assert DATED.fullmatch(first) and first.endswith(":00"), first
    assert span == f"since {first}", span
    assert ends and re.fullmatch(r"--since \S+Z --until \S+Z", ends), ends
    assert re.fullmatch(r"since \d{4}-\d\d-\d\d", days), days  # a day's edge
    assert problems == []


async def test_the_latency_axis_draws_a_line_only_under_its_labels(
    sqlite_url: str, tmp_path: Path
) -> None:
    """From a millisecond to a timeout's 5 s the axis drew a grey line at each of 1 to 9 of
    every decade, 30 lines behind six bars, most of them with no label to read them by."""
    now = datetime.now(UTC) - timedelta(minutes=2)
    await log_records(
        sqlite_url, [record(now, total_ms=ms, upstream_ms=ms) for ms in (0.8, 1.2, 40.0, 5100.0)]
    )
    async with dashboard(sqlite_url, tmp_path, width=1920) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        axis = await page.evaluate(
            """(() => { const y = Chart.getChart('latency').scales.y;
              return y.ticks.map((t, i) =>
                [t.label, y.options.grid.setContext(y.getContext(i)).color]); })()"""
        )
    lines = [label for label, colour in axis if colour != "transparent"]
    assert lines and all(lines), axis
    assert len(lines) == len([label for label, _ in axis if label]), axis
    assert problems == []


async def test_a_latency_bar_s_tooltip_gives_its_unit(sqlite_url: str, tmp_path: Path) -> None:
    """Pointing at a latency bar showed "whole exchange: 0.8", the unit only on the axis."""
    now = datetime.now(UTC) - timedelta(minutes=2)
    await log_records(sqlite_url, [record(now, total_ms=0.8, upstream_ms=0.5)])
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        said = await page.evaluate(
            """(c => c.data.datasets.map((d, i) => c.options.plugins.tooltip.callbacks.label(
              {dataset: d, datasetIndex: i, raw: d.data[0], parsed: {y: d.data[0]}})))
              (Chart.getChart('latency'))"""
        )
    assert len(said) == 2 and all(re.fullmatch(r"[a-z ]+: [\d.,]+ ms", s) for s in said), said
    assert said[0].startswith("whole exchange: "), said
    assert problems == []
