"""Nothing personal or secret at rest: a byte-wise scan of the hub's database files after a
run of exchanges finds no raw personal identifier, name, API key or token."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from tests.reliability.conftest import running_hub
from tests.reliability.fakes import CLIENT, OTHER, PROVIDER, PURPOSE
from tests.support import ADMIN, OPERATOR, SECRET

CITIZENS = ["079203001234", "001099000001", "031185009876"]
OLD_ID = "123456789"  # a 9-digit identity card number
NAME = "Nguyễn Thị Bích Ngọc"
SERVICES = {
    "search": {"endpoints": [{"method": "GET", "path": "/citizens"}], "personal_data": True},
    "household": {"endpoints": [], "personal_data": True},
    "verify": {
        "endpoints": [{"method": "POST", "path": "/citizens/verify"}],
        "personal_data": True,
    },
    "open": {"endpoints": [], "personal_data": False},
}


def secrets_of(text: str) -> list[bytes]:
    """A value in every form it could be stored in."""
    forms = {text, quote(text), quote(text, safe=""), quote(text).replace("%20", "+")}
    return [f.encode() for f in forms]


def scan(files: list[Path], needles: dict[str, list[bytes]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in files:
        data = f.read_bytes()
        for label, forms in needles.items():
            if any(form in data for form in forms):
                found.setdefault(label, []).append(f.name)
    return found


async def test_the_database_files_hold_no_raw_identifier_name_key_or_token(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    async with running_hub(sqlite_url, tmp_path, SERVICES) as hub:
        h = hub.headers(**PURPOSE)
        base = f"/r1/{PROVIDER}"
        for cid in CITIZENS:
            calls = [
                ("GET", f"{base}/lookup/citizens/{cid}", {}),
                ("GET", f"{base}/search/citizens", {"params": {"id": cid, "limit": 1}}),
                ("GET", f"{base}/search/citizens", {"params": {"full_name": NAME, "mid": cid}}),
                ("GET", f"{base}/household/households/of/{cid}/members", {}),
                ("POST", f"{base}/verify/citizens/verify", {"json": {"id": cid, "name": NAME}}),
            ]
            for method, url, kwargs in calls:
                resp = await hub.client.request(method, url, headers=h, **kwargs)
                assert resp.status_code in (200, 201), resp.text
                answers.append(resp.text)
        await hub.client.get(f"{base}/lookup/citizens/{OLD_ID}", headers=h)
        # A key sent by mistake in the URL of an ordinary service: logged as sent, it was.
        key = hub.keys[CLIENT]
        await hub.client.get(f"{base}/open/x/{key}", params={"api_key": key}, headers=h)
        # Refusals must not echo what they refuse.
        wrong = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {hub.keys[OTHER]}", **PURPOSE}
        denied = await hub.client.get(f"{base}/lookup/citizens/{CITIZENS[0]}", headers=wrong)
        assert denied.status_code == 403
        answers.append(denied.text)
        for token in (ADMIN, OPERATOR):
            await hub.client.get("/api/stats/summary", headers={"Authorization": f"Bearer {token}"})
        await hub.client.get("/admin/subsystems", headers={"Authorization": f"Bearer {ADMIN}"})

        records = await hub.records()
        assert len(records) >= 3 * len(CITIZENS)
        db = Path(make_url(sqlite_url).database or "")
        # Scan while the hub runs (the WAL still holds recent pages) and after it stopped.
        live = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
        needles = {f"citizen id {c}": secrets_of(c) for c in [*CITIZENS, OLD_ID]}
        needles[f"name {NAME}"] = secrets_of(NAME)
        for client, key in hub.keys.items():
            needles[f"API key of {client}"] = secrets_of(key)
            needles[f"secret part of the API key of {client}"] = secrets_of(key.split("_", 2)[2])
        needles |= {"admin token": secrets_of(ADMIN), "operator token": secrets_of(OPERATOR)}
        needles["secret key"] = secrets_of(SECRET)
        assert any(p.name.endswith("-wal") for p in live)
        assert scan(live, needles) == {}

    after = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    assert scan(after, needles) == {}
    # The log still lets operators group by person: the same citizen, the same pseudonym.
    paths = [r.path for r in records if r.service.endswith("/lookup")]
    assert len(set(paths)) == len(CITIZENS) + 1
    # Nor do the hub's own log lines or its error answers carry a key or token.
    # (The test's own HTTP client logs the URLs it requests: not the hub's.)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    secrets = [v for k, v in needles.items() if "key" in k or "token" in k]
    assert not [s for forms in secrets for s in forms if s.decode() in logged]
    assert not [s for forms in secrets for s in forms if s.decode() in "".join(answers)]
