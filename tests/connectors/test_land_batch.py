"""parcel-batch-lookup and as_of: many parcels in one call, and who held a parcel on a day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from connectors import land
from connectors.kit.testing import open_client
from connectors.land.dataset import Parcels
from connectors.population.dataset import citizen_at
from schemas.land import LandTransfer
from tests.connectors.test_land_hub import KEY, PURPOSE, SEED, SIZE, citizen_parcel, request_for
from tests.connectors.test_land_hub import hub as hub  # noqa: F401 (the fixture)

UNKNOWN = "w3gvk1td8f2q"  # GeoHash characters, no parcel of this registry


def transfer_to(data: Parcels, parcel: dict[str, Any], k: int, day: dt.date) -> dict[str, Any]:
    """Hand ``parcel`` (as it is now) from its first user to citizen ``k``, on ``day``."""
    buyer = citizen_at(SEED, SIZE, k)
    now = data.get(parcel["id"])
    body = request_for(now, {"kind": "citizen", "id": buyer["id"], "name": buyer["full_name"]})
    return data.transfer(parcel["id"], LandTransfer.model_validate(body), today=day)[1]


def test_as_of_follows_the_transfers_by_their_day() -> None:
    data = Parcels(seed=SEED, size=SIZE)
    parcel = citizen_parcel()
    assert data.index_of(UNKNOWN) is None
    first = transfer_to(data, parcel, 0, dt.date(2026, 3, 1))
    second = transfer_to(data, parcel, 1, dt.date(2026, 5, 1))
    assert data.get(parcel["id"]) == second
    # The seed record stands for every day before the first transfer the registry recorded.
    assert data.get(parcel["id"], as_of=dt.date(1990, 1, 1)) == parcel
    assert data.get(parcel["id"], as_of=dt.date(2026, 2, 28)) == parcel
    assert data.get(parcel["id"], as_of=dt.date(2026, 3, 1)) == first
    assert data.get(parcel["id"], as_of=dt.date(2026, 4, 30)) == first
    assert data.get(parcel["id"], as_of=dt.date(2026, 5, 1)) == second
    data.reset()
    assert data.get(parcel["id"], as_of=dt.date(2026, 5, 1)) == parcel


async def test_batch_answers_the_found_in_order_and_names_the_rest() -> None:
    data = Parcels(seed=SEED, size=SIZE)
    parcels = [data.seed_parcel(i) for i in (7, 2, 40)]
    ids = [p["id"] for p in parcels]
    async with open_client(land.create_app(seed=SEED, size=SIZE)) as client:
        answer = await client.post("/parcels/batch", json={"ids": [*ids, UNKNOWN, ids[1]]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"items": parcels, "not_found": [UNKNOWN]}
        refused = await client.post("/parcels/batch", json={"ids": [ids[0], "not-a-parcel"]})
        assert refused.status_code == 422 and "ids.1" in refused.json()["message"]
        assert "is not a parcel ID" in refused.json()["message"]
        for body in ({"ids": []}, {"ids": ids * 34}):  # 0 and 102 IDs
            assert (await client.post("/parcels/batch", json=body)).status_code == 422
    spec = land.MANIFEST.service("parcel-batch-lookup")
    assert spec.personal_data and spec.method == "POST" and spec.path == "/parcels/batch"
    body_of_100 = '{\n    "ids": [\n' + ",\n".join(f'        "{UNKNOWN}"' for _ in range(100))
    assert len(body_of_100.encode()) + 10 <= spec.max_body_bytes


@pytest.mark.parametrize("day", ["1899-12-31", "2999-01-01", "2024-02-30"])
async def test_as_of_outside_1900_to_today_says_what_to_send(day: str) -> None:
    parcel_id = Parcels(seed=SEED, size=SIZE).parcel_id(7)
    async with open_client(land.create_app(seed=SEED, size=SIZE)) as client:
        single = await client.get(f"/parcels/{parcel_id}", params={"as_of": day})
        batch = await client.post("/parcels/batch", json={"ids": [parcel_id], "as_of": day})
    for answer in (single, batch):
        assert answer.status_code == 422, answer.text
        assert "as_of" in answer.json()["message"] and day in answer.json()["message"]


async def test_the_seller_held_the_parcel_the_day_before_a_transfer(
    hub: tuple[Any, str], tmp_path: Path
) -> None:
    _, url = hub
    parcel = citizen_parcel()
    buyer = citizen_at(SEED, SIZE, 0)
    body = request_for(parcel, {"kind": "citizen", "id": buyer["id"], "name": buyer["full_name"]})
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    state = tmp_path / "land.sqlite"
    app = land.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY, state_path=state)
    async with open_client(app) as client:
        sold = await client.post(f"/parcels/{parcel['id']}/transfers", json=body, headers=PURPOSE)
        assert sold.status_code == 201, sold.text
    # Restarted on its state file, the registry still knows who held the parcel before.
    async with open_client(land.create_app(seed=SEED, size=SIZE, state_path=state)) as client:
        then = await client.get(f"/parcels/{parcel['id']}", params={"as_of": yesterday})
        assert then.status_code == 200 and then.json() == parcel
        now = await client.get(f"/parcels/{parcel['id']}")
        assert now.json() == sold.json()["parcel"]
        batch = await client.post(
            "/parcels/batch", json={"ids": [parcel["id"]], "as_of": yesterday}
        )
        assert batch.json() == {"items": [parcel], "not_found": []}
