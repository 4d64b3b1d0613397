"""Free local ports to listen on a moment later: for tests, the scenario plugin and benches."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 20_000
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A port free now, from below the kernel's range for outgoing connections.

    A port the kernel lends (bind to 0) is in that range, and could be given meanwhile to a
    connection this process opens (PostgreSQL, Redis, a mock): the server's bind then fails
    with "address already in use" (seen once in a full test run).
    """
    return free_block(1)


def free_block(size: int) -> int:
    """A port P with P .. P+size-1 all free now (`hub up` takes the ports after its own),
    below the kernel's range for outgoing connections, as ``free_port``'s."""
    if size < 1:
        raise ValueError("a block of ports holds at least one port")
    low = ephemeral_low()
    top = low - size if low - size > LOWEST + 1_000 else 65_536 - size
    for _ in range(200):
        base = random.randrange(LOWEST, top)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no block of {size} free ports between {LOWEST} and {top + size - 1}")


def ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections; 65,536 if unknown
    (no such range to keep out of)."""
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 65_536
