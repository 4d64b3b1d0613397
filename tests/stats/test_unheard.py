"""A filter naming an id neither registered nor in the log (a typo, most often) answers the
zeros it matches, and ``notes`` says why, with the id likely meant: the API's counterpart of
the note `hub stats` and `hub tx` print on stderr."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.gateway.conftest import CLIENT, OTHER, PROVIDER, Hub
from tests.stats.conftest import log_records, record
from tests.stats.test_exactness import get, traffic

LOOKUP = f"{PROVIDER}/citizen-lookup"
FILTERED = ["/api/transactions", "/api/stats/summary", "/api/stats/timeseries", "/api/stats/top"]


def _nothing(path: str, answer: dict[str, Any]) -> bool:
    """The answer counts or lists nothing, as a filter that matches nothing makes it."""
    if path == "/api/transactions":
        return answer["items"] == [] and answer["next_cursor"] is None
    if path == "/api/stats/summary":
        return answer["total"] == 0
    if path == "/api/stats/timeseries":
        return sum(p["total"] for p in answer["points"]) == 0
    return answer["rows"] == []


@pytest.mark.parametrize("path", FILTERED)
@pytest.mark.parametrize(
    ("name", "typo", "meant"),
    [
        ("client", "VN/GOV/BTP/civil-statu", CLIENT),
        ("service", f"{PROVIDER}/citizen-lookp", LOOKUP),
        ("provider", "VN/GOV/BCA/populatio", PROVIDER),
    ],
)
async def test_a_filter_naming_nothing_answers_zeros_with_a_note(
    hub: Hub, path: str, name: str, typo: str, meant: str
) -> None:
    await traffic(hub)
    answer = await get(hub, path, **{name: typo})  # 200: a valid question, answered
    assert _nothing(path, answer), answer
    assert answer["notes"] == [
        f"no {name} {typo} is registered or in the log (did you mean {meant}?): "
        f"nothing matches {name}={typo}"
    ]


async def test_each_filter_naming_nothing_has_its_note(hub: Hub) -> None:
    answer = await get(
        hub, "/api/stats/summary", client="VN/GOV/XYZ/nobody", service=LOOKUP,
        provider="VN/GOV/QQQ/none-such",
    )  # fmt: skip
    # Nothing registered is close to them: no guess.
    assert answer["notes"] == [
        "no client VN/GOV/XYZ/nobody is registered or in the log: nothing matches "
        "client=VN/GOV/XYZ/nobody",
        "no provider VN/GOV/QQQ/none-such is registered or in the log: nothing matches "
        "provider=VN/GOV/QQQ/none-such",
    ]
    assert answer["total"] == 0


@pytest.mark.parametrize("path", FILTERED)
async def test_known_ids_and_none_have_no_note(hub: Hub, path: str) -> None:
    records = await traffic(hub)
    for params in (
        {"client": CLIENT, "service": LOOKUP, "provider": PROVIDER},  # with records
        {"client": OTHER},  # registered, with none in the log: a true zero
        {"client": "none", "service": "NONE", "provider": "None"},
        {"client": ""},  # no filter
        {},
    ):
        answer = await get(hub, path, **params)
        assert answer["notes"] == [], params
    assert records  # the filters above were answered over a log with records in it


async def test_an_id_in_the_log_no_longer_registered_has_no_note(hub: Hub, db_url: str) -> None:
    # Its exchanges are counted: the id names something, registered or not.
    gone = "VN/GOV/OLD/archive"
    when = datetime.now(UTC).replace(tzinfo=None)
    await log_records(db_url, [record(when, client=gone, service=f"{gone}/files",
                                      provider=gone)])  # fmt: skip
    for name, value in (("client", gone), ("service", f"{gone}/files"), ("provider", gone)):
        answer = await get(hub, "/api/stats/summary", **{name: value})
        assert answer["total"] == 1 and answer["notes"] == [], (name, answer)


async def test_the_answers_without_filters_are_unchanged(hub: Hub) -> None:
    # The matrix and growth take no client, service or provider: nothing to note.
    assert "notes" not in await get(hub, "/api/stats/matrix")
    assert "notes" not in await get(hub, "/api/stats/growth")
