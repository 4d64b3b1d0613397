"""The registry tests that need a running hub in front of a provider take the gateway's."""

from tests.gateway.conftest import hub  # noqa: F401  (the running hub fixture)
