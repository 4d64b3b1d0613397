"""Health-insurance cards of the synthetic population, plus those issued since start.

About 93 % of seed citizens (the real coverage) hold a card computed from their record, so
cards exist for the same people the population mock (same seed and size) knows. A card code
carries the last ten digits of the holder's personal ID, which is how a code leads back to its
holder. Cards issued through ``card-issue`` live in an overlay (kept in the mock's state file
when it has one) until ``reset()``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from connectors.kit import (
    ConflictError,
    Dataset,
    NotFoundError,
    Overlay,
    ProviderError,
    UnprocessableError,
)
from connectors.population import dataset as population
from schemas.identifiers import (
    COMMUNES,
    CURRENT_PROVINCE,
    OLD_PROVINCE_CODES,
    PROVINCES,
    personal_id_facts,
    province_problem,
)
from schemas.insurance import CARD_CODE, CardIssue

Record = dict[str, Any]
COVERAGE_PERCENT = 93
_T_CARD = 0xCA4D
# Beneficiary group -> benefit level: children under six 1 (100 %), pensioners 2, households 4.
LEVELS = {"TE": 1, "HT": 2, "GD": 4}


class InsuranceData(Dataset):
    """Cards of one insurance mock; ``size`` is the size of the population it mirrors."""

    default_size = population.DEFAULT_SIZE
    max_size = population.MAX_SIZE

    def __init__(
        self, *, seed: int = 42, size: int | None = None, state_path: str | Path | None = None
    ) -> None:
        super().__init__(seed=seed, size=size, state_path=state_path)
        self.issued: Overlay[str, Record] = self.overlay("cards")  # code -> card
        self.reindex()

    def reindex(self) -> None:
        self.by_holder: dict[str, list[str]] = {}  # holder ID -> codes issued since start
        for code, card in self.issued.items():
            self.by_holder.setdefault(card["holder_id"], []).append(code)

    def health(self) -> dict[str, object]:
        return {**super().health(), "issued": len(self.issued)}

    def lookup(self, code: str) -> Record:
        if not re.fullmatch(CARD_CODE, code, re.ASCII):  # no card could have it: not "no data"
            raise ProviderError(
                f"{code!r} is not a health-insurance card code: 2 capital letters (the "
                "beneficiary group) and 13 digits (e.g. GD4799090001234)"
            )
        card = self.issued.get(code) or self._seed_card_by_code(code)
        if card is None:
            raise NotFoundError(f"no health-insurance card with code {code}")
        return card

    def cards_of(self, holder_id: str) -> list[Record]:
        cards = [self.issued[c] for c in self.by_holder.get(holder_id, [])]
        citizen = self._citizen(holder_id)
        seed_card = self._seed_card(citizen) if citizen else None
        return ([seed_card] if seed_card else []) + cards

    def issue(self, request: CardIssue, *, today: dt.date | None = None) -> Record:
        today = today or dt.date.today()
        holder = request.holder_id
        # The model took only a personal ID (schemas.common.PersonalId); it said "is not a
        # valid personal ID for that date of birth", not what disagreed.
        born_by_id = personal_id_facts(holder)[1]
        if request.date_of_birth is not None and request.date_of_birth.year != born_by_id:
            raise UnprocessableError(
                f"holder_id {holder} says born in {born_by_id}, not "
                f"{request.date_of_birth.year} (date_of_birth {request.date_of_birth})"
            )
        active = [c for c in self.cards_of(holder) if c["valid_to"] >= today.isoformat()]
        if active:
            raise ConflictError(f"{holder} already holds card {active[0]['code']}")
        citizen = self._citizen(holder)
        if citizen is not None:
            # A seed citizen's card carries the population database's name and birth date:
            # another given here was issued as given, a card that named someone else.
            for field, given in (
                ("full_name", request.full_name),
                ("date_of_birth", born_of(request)),
            ):
                if given is not None and given != citizen[field]:
                    raise UnprocessableError(
                        f"{field} {given!r} is not that of citizen {holder} in the population "
                        f"database ({citizen[field]!r}); leave it out to use the database's"
                    )
        name = request.full_name or (citizen and citizen["full_name"])
        born = request.date_of_birth or (
            dt.date.fromisoformat(citizen["date_of_birth"]) if citizen else None
        )
        if not name or born is None:
            raise UnprocessableError(
                f"{holder} is not in the seed population: give full_name and date_of_birth"
            )
        # An ID keeps the province of birth registration as it was: one born in Hà Giang (02)
        # lives, since 2025, in Tuyên Quang (08).
        province = request.province or (
            citizen["permanent_address"]["province"]
            if citizen
            else CURRENT_PROVINCE[personal_id_facts(holder)[0]]
        )
        said = province_problem(province)
        if said is not None:
            raise UnprocessableError(said)
        facility = f"Trạm Y tế {_first_commune(province)}"
        card = _card(holder, name, born, province, facility, today)
        self.issued[card["code"]] = card
        self.by_holder.setdefault(holder, []).append(card["code"])
        return card

    def _citizen(self, holder_id: str) -> Record | None:
        index = population.index_of(self.seed, self.size, holder_id)
        return None if index is None else population.citizen_at(self.seed, self.size, index)

    def _seed_card(self, citizen: Record) -> Record | None:
        index = population.index_of(self.seed, self.size, citizen["id"])
        if index is None or population._mix(self.seed, _T_CARD, index) % 100 >= COVERAGE_PERCENT:
            return None
        home = citizen["permanent_address"]
        start = dt.date(dt.date.today().year, 1, 1)
        born = dt.date.fromisoformat(citizen["date_of_birth"])
        facility = f"Trạm Y tế {home['commune_name']}"
        return _card(citizen["id"], citizen["full_name"], born, home["province"], facility, start)

    def _seed_card_by_code(self, code: str) -> Record | None:
        if len(code) != 15 or not (code[3:].isascii() and code[3:].isdigit()):
            return None
        tail = code[5:]
        # The code keeps the ID's last ten digits; the two dropped ones are "0" and the first
        # digit of a province code that ends in tail[0].
        for province in sorted(PROVINCES.keys() | OLD_PROVINCE_CODES):
            if province[1] == tail[0]:
                citizen = self._citizen(f"0{province[0]}{tail}")
                card = self._seed_card(citizen) if citizen else None
                if card is not None and card["code"] == code:
                    return card
        return None


def _card(
    holder: str, name: str, born: dt.date, province: str, facility: str, start: dt.date
) -> Record:
    # In calendar years: days // 365 made a child six a day or two before the birthday.
    group = (
        "TE"
        if start < population.years_after(born, 6)
        else "HT"
        if start >= population.years_after(born, 62)
        else "GD"
    )
    if group == "TE":
        # A child's card runs until the day before the sixth birthday.
        valid_to = population.years_after(born, 6) - dt.timedelta(days=1)
    else:
        valid_to = dt.date(start.year, 12, 31)
    return {
        "code": f"{group}{LEVELS[group]}{province}{holder[2:]}",
        "holder_id": holder,
        "social_insurance_number": holder,
        "full_name": name,
        "date_of_birth": born.isoformat(),
        "beneficiary_group": group,
        "benefit_level": LEVELS[group],
        "province": province,
        "initial_facility": facility,
        "valid_from": start.isoformat(),
        "valid_to": valid_to.isoformat(),
    }


def _first_commune(province: str) -> str:
    return next(c.name for c in COMMUNES.values() if c.province == province)


def born_of(request: CardIssue) -> str | None:
    return request.date_of_birth.isoformat() if request.date_of_birth else None
