"""Free ports are drawn below the kernel's range for outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hub.core import ports
from hub.replay import pytest_plugin


def test_blocks_are_free_and_below_the_range_for_outgoing_connections() -> None:
    low = ports.ephemeral_low()
    for _ in range(20):
        base = ports.free_block(8)
        assert base >= ports.LOWEST
        if low < 65_536:
            assert base + 8 <= low
        for port in range(base, base + 8):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))  # still free a moment later


def test_a_single_port_is_a_block_of_one() -> None:
    port = ports.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_the_scenario_plugins_hub_takes_its_block_below_the_range() -> None:
    hub = pytest_plugin.HubProcess()
    try:
        low = ports.ephemeral_low()
        assert hub.port >= ports.LOWEST
        if low < 65_536:
            assert hub.port + 8 <= low
    finally:
        hub.workdir.cleanup()


def test_an_unreadable_range_leaves_the_whole_upper_range(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ports, "_RANGE_FILE", tmp_path / "missing")
    assert ports.ephemeral_low() == 65_536
    base = ports.free_block(4)
    assert ports.LOWEST <= base <= 65_536 - 4


def test_a_range_starting_low_still_yields_ports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    range_file = tmp_path / "range"
    range_file.write_text("1024\t65535\n")
    monkeypatch.setattr(ports, "_RANGE_FILE", range_file)
    assert ports.ephemeral_low() == 1024
    assert ports.LOWEST <= ports.free_block(2) <= 65_536 - 2


def test_an_empty_block_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one port"):
        ports.free_block(0)


async def test_a_test_server_on_a_taken_port_raises_instead_of_exiting() -> None:
    from starlette.applications import Starlette

    from tests.support import serve

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"could not serve on 127.0.0.1:{port}"):
            async with serve(Starlette(), port):
                pass
