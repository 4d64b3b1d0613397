"""`hub serve` asks HUB_REDIS_URL once at start, and says so when it does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import REDIS_URL, free_port, serve_env, serving


def _started(tmp_path: Path, redis_url: str) -> str:
    """What `hub serve` said by the time it serves, given ``redis_url``."""
    env = serve_env(tmp_path) | {"HUB_REDIS_URL": redis_url}
    with serving(tmp_path, env=env) as (_proc, log_path):
        return " ".join(log_path.read_text().split())


def test_a_redis_that_does_not_answer_is_said_at_start(tmp_path: Path) -> None:
    # A typo in HUB_REDIS_URL's host or port started the hub without a word: the first
    # exchange under a quota, perhaps hours later, logged that each process counts alone.
    nothing_there = free_port()
    said = _started(tmp_path, f"redis://:s3cret@127.0.0.1:{nothing_there}/3")
    assert (
        f"warning: HUB_REDIS_URL redis://:***@127.0.0.1:{nothing_there}/3 does not answer" in said
    ), said
    assert "each process counts client quotas on its own" in said
    assert "s3cret" not in said


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="needs a Redis: set HUB_TEST_REDIS_URL=redis://...")
def test_a_redis_that_answers_is_not_warned_about(tmp_path: Path) -> None:
    assert REDIS_URL
    said = _started(tmp_path, REDIS_URL)
    assert "HUB_REDIS_URL" not in said, said
