"""Database URLs printed in the CLI's messages: as given, the password masked."""

from __future__ import annotations

import pytest

from hub.cli.common import plural, shown


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ("sqlite+aiosqlite:///file:/data/hub.db?mode=ro&uri=true", None),
        ("sqlite+aiosqlite:////var/lib/hub/Hồ sơ.db", None),
        ("postgresql+asyncpg://hub@db:5432/hub", None),
        ("postgresql+asyncpg://hub:s3cret@db:5432/hub", "postgresql+asyncpg://hub:***@db:5432/hub"),
        (
            "postgresql+asyncpg://hub:p%40ss%2Fw@db/hub?ssl=require",
            "postgresql+asyncpg://hub:***@db/hub?ssl=require",
        ),
        ("not a url", None),
    ],
)
def test_a_url_is_shown_as_given_with_its_password_masked(given: str, printed: str | None) -> None:
    assert shown(given) == (printed if printed is not None else given)


def test_a_count_is_said_with_its_noun_in_the_singular_for_one() -> None:
    assert [plural(n, "day") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert plural(1, "batch", "batches") == "1 batch"
    assert plural(3000, "batch", "batches") == "3000 batches"
    assert plural(3000, "record", sep=",") == "3,000 records"
