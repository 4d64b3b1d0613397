"""What the hub takes as an address to call: a provider's base URL, a hub's for replay."""

from __future__ import annotations

from urllib.parse import urlsplit

URL_MAX = 1000  # the registry's column


def http_url_problem(url: str) -> str | None:
    """What keeps ``url`` from being an http(s) URL with a host and a port in range, or None."""
    if any(c.isspace() for c in url):
        return "has whitespace in it"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        # It would be shown in full to operators (provider health) and in every export.
        return "holds a user name or password; give the provider's credentials another way"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "has a query or fragment; the exchange's own path and query are added to it"
    if len(url) > URL_MAX:
        return f"is longer than {URL_MAX} characters"
    try:
        port = parts.port  # raises ValueError past 65535
    except ValueError:
        port = 0
    return "has a port out of range (1-65535)" if port == 0 else None


def is_http_url(url: str) -> bool:
    """An http:// or https:// URL with a host, a port in range if any, and no whitespace."""
    return http_url_problem(url) is None
