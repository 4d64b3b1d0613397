"""Database URLs printed in the CLI's messages: as given, the password masked."""

from __future__ import annotations

import pytest

from hub.cli.common import plural, shown
from hub.core.settings import masked_url


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
        # A bare "@" in the password is masked whole, not cut at its first "@".
        ("postgresql+asyncpg://hub:p@ss@db:5432/hub", "postgresql+asyncpg://hub:***@db:5432/hub"),
        (
            "postgresql+asyncpg://hub:pw@db/hub?tag=a@b",
            "postgresql+asyncpg://hub:***@db/hub?tag=a@b",
        ),
        ("not a url", None),
    ],
)
def test_a_url_is_shown_as_given_with_its_password_masked(given: str, printed: str | None) -> None:
    assert shown(given) == (printed if printed is not None else given)


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("rediss://hub:p@ss@cache/1", "rediss://hub:***@cache/1"),
    ],
)
def test_a_redis_url_is_printed_with_its_whole_password_masked(given: str, printed: str) -> None:
    assert masked_url(given) == printed


def test_a_count_is_said_with_its_noun_in_the_singular_for_one() -> None:
    assert [plural(n, "day") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert plural(1, "batch", "batches") == "1 batch"
    assert plural(3000, "batch", "batches") == "3000 batches"
    assert plural(3000, "record", sep=",") == "3,000 records"
