"""What the hub takes as an address to call: a provider's base URL, a hub's for replay."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_http_url(url: str) -> bool:
    """An http:// or https:// URL with a host, a port in range if any, and no whitespace."""
    if any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
