"""What the docs state about the code, held to the code: the settings table of
docs/operators.md, the module lists of docs/architecture.md, and the worked example and
reference check of the log in docs/security.md."""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.core.settings import Settings
from hub.registry.events import event_hash, event_message
from hub.txlog.chain import batch_message, canonical_text, record_hash
from hub.txlog.repository import append
from hub.txlog.signing import Signer, key_id, public_pem
from hub.txlog.sqlite import create_writer_engine
from tests.support import ADMIN, hub_client, make_settings
from tests.txlog.test_audit import record, write_log

ROOT = Path(__file__).resolve().parents[1]
# The rows of docs/architecture.md's layout table that name their folder's modules.
LISTED = ("hub/core/", "hub/registry/", "hub/gateway/", "hub/txlog/", "hub/admin/")


def _table_rows(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_every_setting_is_in_the_operators_table_with_its_default() -> None:
    text = (ROOT / "docs" / "operators.md").read_text()
    documented: dict[str, str] = {}
    for names, default, _what in _table_rows(text, "### Every setting"):
        variables = re.findall(r"`(HUB_[A-Z_]+)`", names)
        values = re.findall(r"`([^`]+)`", default)
        for i, variable in enumerate(variables):
            if default.startswith("unset"):
                documented[variable] = "unset"
            else:
                documented[variable] = values[i] if len(values) == len(variables) else values[0]
    expected = {
        "HUB_" + name.upper(): "unset" if field.default is None else _shown(field.default)
        for name, field in Settings.model_fields.items()
    }
    assert documented == expected


@pytest.mark.parametrize("folder", LISTED)
def test_the_architecture_table_lists_the_modules_of_its_folders(folder: str) -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| `{folder}` |"))
    named = set(re.findall(r"`([a-z_]+\.py)`", row))
    present = {p.name for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py"}
    assert named - present == set(), "listed, but no such module"
    assert present - named == set(), "in the folder, but not listed"


def _security_section(title: str) -> str:
    text = (ROOT / "docs" / "security.md").read_text()
    return text.split(title, 1)[1]


def _example() -> dict[str, str]:
    block = _security_section("**A worked example**").split("```text\n", 1)[1].split("```")[0]
    values: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line[:15].strip():
            name, line = line[:15].strip().rstrip(":"), line[15:]
            name = f"event {name}" if name == "signature" and name in values else name
            values[name] = line
        else:
            values[name] += "\n" + line[15:]
    return values


def test_the_worked_example_of_the_log_and_the_trail_is_right() -> None:
    shown = _example()
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    assert shown["public key"] + "\n" == public_pem(private.public_key())
    assert shown["key id"] == key_id(private.public_key())

    def b64sha512(data: bytes) -> str:
        return base64.b64encode(hashlib.sha512(data).digest()).decode()

    rec = {
        "seq": 1, "id": "HS-0001-a", "request_id": "01a24ed0fa6a701d9ebf001051a54d7a",
        "client": "VN/GOV/BTP/civil-status", "service": "VN/GOV/BCA/population/citizen-lookup",
        "provider": "VN/GOV/BCA/population", "method": "GET",
        "path": "/citizens/~3f2a9c1b7d4e5a60", "user_id": "officer-01", "issue": "HS-0001",
        "status_code": 200, "succeeded": True, "fault_code": None, "request_bytes": 0,
        "response_bytes": 2, "started_at": datetime(2026, 1, 5, 9, 0, 12, 123456),
        "total_ms": 24.5, "upstream_ms": 20.25, "hub_ms": 4.25,
        "request_hash": b64sha512(b""), "response_hash": b64sha512(b"{}"),
        "request_body": None, "response_body": None, "batch_id": 1,
    }  # fmt: skip
    visible = {"\u241f": "\x1f", "\u2400": "\x00"}
    assert re.sub("[\u241f\u2400]", lambda m: visible[m[0]], shown["record text"]) == (
        canonical_text(rec)
    )
    digest = record_hash("0" * 64, rec)
    assert shown["record_hash"] == digest
    assert shown["batch message"].encode() == batch_message(1, 1, 1, digest)
    signed = private.sign(batch_message(1, 1, 1, digest))
    assert shown["signature"] == base64.b64encode(signed).decode()
    event = {
        "id": 1, "at": datetime(2026, 1, 5, 9, 0), "actor": "admin token", "source": "api",
        "action": "grant.create", "version": 7, "detail": '{"enabled":true}',
        "target": "VN/GOV/BTP/civil-status -> VN/GOV/BCA/population/citizen-lookup",
    }  # fmt: skip
    digest = event_hash("0" * 64, event)
    assert shown["event hash"] == digest
    assert shown["event message"].encode() == event_message(digest)
    signed = private.sign(event_message(digest))
    assert shown["event signature"] == base64.b64encode(signed).decode()


async def test_the_reference_check_in_the_docs_holds_a_log_and_finds_it_edited(
    sqlite_url: str, tmp_path: Path
) -> None:
    code = _security_section("**A reference check of a SQLite copy**")
    script = tmp_path / "check_hub_log.py"
    script.write_text(code.split("```python\n", 1)[1].split("```")[0])
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (app, c):
        signer: Signer = app.api.state.hub.signer  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {ADMIN}"}
        for member in ({"id": "VN/GOV/BCA", "name": "Bộ Công an"}, {"id": "VN/GOV/BTP"}):
            body = {"name": "T"} | member
            assert (await c.post("/admin/members", json=body, headers=headers)).status_code == 201
    await write_log(sqlite_url, signer)  # records 1..20 in batches 1..4

    def sha(text: str) -> str:
        return base64.b64encode(hashlib.sha512(text.encode()).digest()).decode()

    sent, answered = "pay A\x1fnote", '{"ok": true}'
    kept = record(21) | {"request_body": sent, "response_body": answered,
                         "request_hash": sha(sent), "response_hash": sha(answered)}  # fmt: skip
    engine = create_writer_engine(sqlite_url)
    async with engine.begin() as conn:
        await append(conn, [kept], signer=signer, lock=False)
    await engine.dispose()
    key = tmp_path / "signing.pub.pem"
    key.write_text(signer.public_pem())
    db = sqlite_url.split("///", 1)[1]

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), db, str(key)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    done = check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: 21 records, 5 batches, 2 events; anchor 21:")
    with sqlite3.connect(db) as conn:
        moved = "request_body = 'pay A', response_body = 'note' || char(31) || response_body"
        conn.execute(f"UPDATE transactions SET {moved} WHERE seq = 21")
        conn.execute("UPDATE transactions SET user_id = 'officer-02' WHERE seq = 3")
        conn.execute("DELETE FROM transactions WHERE seq = 10")
        conn.execute("UPDATE registry_events SET detail = '{}' WHERE id = 1")
    conn.close()
    done = check()
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "record seq=3: edited, deleted before it or inserted",
        "record seq=11: edited, deleted before it or inserted",
        "record seq=21: its request body does not match its request_hash",
        "record seq=21: its response body does not match its response_hash",
        "event id=1: edited, deleted before it or inserted",
    ]


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose(path: Path) -> str:
    """A document without its code blocks, where a shell line is no link."""
    return re.sub(r"```.*?```", "", path.read_text(), flags=re.S)


def _titles(path: Path) -> set[str]:
    """The headings of a document and the bold titles that open a paragraph."""
    text = path.read_text()
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    leads = re.findall(r"^\*\*([^*]+?)\.?\*\*", text, flags=re.M)
    return {title.strip() for title in headings + leads}


def _anchor(title: str) -> str:
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_of_the_docs_reaches_a_file_and_heading(doc: Path) -> None:
    broken = []
    for link in re.findall(r"\]\(([^)\s]+)\)", _prose(doc)):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        if not target.exists():
            broken.append(link)
            continue
        if anchor and anchor not in {_anchor(t) for t in _titles(target)}:
            broken.append(link)
    assert broken == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_section_the_docs_send_a_reader_to_is_titled_so(doc: Path) -> None:
    """`docs/gateway.md, "The admin API in detail"`: a title the reader can search for."""
    missing = []
    for name, title in re.findall(r'((?:README|docs/[a-z]+)\.md),? "([^"]+)"', _prose(doc)):
        title = " ".join(title.split())
        if title not in _titles(ROOT / name):
            missing.append(f'{name}, "{title}"')
    assert missing == []


def test_the_readmes_first_exchange_runs_hub_from_the_virtualenv() -> None:
    """`make run` creates .venv but activates nothing: a bare `hub` is not on the reader's
    PATH yet (docs/connectors.md is where they `source .venv/bin/activate`)."""
    text = (ROOT / "README.md").read_text()
    start = text.split("## Your first exchange", 1)[1].split("## Where to go next", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", start, flags=re.S)
    shown = [line for block in blocks for line in block.splitlines()]
    shown += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", start, flags=re.S))
    commands = [c for c in shown if re.match(r"(\.venv/bin/)?hub [a-z]", c.strip())]
    assert len(commands) > 4, "the README's first exchange names hub commands"
    assert [c for c in commands if not c.strip().startswith(".venv/bin/")] == []
