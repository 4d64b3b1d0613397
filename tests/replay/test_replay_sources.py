"""Reading API keys and provider URLs from the files a tester passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.replay.sources import SourceError, load_credentials, load_providers


def test_a_file_that_is_not_utf8_is_refused_in_words(tmp_path: Path) -> None:
    # A UTF-16 file (as some editors save JSON) ended the run with a traceback.
    path = tmp_path / "creds.json"
    path.write_text('[{"client": "A/B/C/d", "api_key": "k"}]', encoding="utf-16")
    for load in (load_credentials, load_providers):
        with pytest.raises(SourceError) as caught:
            load(path)
        assert str(caught.value).startswith(f"{path}: cannot read the ")
        assert "UTF-8" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # PyYAML's text: 'while parsing a flow node\nexpected ...\n  in "<unicode string>", ...'.
        (
            "a: [\n",
            ":2:1: the {what} file is neither JSON nor YAML: expected the node content, but "
            "found '<stream end>' (while parsing a flow node)",
        ),
        # "unacceptable character #x0000: ... position 1": an offset no editor shows.
        (
            "a: 1\nb\x00: 2\n",
            ":2:2: the {what} file is neither JSON nor YAML: the control character \\x00 is "
            "not allowed in YAML",
        ),
    ],
)
def test_a_file_that_is_not_yaml_is_refused_on_one_line_with_its_place(
    tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(text)
    for load, what in ((load_credentials, "credentials"), (load_providers, "providers")):
        with pytest.raises(SourceError) as caught:
            load(path)
        assert str(caught.value) == f"{path}{said.format(what=what)}"


@pytest.mark.parametrize(
    "entry",
    [
        '{"client": "A/B/C/d", "api_key": null}',
        '{"client": "A/B/C/d", "api_key": 5}',
        '{"client": ["A/B/C/d"], "api_key": "k"}',
    ],
)
def test_a_key_or_client_that_is_not_text_is_refused(tmp_path: Path, entry: str) -> None:
    # A null key was sent as "Bearer None": every step then failed with 401.
    path = tmp_path / "creds.json"
    path.write_text(f"[{entry}]")
    with pytest.raises(SourceError) as caught:
        load_credentials(path)
    assert str(caught.value) == f"{path}: entry 0: 'client' and 'api_key' must be text"


def test_the_output_of_hub_demo_credentials_is_read(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text('[{"client": "A/B/C/d", "api_key": "k", "services": ["A/B/C/d/e"]}]')
    assert load_credentials(path) == {"A/B/C/d": "k"}


def test_a_file_nested_too_deeply_is_refused_in_words(tmp_path: Path) -> None:
    # Lists 100 000 deep: the JSON parser's recursion ran out, a traceback ended the run.
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    for load in (load_credentials, load_providers):
        with pytest.raises(SourceError) as caught:
            load(path)
        assert str(caught.value).startswith(f"{path}: the ")
        assert "nested too deeply" in str(caught.value)


def test_fault_settings_nested_too_deeply_are_refused_in_words() -> None:
    from hub.replay.faults import parse_fault

    with pytest.raises(ValueError, match="nested too deeply"):
        parse_fault("VN/GOV/BCA/population=" + "{a: " * 3000 + "1" + "}" * 3000)


async def test_a_refused_connection_is_said_in_words() -> None:
    # It said "ClientConnectorError: Cannot connect to host 127.0.0.1:P ssl:default
    # [Connect call failed ('127.0.0.1', P)]", for the hub as for a fault step's mock.
    import socket

    import aiohttp

    from hub.replay.sources import failure_text

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: a connection is refused
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError) as caught:
                await session.get(f"http://127.0.0.1:{port}/healthz")
    assert failure_text(caught.value, 10) == (
        f"connection refused: nothing listens on 127.0.0.1:{port}"
    )
