"""/docs and /redoc work with no internet: Swagger UI and ReDoc come from the hub itself, and
Chromium draws both with no request leaving the hub and no policy violation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stats.test_dashboard import ARGS, CHROMIUM, WATCH_POLICY
from tests.support import ADMIN, make_settings, serve


async def test_the_pages_name_only_the_hubs_own_files(sqlite_url: str, tmp_path: Path) -> None:
    from hub.app import create_app

    async with (
        serve(create_app(make_settings(sqlite_url, tmp_path))) as hub_url,
        httpx.AsyncClient(base_url=hub_url) as client,
    ):
        for page in ("/docs", "/redoc"):
            resp = await client.get(page)
            assert resp.status_code == 200
            assert "https://" not in resp.text and "http://" not in resp.text, resp.text
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
                if asset in resp.text:
                    got = await client.get(f"/docs/assets/{asset}")
                    assert got.status_code == 200 and len(got.content) > 100_000, asset
                    assert got.headers["content-type"].startswith(("text/", "application/"))
        assert (await client.get("/docs/assets/../../pyproject.toml")).status_code == 404
        assert (await client.get("/docs/assets/nothing.js")).status_code == 404


async def test_production_asks_a_token_for_the_pages_not_for_their_scripts(
    sqlite_url: str, tmp_path: Path
) -> None:
    from hub.app import create_app

    settings = make_settings(sqlite_url, tmp_path, env="production")
    async with serve(create_app(settings)) as hub_url, httpx.AsyncClient(base_url=hub_url) as c:
        assert (await c.get("/docs")).status_code == 401
        assert (await c.get("/redoc")).status_code == 401
        admin = {"Authorization": f"Bearer {ADMIN}"}
        assert (await c.get("/docs", headers=admin)).status_code == 200
        # The bundles are the public Swagger UI and ReDoc: nothing of the hub's in them.
        assert (await c.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (apt-get install chromium)"
)
@pytest.mark.parametrize(
    ("page", "drawn"), [("/docs", ".swagger-ui .opblock"), ("/redoc", ".menu-content")]
)
async def test_chromium_draws_the_pages_from_the_hub_alone(
    sqlite_url: str, tmp_path: Path, page: str, drawn: str
) -> None:
    from playwright.async_api import async_playwright

    from hub.app import create_app

    settings = make_settings(sqlite_url, tmp_path)
    async with serve(create_app(settings)) as hub_url, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab = await browser.new_page()
            problems: list[str] = []
            tab.on("console", lambda m: m.type == "error" and problems.append(m.text))
            tab.on("pageerror", lambda e: problems.append(str(e)))
            elsewhere: list[str] = []

            async def only_the_hub(route: Any) -> None:
                if route.request.url.startswith(hub_url):
                    await route.continue_()
                else:  # as on a network without the internet
                    elsewhere.append(route.request.url)
                    await route.abort()

            await tab.route("**/*", only_the_hub)
            await tab.add_init_script(WATCH_POLICY)
            await tab.goto(f"{hub_url}{page}")
            await tab.wait_for_selector(drawn, timeout=20000)
            text = await tab.inner_text("body")
            problems.extend(await tab.evaluate("window.refusedByPolicy"))
        finally:
            await browser.close()
    # ReDoc's bundle names the Redocly logo on its CDN for its footer: the policy keeps the
    # browser from asking for it (no request leaves for another site), and nothing else.
    logo = "cdn.redoc.ly/redoc/logo-mini.svg"
    assert elsewhere == [] and [p for p in problems if logo not in p] == [], (elsewhere, problems)
    assert "/admin/keys" in text or "admin" in text.lower()
