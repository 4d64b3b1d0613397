"""Settings from HUB_* variables: one rule for a variable set but empty, finite numbers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.core.settings import Settings


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.mark.parametrize(
    "name",
    [
        "HUB_REDIS_URL",
        "HUB_DEFAULT_QUOTA_RPS",
        "HUB_DEFAULT_QUOTA_PER_DAY",
        "HUB_LOG_WRITER_SOCKET",
    ],
)
def test_an_empty_variable_of_a_setting_that_may_be_unset_leaves_it_unset(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HUB_REDIS_URL= meant "no Redis" while HUB_DEFAULT_QUOTA_RPS= was refused as no integer.
    s = _settings(monkeypatch, **{name: ""})
    assert getattr(s, name.removeprefix("HUB_").lower()) is None


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("HUB_ADMIN_TOKEN", "change-me"),
        ("HUB_SECRET_KEY", "change-me"),
        ("HUB_SIGNING_KEY_FILE", "var/signing-key.pem"),
        ("HUB_HOST", "127.0.0.1"),
        ("HUB_PORT", "8000"),
        ("HUB_ENV", "development"),
        ("HUB_DATABASE_URL", "sqlite+aiosqlite:///var/hub.db"),
        ("HUB_GC_FREEZE", "false"),
    ],
)
def test_an_empty_variable_of_a_setting_with_a_default_is_refused_naming_it(
    name: str, default: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty HUB_ADMIN_TOKEN or HUB_SECRET_KEY was taken as the empty string (no admin
    # could ever sign in, keys hashed with no secret); HUB_PORT= said "not an integer".
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, **{name: ""})
    (error,) = caught.value.errors()
    assert error["loc"] == (name.removeprefix("HUB_").lower(),)
    assert "set but empty" in error["msg"] and f"the default ({default})" in error["msg"]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
@pytest.mark.parametrize("name", ["HUB_REGISTRY_REFRESH_S", "HUB_BREAKER_FAILURE_RATIO"])
def test_a_duration_or_ratio_must_be_a_finite_number(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HUB_REGISTRY_REFRESH_S=inf was taken: the registry never refreshed; nan was refused as
    # "should be less than or equal to 1".
    with pytest.raises(ValidationError, match="finite number"):
        _settings(monkeypatch, **{name: value})
