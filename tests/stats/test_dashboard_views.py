"""The dashboard as an operator reads it: on a phone, with huge figures, through a screen
reader's tables, and with the hub gone while the page is open."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.gateway.conftest import load_registry, registry_doc
from tests.stats.conftest import log_records, record
from tests.stats.test_dashboard import dashboard, pytestmark  # noqa: F401  (browser, chromium)

# The WCAG contrast ratio of each heat-map cell's text on its colour, painted over the card.
CELL_CONTRAST = """
[...document.querySelectorAll('#matrix td[data-alpha]')].map((td) => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((c) => { c /= 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
    .reduce((n, c, i) => n + c * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = rgb(getComputedStyle(td).backgroundColor);
  const a = bg.length > 3 ? bg[3] : 1;
  const back = lum(bg.slice(0, 3).map((c) => 255 - a * (255 - c)));
  const fore = lum(rgb(getComputedStyle(td).color));
  return (Math.max(back, fore) + 0.05) / (Math.min(back, fore) + 0.05);
})
"""

FAULTS = ["Client.AccessDenied", "Client.BadRequest", "Client.MissingPurpose",
          "Client.RateLimited", "Client.Unauthorized", "Server.ServiceFailed",
          "Server.ServiceTimeout", "Server.ServiceUnavailable"]  # fmt: skip
PROVIDERS = [f"VN/GOV/B{i}/registry" for i in range(5)]


async def some_traffic(db_url: str) -> None:
    now = datetime.now(UTC) - timedelta(minutes=2)
    records = [record(now, provider=p) for p in PROVIDERS for _ in range(3)]
    records += [record(now, succeeded=False, status_code=403, fault_code=f) for f in FAULTS]
    await log_records(db_url, records)


@asynccontextmanager
async def busy_health_on_a_phone(
    db_url: str, tmp_path: Path, *, reachable: bool | None, names: dict[str, str] | None = None
) -> AsyncIterator[tuple[Any, list[str]]]:
    """The dashboard at 375 px, its health table of PROVIDERS at seven-digit figures, 31.3 %
    failed and half-open (``reachable`` as checked, or not yet)."""
    await some_traffic(db_url)

    async def health(route: Any) -> None:
        resp = await route.fetch()
        h = await resp.json()
        checked = (
            {"status": 200, "check_ms": 1.0} if reachable else {"status": None, "check_ms": None}
        )
        h["providers"] = [{"provider": p, "base_url": "http://x", "reachable": reachable,
                           **checked, "checked_at": None, "error": None,
                           "exchanges": 1_234_567, "errors": 386_419, "error_rate": 0.313,
                           "circuit": "half-open", "circuit_workers": None}
                          for p in PROVIDERS]  # fmt: skip
        if names is not None:
            h["names"] = names
        up = len(PROVIDERS) if reachable else 0
        h["registered"], h["reachable"], h["connection_rate"] = (
            len(PROVIDERS),
            up,
            up / len(PROVIDERS),
        )
        await route.fulfill(response=resp, json=h)

    async with dashboard(db_url, tmp_path, width=375) as (page, problems):
        await page.route("**/api/health/providers*", health)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.wait_for_selector("#health td.num")
        yield page, problems


async def test_on_a_phone_every_chart_keeps_room_for_its_data(
    sqlite_url: str, tmp_path: Path
) -> None:
    """At 375 px the volume chart's legend took all its height (no bar to be seen) and the
    fault codes were written over one another."""
    await some_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        plot = await page.evaluate("Chart.getChart('volume').chartArea.height")
        per_code = await page.evaluate(
            "(c => c.chartArea.height / c.data.labels.length)(Chart.getChart('errors'))"
        )
        latency = await page.evaluate("Chart.getChart('latency').chartArea.height")
        widths = await page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
    assert plot >= 120, plot
    assert per_code >= 14, per_code  # a 12 px label each, not overlapping
    assert latency >= 120, latency
    assert widths[0] <= widths[1], widths
    assert problems == []


async def test_heat_map_text_is_readable_on_every_shade(sqlite_url: str, tmp_path: Path) -> None:
    """White figures on the mid blues read at 2.4:1; WCAG AA asks 4.5:1."""
    providers = [f"VN/GOV/P{i:02}/registry" for i in range(25)]

    async def matrix(route: Any) -> None:
        resp = await route.fetch()
        m = await resp.json()
        m["clients"], m["providers"] = ["VN/GOV/BTP/civil-status"], providers
        m["cells"] = [{"client": "VN/GOV/BTP/civil-status", "provider": p, "count": (i + 1) ** 2,
                       "succeeded": (i + 1) ** 2, "failed": 0}
                      for i, p in enumerate(providers)]  # fmt: skip
        await route.fulfill(response=resp, json=m)

    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.route("**/api/stats/matrix*", matrix)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        ratios = await page.evaluate(CELL_CONTRAST)
    assert len(ratios) == 25
    assert min(ratios) >= 4.5, [round(r, 2) for r in ratios]
    assert problems == []


async def test_huge_figures_stay_inside_their_tiles(sqlite_url: str, tmp_path: Path) -> None:
    async def summary(route: Any) -> None:
        resp = await route.fetch()
        s = await resp.json()
        s.update(total=12_345_678_901_234, succeeded=12_345_678_901_000, failed=234,
                 request_bytes=4 * 10**18, response_bytes=7 * 10**18)  # fmt: skip
        await route.fulfill(response=resp, json=s)

    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.route("**/api/stats/summary*", summary)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        spill = await page.evaluate(
            "[...document.querySelectorAll('.tile b')].filter(b => b.scrollWidth > b.clientWidth)"
            ".map(b => b.textContent)"
        )
        shared = await page.locator("[data-figure='data shared']").inner_text()
        total = await page.locator("[data-figure='exchanges']").inner_text()
    assert spill == []
    assert total == "12,345,678,901,234"
    assert shared == "11.0 EB"
    assert problems == []


async def test_tables_name_their_headers_and_empty_charts_say_so(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A screen reader reads each matrix figure with its client and provider; charts with
    nothing to draw say so rather than show bare axes."""
    await load_registry(sqlite_url, registry_doc("http://127.0.0.1:9"))  # providers' health
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        empty = await page.locator("#errors-empty").inner_text()
        empty_latency = await page.locator("#latency-empty").inner_text()
        empty_volume = await page.locator("#volume-empty").inner_text()
        volume_said = await page.locator("#volume-empty").is_visible()
        denied = record(datetime.now(UTC) - timedelta(minutes=1), succeeded=False,
                        status_code=403, fault_code="Client.AccessDenied")  # fmt: skip
        await log_records(sqlite_url, [denied])
        await page.evaluate("refresh()")
        await page.wait_for_function("document.querySelector('#matrix table')")
        cols = await page.evaluate(
            "[...document.querySelectorAll('#matrix thead th')].map(th => th.scope)"
        )
        rows = await page.evaluate(
            "[...document.querySelectorAll('#matrix tbody th')].map(th => th.scope)"
        )
        health = await page.evaluate(
            "[...document.querySelectorAll('#health thead th')].map(th => th.scope)"
        )
        still_empty = await page.locator("#errors-empty").is_visible()
        latency_empty = await page.locator("#latency-empty").is_visible()
        volume_empty = await page.locator("#volume-empty").is_visible()
        said = await page.locator("#errors").get_attribute("aria-label")
    assert "no failed exchanges" in empty.lower()
    assert "no exchanges" in empty_latency.lower()
    assert cols == ["col", "col"] and rows == ["row"], (cols, rows)
    assert health and set(health) == {"col"}, health
    assert volume_said and "no exchanges" in empty_volume.lower()  # not bare axes 0 to 1
    assert not still_empty and not latency_empty and not volume_empty
    assert said == "Failed exchanges by code: Client.AccessDenied 1", said
    assert problems == []


async def test_figures_kept_while_the_hub_is_away_name_their_range(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The range changed while the hub did not answer: the select said "last hour" over the
    last 24 hours' figures, and nothing told them apart."""
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.route("**/api/**", lambda route: route.abort())
        await page.select_option("#range", "1h")
        await page.wait_for_selector("#status.error")
        status = await page.locator("#status").inner_text()
    assert "last 24 hours" in status, status
    assert problems == [] or all("ERR_FAILED" in p for p in problems), problems


async def test_the_matrix_and_the_volume_download_as_csv(sqlite_url: str, tmp_path: Path) -> None:
    """The figures on screen, for a spreadsheet: the columns of `hub stats matrix --csv` and
    `hub stats timeseries --csv`, from the same answers the page drew."""
    await some_traffic(sqlite_url)
    await log_records(sqlite_url, [record(datetime.now(UTC), client="", provider="")])
    answers: dict[str, Any] = {}

    async def keep(route: Any) -> None:
        resp = await route.fetch()
        answers[route.request.url.split("/api/stats/")[1].split("?")[0]] = await resp.json()
        await route.fulfill(response=resp)

    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.route("**/api/stats/*", keep)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        saved: dict[str, str] = {}
        for button in ("matrix-csv", "volume-csv"):
            async with page.expect_download() as info:
                await page.click(f"#{button}")
            download = await info.value
            saved[button] = download.suggested_filename
            await download.save_as(tmp_path / button)
    name = saved["matrix-csv"]
    lines = (tmp_path / "matrix-csv").read_text(encoding="utf-8-sig").splitlines()
    assert name.startswith("hub-matrix-") and name.endswith(".csv"), name
    assert lines[0] == "client,provider,count,succeeded,failed,client_name,provider_name"
    assert lines[1:] == [f"{c['client']},{c['provider']},{c['count']},{c['succeeded']},"
                         f"{c['failed']},," for c in answers["matrix"]["cells"]]  # fmt: skip
    assert len(lines) == 1 + len(PROVIDERS) + 1 + 1  # civil-status's five rows, denied, nobody
    name = saved["volume-csv"]
    lines = (tmp_path / "volume-csv").read_text(encoding="utf-8-sig").splitlines()
    ts = answers["timeseries"]
    assert name.startswith("hub-volume-") and name.endswith(".csv"), name
    assert lines[0].split(",") == ["label", "total", "succeeded", "failed", "request_bytes",
                                   "response_bytes", "mean_ms", *ts["keys"]]  # fmt: skip
    assert len(lines) == 1 + len(ts["points"])
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == sum(
        p["total"] for p in ts["points"]) == 3 * len(PROVIDERS) + len(FAULTS) + 1  # fmt: skip
    assert problems == []


async def test_a_vietnamese_browser_reads_one_number_format_and_no_empty_health_table(
    sqlite_url: str, tmp_path: Path
) -> None:
    """In a vi-VN browser the axes wrote "1.200" (Chart.js takes the browser's locale) beside
    tiles reading "1,200" and "81.5 ms": the dot meant thousands here and a decimal there.
    A registry without providers showed an empty table under "0 of 0 providers reachable"."""
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=2)
    failed = {"succeeded": False, "status_code": 503, "fault_code": "Server.ServiceFailed"}
    await log_records(sqlite_url, [record(now, **failed) for _ in range(1200)])
    async with dashboard(sqlite_url, tmp_path, locale="vi-VN") as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        total = await page.locator("[data-figure='exchanges']").inner_text()
        ticks = await page.evaluate("Chart.getChart('volume').scales.y.ticks.map(t => t.label)")
        health = await page.locator("#health").inner_text()
        cell = await page.locator("#matrix td.cell").first.get_attribute("title")
        tables = await page.locator("#health table").count()
    assert total == "1,200"
    assert "1,200" in ticks or "1,000" in ticks, ticks
    assert not any("." in str(t) for t in ticks), ticks
    assert "No providers registered" in health and tables == 0, health
    assert cell == "1,200 failed", cell
    assert problems == []


async def test_on_a_phone_no_figure_of_the_health_table_is_split_from_its_unit(
    sqlite_url: str, tmp_path: Path
) -> None:
    """At 375 px the health table's error rate read "31.3" on one line and "%" on the next,
    beside a provider name wrapped into five lines."""
    async with busy_health_on_a_phone(sqlite_url, tmp_path, reachable=True) as (page, problems):
        lines = await page.evaluate(
            """[...document.querySelectorAll('#health td.num')].map((td) => {
                 const r = document.createRange(); r.selectNodeContents(td);
                 return [td.innerText, new Set([...r.getClientRects()]
                   .map((x) => Math.round(x.top))).size];
               })"""
        )
    assert lines and all(n == 1 for _, n in lines), lines
    assert problems == []


async def test_the_latency_axis_writes_no_label_over_another(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The logarithmic axis labelled 60, 80 and 100 (and 6, 8, 10) a few pixels apart: on a
    phone their figures touched."""
    now = datetime.now(UTC) - timedelta(minutes=2)
    slow = [record(now, total_ms=ms, hub_ms=1.0) for ms in (1, 20, 80, 190, 200)]
    await log_records(sqlite_url, slow)
    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        gaps = await page.evaluate(
            """(() => { const y = Chart.getChart('latency').scales.y;
                 const at = y.ticks.filter((t) => t.label !== '' && t.label != null)
                   .map((t) => y.getPixelForValue(t.value)).sort((a, b) => a - b);
                 return at.slice(1).map((p, i) => p - at[i]); })()"""
        )
    assert gaps and min(gaps) >= 14, gaps  # a 12 px label each
    assert problems == []


async def test_on_a_phone_the_hub_away_message_takes_a_line_of_its_own(
    sqlite_url: str, tmp_path: Path
) -> None:
    """At 375 px the header kept the title, the range and the message side by side: the
    message ran down ten lines of a few words and the title broke into three."""
    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.route("**/api/**", lambda route: route.abort())
        await page.select_option("#range", "7d")
        await page.wait_for_selector("#status.error")
        lines = await page.evaluate(
            """['h1', '#status'].map((sel) => { const el = document.querySelector(sel);
                 return Math.round(el.getBoundingClientRect().height
                   / parseFloat(getComputedStyle(el).lineHeight)); })"""
        )
    assert lines[0] == 1 and lines[1] <= 3, lines
    assert problems == [] or all("ERR_FAILED" in p for p in problems), problems


async def test_on_a_phone_the_health_table_shows_every_column(
    sqlite_url: str, tmp_path: Path
) -> None:
    """At 375 px the health table was wider than its card: the error rate and the circuit,
    what an operator on call looks for, were off to the right behind a sideways scroll."""
    name = "Bộ Nông nghiệp và Môi trường · Cơ sở dữ liệu quốc gia về đất đai"
    names = {p: name for p in PROVIDERS}
    async with busy_health_on_a_phone(sqlite_url, tmp_path, reachable=None, names=names) as (
        page,
        problems,
    ):
        box = await page.evaluate(
            "(b => [b.scrollWidth, b.clientWidth, b.getBoundingClientRect().right])"
            "(document.getElementById('health'))"
        )
        # Each cell: its right edge, and whether its text runs past it.
        cells = await page.evaluate(
            """[...document.querySelectorAll('#health tbody :is(th, td)')].map((td) =>
                 [td.innerText, td.getBoundingClientRect().right,
                  td.scrollWidth > td.clientWidth])"""
        )
        # Each column's header above its figures.
        heads = await page.evaluate(
            "[...document.querySelectorAll('#health thead th')]"
            ".map(th => Math.round(th.getBoundingClientRect().left))"
        )
        first = await page.evaluate(
            "[...document.querySelectorAll('#health tbody tr:first-child > *')]"
            ".map(td => Math.round(td.getBoundingClientRect().left))"
        )
    assert box[0] <= box[1], box  # nothing to scroll to
    assert all(right <= box[2] + 0.5 and not spills for _, right, spills in cells), cells
    assert [t for t, _, _ in cells[:5]][1:] == ["not checked", "1,234,567", "31.3 %", "half-open"]
    assert heads == first, (heads, first)
    assert problems == []


# How each chart's box shows: [its canvas' id, its height on the page].
CHART_BOXES = """[...document.querySelectorAll('.chart canvas')].map((c) =>
  [c.id, Math.round(c.parentElement.getBoundingClientRect().height)])"""


async def test_a_range_with_no_exchanges_draws_no_empty_axes(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Under "No exchanges in this range." each chart still drew its bare axes (latency 1 to
    10 ms, faults 0 to 1) as if figures were missing; the matrix and the volume chart offered
    a CSV of nothing (the chart's, a row of zeros for each bucket).
    Their cards, a blank 240 px each, then made a phone scroll past four screens of nothing."""
    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        empty = await page.evaluate(CHART_BOXES)
        cards = await page.evaluate(
            "[...document.querySelectorAll('main > .card')].slice(0, 4)"
            ".map(c => Math.round(c.getBoundingClientRect().height))"
        )
        said = await page.locator("#matrix p.empty").inner_text()
        csv_off = [await page.locator(f"#{b}").is_disabled() for b in ("matrix-csv", "volume-csv")]
        await some_traffic(sqlite_url)
        await page.evaluate("document.body.dataset.loaded = 'no'; refresh()")
        await page.wait_for_selector("body[data-loaded='yes']")
        await page.wait_for_timeout(300)  # the charts take their new size on the next frame
        drawn = await page.evaluate(CHART_BOXES)
        plots = await page.evaluate(
            "['volume', 'latency', 'errors'].map(id => Chart.getChart(id).chartArea.height)"
        )
        csv_on = [await page.locator(f"#{b}").is_enabled() for b in ("matrix-csv", "volume-csv")]
    assert empty == [["volume", 0], ["latency", 0], ["errors", 0]], empty
    assert all(h < 150 for h in cards), cards  # a title and a line each
    assert said == "No exchanges in this range."
    assert csv_off == [True, True], csv_off
    assert all(h >= 200 for _, h in drawn), drawn
    assert all(h >= 120 for h in plots), plots
    assert csv_on == [True, True], csv_on
    assert problems == []


# Each tile's figure as the lines it is written on: its characters grouped by their top.
TILE_LINES = """[...document.querySelectorAll('.tile b')].map((b) => {
  const lines = new Map();
  const walk = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    for (let i = 0; i < node.length; i += 1) {
      const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
      const top = Math.round(r.getBoundingClientRect().top);
      lines.set(top, (lines.get(top) || '') + node.data[i]);
    }
  }
  return [...lines.values()];
})"""


async def test_tile_figures_never_break_inside_a_number(sqlite_url: str, tmp_path: Path) -> None:
    """At 1024 px seven tiles shared the row: a month's "1,234,567" exchanges read
    "1,234,56" over "7", and "data shared" sat alone on a second row; in four columns at
    640 px "62.9" and its "ms" took a line each."""

    async def summary(route: Any) -> None:
        resp = await route.fetch()
        s = await resp.json()
        s.update(total=1_234_567, succeeded=1_200_000, failed=34_567,
                 request_bytes=123_000_000, response_bytes=456_000_000)  # fmt: skip
        s["latency_ms"]["p95"], s["hub_ms"]["p95"] = 5100.0, 0.463
        await route.fulfill(response=resp, json=s)

    async def huge(route: Any) -> None:
        resp = await route.fetch()
        s = await resp.json()
        s.update(total=12_345_678_901_234, succeeded=12_345_678_901_000, failed=234)
        await route.fulfill(response=resp, json=s)

    rows = {}
    async with dashboard(sqlite_url, tmp_path, width=1024) as (page, problems):
        await page.route("**/api/stats/summary*", summary)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        tops = await page.evaluate(
            "[...document.querySelectorAll('.tile')]"
            ".map(t => Math.round(t.getBoundingClientRect().top))"
        )
        for top in tops:
            rows[top] = rows.get(top, 0) + 1
        desk = await page.evaluate(TILE_LINES)
    async with dashboard(sqlite_url, tmp_path, width=640) as (page, tablet_problems):
        await page.route("**/api/stats/summary*", summary)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        tablet = await page.evaluate(TILE_LINES)
    async with dashboard(sqlite_url, tmp_path, width=375) as (page, phone_problems):
        await page.route("**/api/stats/summary*", huge)
        await page.reload()
        await page.wait_for_selector("body[data-loaded='yes']")
        phone = await page.evaluate(TILE_LINES)
    assert sorted(rows.values()) == [3, 4], rows  # not six and one alone
    assert all(len(lines) == 1 for lines in desk), desk
    assert all(len(lines) == 1 for lines in tablet), tablet
    # Thirteen digits on a phone take lines, each cut after a group's comma.
    assert len(phone[0]) > 1 and "".join(phone[0]) == "12,345,678,901,234", phone
    assert all(line.endswith(",") for lines in phone for line in lines[:-1]), phone
    assert problems == [] and tablet_problems == [] and phone_problems == []


async def test_screen_readers_hear_the_volume_and_no_clock_every_15_seconds(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The volume chart was read as "Exchanges per time bucket, by provider", no figure (the
    latency and error charts say theirs); and the status, a live region, read "updated
    09:03:24" aloud every 15 seconds."""
    await some_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        said = await page.locator("#volume").get_attribute("aria-label")
        quiet = await page.locator("#status").get_attribute("aria-live")
        await page.route("**/api/**", lambda route: route.abort())
        await page.evaluate("refresh()")
        await page.wait_for_selector("#status.error")
        away = await page.locator("#status").get_attribute("aria-live")
        await page.unroute("**/api/**")
        await page.evaluate("refresh()")
        await page.wait_for_function("!document.getElementById('status').className")
        back = await page.locator("#status").get_attribute("aria-live")
        await page.evaluate("refresh()")
        await page.wait_for_timeout(500)
        again = await page.locator("#status").get_attribute("aria-live")
    total = len(PROVIDERS) * 3 + len(FAULTS)
    # The busiest hour with its date, as "7 Dec 09:00" (the axis writes the date once a day).
    heard = rf"Exchanges per hour, by provider: {total} in all, most at "
    heard += rf"\d{{1,2}} [A-Z][a-z]{{2}} \d\d:00 \({total}\)"
    assert re.fullmatch(heard, said or ""), said
    assert quiet == "off" and again == "off"  # an ordinary refresh says nothing
    assert away == "polite" and back == "polite"  # the hub gone, and back
    assert problems == [] or all("ERR_FAILED" in p for p in problems), problems


async def test_the_matrix_shows_each_pair_s_failures_without_a_mouse(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A pair's failed exchanges were only in the cell's tooltip: on a phone, or from the
    keyboard, nothing said that 120 of a client's 1,200 calls had failed."""

    async def matrix(route: Any) -> None:
        resp = await route.fetch()
        m = await resp.json()
        m["clients"], m["providers"] = ["VN/GOV/BTP/civil-status"], PROVIDERS[:2]
        m["cells"] = [{"client": "VN/GOV/BTP/civil-status", "provider": PROVIDERS[0],
                       "count": 1200, "succeeded": 1080, "failed": 120},
                      {"client": "VN/GOV/BTP/civil-status", "provider": PROVIDERS[1],
                       "count": 1000, "succeeded": 1000, "failed": 0}]  # fmt: skip
        await route.fulfill(response=resp, json=m)

    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.route("**/api/stats/matrix*", matrix)
        await page.reload()
        await page.wait_for_selector("#matrix td.cell")
        cells = await page.locator("#matrix td.cell").all_inner_texts()
        inside = await page.evaluate(
            """[...document.querySelectorAll('#matrix td.cell .failed')].map((s) => {
                 const a = s.getBoundingClientRect(), b = s.parentElement.getBoundingClientRect();
                 return a.width > 0 && a.left >= b.left && a.right <= b.right; })"""
        )
        ratios = await page.evaluate(CELL_CONTRAST)
    assert cells == ["1,200\n120 failed", "1,000"], cells
    assert inside == [True]
    assert min(ratios) >= 4.5, ratios
    assert problems == []
