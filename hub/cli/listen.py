"""Running the hub's server: uvicorn with the gateway's own protocol, in one process or as
several workers under a supervisor that stops them all."""

from __future__ import annotations

import time
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from hub.cli.common import console, err_console

# No Server or Date header of the hub's own: a provider's answer goes back with its own, and
# uvicorn would otherwise add a second of each. No proxy-headers middleware: nothing in the
# hub reads the client's address, and it cost about 1.5 us an exchange (py-spy). The
# protocol sends the gateway's answer in one write (hub/gateway/protocol.py).
UVICORN_FAST: dict[str, Any] = {
    "loop": "uvloop",
    "http": "hub.gateway.protocol:HubHttpProtocol",
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "date_header": False,
}
# How long the parent of several workers waits for one to answer before it replaces it.
WORKER_PING_S = 60
# How long, past the graceful shutdown's 30 s, the parent waits for a worker to stop.
WORKER_STOP_MARGIN_S = 5


def run_server(
    host: str,
    port: int,
    workers: int,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    ssl_ca_certs: str | None,
) -> None:
    tls: dict[str, Any] = {}
    if ssl_certfile:
        import ssl

        tls = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile}
        if ssl_ca_certs:
            # This protocol hands the client certificate to the gateway (hub/reliability/mtls.py).
            tls |= {
                "ssl_ca_certs": ssl_ca_certs,
                "ssl_cert_reqs": ssl.CERT_REQUIRED,
                "http": "hub.reliability.mtls:TLSHttpToolsProtocol",
            }
    console.print(
        f"hub starting on http{'s' if tls else ''}://{host}:{port} with {workers} worker(s)"
    )
    options: dict[str, Any] = (
        {
            "factory": True,
            "host": host,
            "port": port,
            "workers": workers,
            "log_level": "warning",
            "timeout_graceful_shutdown": 30,
            # A worker answers the parent's health pings once it has imported the hub: a
            # few seconds, more on a busy host or a fraction of a core. uvicorn's 5 s killed
            # such workers before they served, and their replacements, silently, for ever.
            "timeout_worker_healthcheck": WORKER_PING_S,
        }
        | UVICORN_FAST
        | tls
    )
    if workers == 1:
        uvicorn.run("hub.app:create_app", **options)
        return
    config = uvicorn.Config("hub.app:create_app", **options)
    Supervisor(config, sockets=[config.bind_socket()]).run()


class Supervisor(Multiprocess):
    """uvicorn's parent of several workers, which stops listening when it stops them.

    uvicorn's own kept its copy of the listening socket open until its workers had drained:
    the kernel went on accepting connections that no worker would serve, and reset them
    when the parent exited. Closed first, a new connection is refused at once, as with one
    worker, and a load balancer sends it elsewhere.
    """

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()

    def join_all(self) -> None:
        """Wait for the workers to drain, then kill those that never will.

        A worker that no longer runs (stopped with SIGSTOP, deadlocked) never acts on
        SIGTERM: uvicorn's parent waited for it for ever, and `hub serve` with it.
        """
        graceful = self.config.timeout_graceful_shutdown or 0
        deadline = time.monotonic() + graceful + WORKER_STOP_MARGIN_S
        for worker in self.processes:
            worker.process.join(max(deadline - time.monotonic(), 0))
            if worker.process.exitcode is None:
                # On stderr, which Python flushes by line: the parent may end by the signal
                # uvicorn raises again, and what waits in stdout's buffer is lost then.
                err_console.print(
                    f"worker {worker.process.pid} did not stop within "
                    f"{graceful:g} s of SIGTERM: killed",
                    style="yellow",
                )
                worker.process.kill()
                worker.process.join()
