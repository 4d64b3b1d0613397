"""Looped stateful scenarios of the library pick distinct records in every iteration.

Run against the mock agencies' own seed data (read only, no hub): two iterations in flight
at once that picked the same parcel or elder failed with 422 "not the current certificate"
or 409 "already deceased".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from multidict import CIMultiDict
from orjson import dumps

from connectors.land.dataset import Parcels
from connectors.population.store import PopulationData
from hub.replay.expect import Reply, capture
from hub.replay.loader import load_file
from hub.replay.plan import ExchangePlan
from hub.replay.templating import render_value
from schemas.identifiers import personal_id_facts
from schemas.population import DeathRegistration

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def step(file: str, step_id: str) -> ExchangePlan:
    found = [s for s in load_file(SCENARIOS / file).steps if s.id == step_id]
    assert len(found) == 1 and isinstance(found[0], ExchangePlan)
    return found[0]


def query(plan: ExchangePlan, variables: dict[str, Any]) -> dict[str, Any]:
    return {name: render_value(value, variables) for name, value in plan.query}


def pick(plan: ExchangePlan, items: list[dict[str, Any]], variables: dict[str, Any]) -> Any:
    reply = Reply(200, CIMultiDict(), dumps({"items": items}), 1.0)
    assert capture(plan, reply, variables) is None, variables
    (name, *_), *_ = plan.capture
    return variables[name]


def test_land_transfer_iterations_pick_distinct_parcels() -> None:
    plan = step("land-transfer.yaml", "find-parcel")
    parcels = Parcels(seed=42)
    chosen = []
    for iteration in range(1, 50):  # the 49 the docs promise on the default data set
        variables: dict[str, Any] = {"run": {"iteration": iteration, "id": "t"}}
        q = query(plan, variables)
        items, _ = parcels.search(
            province=q["province"], limit=int(q["limit"]), cursor=int(q.get("cursor", 0))
        )
        parcel = pick(plan, items, variables)
        chosen.append(parcel["id"])
        # A seller the death scenario (60 or older) never registers as deceased.
        _, born, _ = personal_id_facts(parcel["land_users"][0]["id"])
        assert 1970 <= born <= 1999
    assert len(set(chosen)) == len(chosen)


def find_citizens(people: PopulationData, q: dict[str, Any]) -> tuple[list[Any], str | None]:
    year, before = q.get("birth_year"), q.get("born_before")
    return people.search(
        province=q.get("province"),
        birth_year=None if year is None else int(year),
        born_before=None if before is None else dt.date.fromisoformat(before),
        status=q.get("status"),
        limit=int(q["limit"]),
        cursor=q.get("cursor"),
    )


FIND_ELDER = step("death-linked-procedure.yaml", "find-elder")


def pick_elder(people: PopulationData, iteration: int) -> str:
    variables: dict[str, Any] = {"run": {"iteration": iteration, "id": "t"}}
    items, _ = find_citizens(people, query(FIND_ELDER, variables))
    pick(FIND_ELDER, items, variables)
    elder = variables["elder"]
    assert elder["id"] == variables["deceased"] and elder["status"] == "alive"
    assert elder["date_of_birth"] <= "1965-10-30"  # 60 or older on the date of death
    return str(elder["id"])


def test_death_iterations_pick_distinct_elders_run_after_run() -> None:
    # With birth_year=1950 and a search from citizen 1000*i, an iteration whose thousand had
    # run out of living elders (4 in one) took the next thousand's first: the 5th run of 20
    # iterations had two concurrent iterations register the same death (409). Reading a fixed
    # 100 citizens instead, the 12th to 38th run found no living elder left in them.
    people = PopulationData(seed=42, size=30_000)
    for _run in range(40):
        chosen = [pick_elder(people, iteration) for iteration in range(1, 21)]
        assert len(set(chosen)) == len(chosen)
        for citizen_id in chosen:  # as the run's death registrations do
            people.register_death(
                DeathRegistration(id=citizen_id, date_of_death=dt.date(2025, 10, 30))
            )


def test_death_iterations_of_one_run_pick_distinct_elders() -> None:
    people = PopulationData(seed=42)
    chosen = [pick_elder(people, iteration) for iteration in range(1, 100)]
    assert len(set(chosen)) == len(chosen)
