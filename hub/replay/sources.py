"""Where API keys and provider base URLs come from: a file, or the hub's demo endpoints."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from hub.core.yamlsafe import SafeValuesLoader


class SourceError(Exception):
    """Credentials or provider URLs could not be had; the message says what to do."""


FETCH_TIMEOUT_S = 10.0  # a demo endpoint of the hub, a mock's control


def failure_text(exc: BaseException, timeout_s: float) -> str:
    """Why a request got no answer; a timeout's own text is empty."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, ConnectionRefusedError
    ):
        # aiohttp's words: "Cannot connect to host H:P ssl:default [Connect call failed ...]".
        return f"connection refused: nothing listens on {exc.host}:{exc.port}"
    return f"{type(exc).__name__}: {exc}"


def yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[str, int | None, int | None]:
    """What PyYAML found wrong with ``text``, on one line, and its line and column (from 1).

    PyYAML's own text spans several lines, with a caret drawing under a copy of the line and
    'in "<unicode string>"' for where; a character it refuses (a NUL, an ESC) it places by
    its offset in the text, which no editor shows.
    """
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character
        escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        kind = "control character" if unicodedata.category(chr(code)) == "Cc" else "character"
        return f"the {kind} {escape} is not allowed in YAML", line, column
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return " ".join(str(exc).split()), None, None
    context = getattr(exc, "context", None)
    said = f"{problem} ({context})" if context else problem
    return said, mark.line + 1, mark.column + 1


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the {what} file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceError(
            f"{path}: cannot read the {what} file: it is not UTF-8 text (save it as UTF-8)"
        ) from None
    try:
        try:
            return json.loads(text)
        except ValueError:
            pass
        return yaml.load(text, Loader=SafeValuesLoader)
    except yaml.YAMLError as exc:
        said, line, column = yaml_problem(exc, text)
        where = f"{path}:{line}:{column}" if line else str(path)
        raise SourceError(f"{where}: the {what} file is neither JSON nor YAML: {said}") from None
    except RecursionError:  # both parsers recurse: lists in lists some thousands deep
        raise SourceError(
            f"{path}: the {what} file is nested too deeply (lists or mappings hundreds of "
            "levels deep)"
        ) from None


def parse_credentials(data: Any, origin: str) -> dict[str, str]:
    """``[{"client", "api_key", "services"}]`` (``hub demo credentials``) to client -> key."""
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        return _sendable(dict(data), origin)
    if not isinstance(data, list):
        raise SourceError(
            f"{origin}: expected a JSON list of {{client, api_key, services}} "
            "(the output of `hub demo credentials`)"
        )
    keys: dict[str, str] = {}
    for index, entry in enumerate(data):
        if not (isinstance(entry, dict) and "client" in entry and "api_key" in entry):
            raise SourceError(f"{origin}: entry {index} has no 'client' and 'api_key'")
        client, key = entry["client"], entry["api_key"]
        if not (isinstance(client, str) and isinstance(key, str)):
            # A null key went out as "Bearer None", and every step failed with 401.
            raise SourceError(f"{origin}: entry {index}: 'client' and 'api_key' must be text")
        keys[client] = key
    return _sendable(keys, origin)


def _sendable(keys: dict[str, str], origin: str) -> dict[str, str]:
    """``keys``, unless one holds what no header can carry (a file edited by hand): the run
    ended in a traceback of aiohttp's header check, or failed every step as it went."""
    for client, key in keys.items():
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
            raise SourceError(
                f"{origin}: the API key of {client} holds a line break or another control "
                "character, which no header can carry"
            )
    return keys


def load_credentials(path: Path) -> dict[str, str]:
    return parse_credentials(_read_json(path, "credentials"), str(path))


def parse_providers(data: Any, origin: str) -> dict[str, str]:
    """A ``{provider: base_url}`` mapping, or a registry export's ``subsystems`` list."""
    if isinstance(data, dict) and isinstance(data.get("subsystems"), list):
        mapping: dict[str, str] = {}
        for index, entry in enumerate(data["subsystems"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise SourceError(
                    f"{origin}: subsystems[{index}] has no 'id' (a registry export lists "
                    "each subsystem as {id, base_url, ...})"
                )
            if entry.get("base_url"):  # consumers have no base URL, and need none here
                mapping[entry["id"]] = str(entry["base_url"]).rstrip("/")
        return mapping
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        return {str(k): v.rstrip("/") for k, v in data.items()}
    raise SourceError(
        f"{origin}: expected a mapping of provider id to base URL "
        '({"VN/GOV/BCA/population": "http://127.0.0.1:8001"}) or a registry export'
    )


def load_providers(path: Path) -> dict[str, str]:
    return parse_providers(_read_json(path, "providers"), str(path))


async def fetch_json(session: aiohttp.ClientSession, url: str, what: str) -> Any:
    """GET a demo endpoint of the hub; a SourceError that explains any failure."""
    try:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        async with session.get(url, timeout=timeout) as response:
            body = await response.read()
            if response.status != 200:
                raise SourceError(
                    f"GET {url} answered {response.status}: the hub does not serve {what} "
                    "(demo endpoints exist only in development)"
                )
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise SourceError(f"GET {url} failed: {failure_text(exc, FETCH_TIMEOUT_S)}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise SourceError(f"GET {url} did not answer JSON") from None


class Providers:
    """Provider base URLs, from a file or fetched once from ``GET {hub}/demo/providers``."""

    def __init__(self, hub_url: str, mapping: dict[str, str] | None = None) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.mapping = mapping
        self._lock = asyncio.Lock()

    async def resolve(self, session: aiohttp.ClientSession, provider: str) -> str:
        if self.mapping is None:
            async with self._lock:
                if self.mapping is None:
                    url = f"{self.hub_url}/demo/providers"
                    self.mapping = parse_providers(
                        await fetch_json(session, url, "provider URLs"), url
                    )
        if provider not in self.mapping:
            known = ", ".join(sorted(self.mapping)) or "none"
            raise SourceError(
                f"no base URL for provider {provider!r} (known: {known}); "
                "give the step a 'url:' or pass --providers FILE"
            )
        return self.mapping[provider]
