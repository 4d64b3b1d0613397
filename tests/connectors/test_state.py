"""Writes kept in a mock's own SQLite file: they outlive a restart, and a reset empties them."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import connectors
from connectors.kit import Overlay, StateFile, StateFileError
from connectors.kit.checks import ENTERPRISE_LOOKUP
from connectors.kit.testing import FakeHub, open_client, serve
from connectors.land.dataset import Parcels
from connectors.population.dataset import citizen_at, index_of
from hub.cli.main import app as cli

SEED, SIZE = 11, 10_000
PURPOSE = {"X-Road-UserId": "officer-03", "X-Road-Issue": "HS-2025-0099"}
OWNER = {"dataset": "tests.Things", "seed": 1, "size": 10}


@asynccontextmanager
async def running(name: str, state: Path | None, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """One life of mock ``name``: a fresh app on ``state``, its lifespan run to the end."""
    app = connectors.get(name).create_app(seed=SEED, size=SIZE, state_path=state, **kwargs)
    async with open_client(app) as http:
        yield http


@pytest.fixture
def hub() -> Iterator[str]:
    """A fake hub that answers citizen-verify and forwards enterprise-lookup to a business mock."""
    registry = connectors.get("business").create_app(seed=SEED, size=SIZE)
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={ENTERPRISE_LOOKUP: registry})
    with serve(fake.app) as url:
        yield url


def family() -> tuple[dict[str, Any], str, str]:
    """A household head with a spouse, and the (father, mother) IDs of the couple."""
    for index in range(100):
        head = citizen_at(SEED, SIZE, index)
        if head["relation_to_head"] == "head" and head["spouse_id"]:
            pair = (head["id"], head["spouse_id"])
            return head, *(pair if head["sex"] == "male" else pair[::-1])
    raise AssertionError("no couple in the first 100 citizens")


def birth(name: str) -> dict[str, Any]:
    """A birth in the family; each name its own date and sex, so IDs differ in more than serial."""
    _, father, mother = family()
    return {
        "full_name": name,
        "date_of_birth": {"A": "2025-03-04", "B": "2024-11-30"}[name],
        "sex": {"A": "female", "B": "male"}[name],
        "father_id": father,
        "mother_id": mother,
    }


# --- the kit ------------------------------------------------------------------------------


def test_an_overlay_comes_back_from_its_file_in_order(tmp_path: Path) -> None:
    path = tmp_path / "things.db"
    state = StateFile(path, owner=OWNER)
    things = Overlay[Any, Any]("things", state)
    things["b"] = {"n": 1}
    things[3] = (1, "Đà Nẵng")
    things["a"] = [1]
    things["b"] = {"n": 2}  # a new value keeps the key's place
    del things["a"]
    with pytest.raises(TypeError):
        things["c"] = object()  # not JSON: refused, and not half-kept in memory
    assert "c" not in things
    state.close()

    again = StateFile(path, owner=OWNER)
    loaded = Overlay[Any, Any]("things", again)
    assert list(loaded.items()) == [("b", {"n": 2}), (3, [1, "Đà Nẵng"])]
    assert dict(Overlay[Any, Any]("other", again)) == {}
    loaded.clear()
    assert dict(Overlay[Any, Any]("things", again)) == {}
    again.close()


def test_atomic_writes_land_together_or_not_at_all(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "s.db", owner=OWNER)
    first, second = Overlay[str, int]("first", state), Overlay[str, int]("second", state)
    with state.atomic():
        first["x"] = 1
        with state.atomic():  # nested: still one transaction
            second["x"] = 2
    with pytest.raises(RuntimeError), state.atomic():
        first["y"] = 3
        raise RuntimeError("the operation failed half way")
    assert dict(Overlay[str, int]("first", state)) == {"x": 1}
    assert dict(Overlay[str, int]("second", state)) == {"x": 2}
    state.close()


def test_a_file_of_other_writes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = StateFile(path, owner=OWNER)
    Overlay[str, int]("things", state)["a"] = 1
    state.close()
    with pytest.raises(StateFileError, match=r"holds writes made with seed 1, not seed 2: start"):
        StateFile(path, owner={**OWNER, "seed": 2})
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateFileError, match="is not a usable SQLite file"):
        StateFile(junk, owner=OWNER)
    with pytest.raises(StateFileError, match="is not a usable SQLite file"):
        StateFile(junk / "under-a-file.db", owner=OWNER)


# --- each agency through its API ----------------------------------------------------------


async def test_population_writes_and_id_stream_outlive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "population.db"
    head, _, _ = family()
    someone = citizen_at(SEED, SIZE, 40)
    address = {"province": "01", "commune": "00301", "detail": "Số 5 Tràng Tiền"}
    async with running("population", None) as plain:  # the same births with no restart
        expected = [(await plain.post("/births", json=birth(n))).json()["id"] for n in "AB"]

    async with running("population", state) as api:
        child = (await api.post("/births", json=birth("A"))).json()
        assert child["id"] == expected[0]
        died = await api.post("/deaths", json={"id": someone["id"], "date_of_death": "2025-01-02"})
        assert died.status_code == 200, died.text
        moved = await api.post(
            "/residences", json={"id": head["id"], "kind": "permanent", "address": address}
        )
        assert moved.status_code == 200, moved.text
        formed = (await api.get(f"/households/{moved.json()['household_id']}")).json()

    async with running("population", state) as api:
        assert (await api.get(f"/citizens/{child['id']}")).json() == child
        assert (await api.get(f"/citizens/{someone['id']}")).json()["status"] == "deceased"
        home = (await api.get(f"/citizens/{head['id']}")).json()["permanent_address"]
        assert home["commune"] == "00301"
        house = (await api.get(f"/households/{head['household_id']}")).json()
        assert child["id"] in [m["id"] for m in house["members"]]
        assert head["id"] not in [m["id"] for m in house["members"]]
        assert (await api.get(f"/households/{formed['id']}")).json() == formed
        feed = (await api.get("/citizens/changes")).json()["items"]
        # The head's move made the spouse the head: a change to the spouse's record too.
        assert [c["kind"] for c in feed] == ["birth", "death", "residence", "residence"]
        # The serial stream goes on where it stopped: the second birth gets the same ID as
        # in a mock that was never restarted.
        assert (await api.post("/births", json=birth("B"))).json()["id"] == expected[1]
        health = (await api.get("/__health")).json()
        assert health["state"] == str(state) and health["writes"] == 5
        assert (await api.post("/__reset")).json()["writes"] == 0

    async with running("population", state) as api:
        assert (await api.get(f"/citizens/{child['id']}")).status_code == 404
        assert (await api.get(f"/citizens/{someone['id']}")).json()["status"] == "alive"
        assert (await api.get("/citizens/changes")).json()["items"] == []
        # After a reset the stream starts again from the seed, as in a fresh mock.
        assert (await api.post("/births", json=birth("A"))).json()["id"] == expected[0]


async def test_insurance_cards_outlive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "insurance.db"
    body = {"holder_id": "079325123456", "full_name": "Lê Bảo An", "date_of_birth": "2025-04-01"}
    async with running("insurance", state) as api:
        card = (await api.post("/cards", json=body)).json()
    async with running("insurance", state) as api:
        assert (await api.get(f"/cards/{card['code']}")).json() == card
        held = (await api.get("/cards", params={"holder_id": body["holder_id"]})).json()
        assert held["items"] == [card]
        assert (await api.post("/cards", json=body)).status_code == 409
        await api.post("/__reset")
    async with running("insurance", state) as api:
        assert (await api.get(f"/cards/{card['code']}")).status_code == 404


async def test_business_registrations_outlive_a_restart(tmp_path: Path, hub: str) -> None:
    state = tmp_path / "business.db"
    person = next(
        p for p in (citizen_at(SEED, SIZE, k) for k in range(SIZE)) if p["date_of_birth"] < "2000"
    )
    body = {
        "name": "Công ty TNHH Lưu Trữ Bền",
        "type": "llc-single",
        "head_office": {"province": "01", "commune": "00301", "detail": "Số 9 Hàng Bài"},
        "legal_representative": {"id": person["id"], "full_name": person["full_name"]},
        "charter_capital_vnd": 500_000_000,
    }
    async with running("business", state, hub_url=hub) as api:
        first = await api.post("/enterprises", json=body, headers=PURPOSE)
        assert first.status_code == 201, first.text
        record = first.json()
    async with running("business", state, hub_url=hub) as api:
        assert (await api.get(f"/enterprises/{record['code']}")).json() == record
        found = await api.get("/enterprises", params={"representative_id": person["id"]})
        assert record in found.json()["items"]
        # The name stays taken, and the next code issued is a new one, not the first again.
        again = await api.post("/enterprises", json=body, headers=PURPOSE)
        assert again.status_code == 409 and record["code"] in again.json()["message"]
        other = body | {"name": "Công ty TNHH Lưu Trữ Bền Hai"}
        second = (await api.post("/enterprises", json=other, headers=PURPOSE)).json()
        assert second["code"] != record["code"]
        await api.post("/__reset")
    async with running("business", state, hub_url=hub) as api:
        assert (await api.get(f"/enterprises/{record['code']}")).status_code == 404


async def test_land_transfers_outlive_a_restart(tmp_path: Path, hub: str) -> None:
    state = tmp_path / "land.db"
    data = Parcels(seed=SEED, size=SIZE)
    parcel = next(
        p
        for p in map(data.seed_parcel, range(data.count))
        if [u["kind"] for u in p["land_users"]] == ["citizen"]
    )
    seller = parcel["land_users"][0]["id"]
    seller_index = index_of(SEED, SIZE, seller)
    assert seller_index is not None
    buyer = citizen_at(SEED, SIZE, 0)
    body = {
        "from": {
            "kind": "citizen",
            "id": seller,
            "name": citizen_at(SEED, SIZE, seller_index)["full_name"],
        },
        "to": {"kind": "citizen", "id": buyer["id"], "name": buyer["full_name"]},
        "certificate": {k: parcel["certificate"][k] for k in ("code", "serial")},
    }
    async with running("land", state, hub_url=hub) as api:
        done = await api.post(f"/parcels/{parcel['id']}/transfers", json=body, headers=PURPOSE)
        assert done.status_code == 201, done.text
        now = done.json()["parcel"]
    async with running("land", state, hub_url=hub) as api:
        assert (await api.get(f"/parcels/{parcel['id']}")).json() == now
        held = await api.get("/parcels", params={"land_user": buyer["id"], "limit": 100})
        assert parcel["id"] in [p["id"] for p in held.json()["items"]]
        new = now["certificate"]
        current = await api.post(
            "/certificates/verify", json={"code": new["code"], "serial": new["serial"]}
        )
        assert current.json() == {"valid": True, "status": "current"}
        old = await api.post("/certificates/verify", json=body["certificate"])
        assert old.json() == {"valid": False, "status": "superseded"}
        assert (await api.get("/__health")).json()["transfers"] == 1
        await api.post("/__reset")
    async with running("land", state, hub_url=hub) as api:
        assert (await api.get(f"/parcels/{parcel['id']}")).json() == parcel


async def test_without_a_file_writes_last_only_as_long_as_the_app() -> None:
    body = {"holder_id": "079325123456", "full_name": "Lê Bảo An", "date_of_birth": "2025-04-01"}
    async with running("insurance", None) as api:
        code = (await api.post("/cards", json=body)).json()["code"]
        assert "state" not in (await api.get("/__health")).json()
    async with running("insurance", None) as api:
        assert (await api.get(f"/cards/{code}")).status_code == 404


# --- hub mock --state ---------------------------------------------------------------------


def test_a_file_without_writes_is_taken_under_another_seed_or_size(tmp_path: Path) -> None:
    # Nothing in it depends on the seed: refusing it said it "holds writes made with seed 1",
    # which was not true, and sent the user to remove a file with nothing to lose.
    path = tmp_path / "s.db"
    state = StateFile(path, owner=OWNER)
    things = Overlay[str, int]("things", state)
    things["a"] = 1
    things.clear()  # as POST /__reset: the file holds no writes again
    state.close()
    other = {**OWNER, "seed": 2, "size": 20}
    state = StateFile(path, owner=other)
    Overlay[str, int]("things", state)["b"] = 2
    state.close()
    with closing(sqlite3.connect(path)) as conn:  # the file is the new seed's now
        assert {k: v for k, v in conn.execute("SELECT key, value FROM meta")} == {
            k: str(v) if k != "dataset" else f'"{v}"' for k, v in other.items()
        }
    with pytest.raises(StateFileError, match=r"holds writes made with seed 2, size 20, not seed 1"):
        StateFile(path, owner=OWNER)


def test_another_datasets_file_is_refused_even_without_writes(tmp_path: Path) -> None:
    # Most likely two mocks' files mixed up: said, and the file left to its own mock.
    path = tmp_path / "s.db"
    StateFile(path, owner=OWNER).close()
    with pytest.raises(StateFileError) as refused:
        StateFile(path, owner={**OWNER, "dataset": "tests.Others"})
    said = str(refused.value)
    assert "holds writes" not in said, said
    assert "is the state file of dataset tests.Things (it holds no writes), not of " in said
    assert "give this mock its own state file" in said


async def test_hub_mock_refuses_a_state_file_of_another_seed(tmp_path: Path) -> None:
    state = tmp_path / "insurance.db"
    body = {"holder_id": "079325123456", "full_name": "Lê Bảo An", "date_of_birth": "2025-04-01"}
    async with running("insurance", state) as api:
        assert (await api.post("/cards", json=body)).status_code == 201
    args = ["mock", "insurance", "--seed", "7", "--size", str(SIZE), "--state", str(state)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert f"holds writes made with seed {SEED}, not seed 7" in said
    assert "start the mock with the same seed" in said
    with closing(sqlite3.connect(state)) as conn:  # the refusal left the file as it was
        assert dict(conn.execute("SELECT key, value FROM meta"))["seed"] == str(SEED)
