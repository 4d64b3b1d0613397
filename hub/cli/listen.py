"""Running the hub's server: uvicorn with the gateway's own protocol, in one process or as
several workers under a supervisor that stops them all."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.server import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from hub.cli.common import console, err_console, plural
from hub.core.children import how_ended

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
# How long exchanges in flight may take to finish once the hub begins to stop.
GRACEFUL_S = 30


# On stderr, which Python flushes by line: with one worker the process ends by the signal
# uvicorn raises again, and what waits in stdout's buffer is lost then. Said so that an
# operator reading the journal tells a clean stop from a crash.
def _say_stopping(signum: int) -> None:
    err_console.print(
        f"hub stopping on {signal.Signals(signum).name}: no new connections are taken; "
        f"exchanges in flight may finish, for up to {GRACEFUL_S} s",
        highlight=False,
    )


def _say_ready(workers: int) -> None:
    console.print(f"hub ready: {workers} worker(s) serving", highlight=False)
    sys.stdout.flush()  # a file or a pipe holds stdout in a buffer: a supervisor waits on it


def _say_stopped(
    committed: int | None, killed: int = 0, *, cut_off: bool = False, unwritten: bool = False
) -> None:
    """``cut_off``: exchanges still in flight when the graceful wait ran out were cancelled
    unanswered; ``unwritten``: a batch of the log's last flush failed."""
    if killed:
        said = f"hub stopped: {killed} worker(s) killed, their exchanges in flight cut off"
    elif cut_off or unwritten:
        parts = []
        if cut_off:
            parts.append(f"exchanges still in flight after {GRACEFUL_S} s were cut off")
        if unwritten:
            parts.append("the log's last records were not written (see the error above)")
        said = "hub stopped: " + "; ".join(parts)
    else:
        said = "hub stopped: exchanges in flight answered, log flushed"
    if committed is not None:
        said += f" ({plural(committed, 'record')} committed by this process)"
    err_console.print(said, highlight=False)


def how_it_ended(exitcode: int | None, *, hung: bool) -> str:
    """How a worker ended, for the line that says it was replaced."""
    if hung:  # alive, but silent to uvicorn's pings: uvicorn killed it
        return f"did not answer for {WORKER_PING_S} s: killed"
    return f"ended ({how_ended(exitcode)})"


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
            "timeout_graceful_shutdown": GRACEFUL_S,
            # A worker answers the parent's health pings once it has imported the hub: a
            # few seconds, more on a busy host or a fraction of a core. uvicorn's 5 s killed
            # such workers before they served, and their replacements, silently, for ever.
            "timeout_worker_healthcheck": WORKER_PING_S,
        }
        | UVICORN_FAST
        | tls
    )
    config = uvicorn.Config("hub.app:create_app", **options)
    if workers > 1:
        Supervisor(config, sockets=[config.bind_socket()]).run()
        return
    # What uvicorn.run does with one worker, with a server that says when it stops.
    server = Server(config)
    # SIGINT is raised again once the server has stopped cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class Server(uvicorn.Server):
    """uvicorn's server, which says on stderr when a signal stops it and when it stopped.

    Both before uvicorn raises the signal again, which ends the process (status 143)."""

    stop_signal: int | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            _say_ready(1)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not said here: a print inside a signal handler may land inside another print.
        if self.stop_signal is None:
            self.stop_signal = sig
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.stop_signal is None:  # no signal: not a stop the operator asked for
            await super().shutdown(sockets)
            return
        _say_stopping(self.stop_signal)
        from hub.front import HubApp  # loaded by now: the app this server ran

        app = self.config.loaded_app
        writer = app.state.writer if isinstance(app, HubApp) else None
        failed = writer.failed_batches if writer is not None else 0
        await super().shutdown(sockets)
        _say_stopped(
            writer.committed if writer is not None else None,
            cut_off=not self.drained,
            unwritten=writer is not None and writer.failed_batches > failed,
        )

    drained = False  # the exchanges in flight finished within the graceful wait

    async def _wait_tasks_to_complete(self) -> None:
        # uvicorn's wait, which it cancels once timeout_graceful_shutdown has passed, and
        # then cancels the exchanges still in flight: they get no answer.
        await super()._wait_tasks_to_complete()
        self.drained = True


class Supervisor(Multiprocess):
    """uvicorn's parent of several workers, which stops listening when it stops them.

    uvicorn's own kept its copy of the listening socket open until its workers had drained:
    the kernel went on accepting connections that no worker would serve, and reset them
    when the parent exited. Closed first, a new connection is refused at once, as with one
    worker, and a load balancer sends it elsewhere.
    """

    stop_signal: int | None = None
    ready_said = False

    def keep_subprocess_alive(self) -> None:
        """uvicorn's check of its workers, every half second, saying each one it replaces;
        and once every worker has started (its socket is in HUB_WORKERS_DIR,
        hub/core/workers.py), say so: until then the connections went to the workers
        already up, and an operator could not tell."""
        if self.should_exit.is_set():
            return
        for idx, worker in enumerate(self.processes):
            hung = False
            if worker.process.is_alive():
                if self._answers(worker):
                    continue
                hung = worker.process.is_alive()  # else it died while it was asked
            worker.kill()
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:
                # As uvicorn: the app, TLS or socket is broken, and every restart fails alike.
                logging.getLogger("uvicorn.error").error(
                    f"Child process [{worker.pid}] failed to start, stopping the parent process."
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[idx] = replacement
            self._say_replaced(worker, replacement, hung=hung)
        if self.ready_said:
            return
        workers_dir = os.environ.get("HUB_WORKERS_DIR")
        if workers_dir and len(list(Path(workers_dir).glob("*.sock"))) >= self.processes_num:
            self.ready_said = True
            _say_ready(self.processes_num)

    def _answers(self, worker: Any) -> bool:
        """Whether ``worker`` answers a ping within the health check's time.

        uvicorn waited for the answer in one piece: a worker that died just after the ping
        (the OOM killer) was replaced only when the 60 s were up, and looked hung.
        """
        try:
            worker.parent_conn.send(b"ping")
        except OSError:
            return False
        deadline = time.monotonic() + (self.config.timeout_worker_healthcheck or 0)
        while True:
            left = deadline - time.monotonic()
            try:
                if worker.parent_conn.poll(max(min(left, 1.0), 0)):
                    worker.parent_conn.recv()
                    return True
            except (OSError, EOFError, pickle.UnpicklingError):  # as uvicorn's own check
                return False
            if left <= 0 or not worker.process.is_alive():
                return False

    @staticmethod
    def _say_replaced(old: Any, new: Any, *, hung: bool) -> None:
        # uvicorn says it at INFO, below the level `hub serve` shows: a worker the kernel's
        # OOM killer ended was replaced without a word, while the exchanges it had in flight
        # were cut off and its /metrics counts were lost.
        how = how_it_ended(old.process.exitcode, hung=hung)
        err_console.print(
            f"worker {old.process.pid} {how}: its exchanges in flight were cut off; "
            f"started worker {new.process.pid} in its place",
            style="yellow",
            highlight=False,
        )

    def handle_int(self) -> None:
        self.stop_signal = self.stop_signal or signal.SIGINT
        super().handle_int()

    def handle_term(self) -> None:
        self.stop_signal = self.stop_signal or signal.SIGTERM
        super().handle_term()

    def terminate_all(self) -> None:
        # Once for all the workers, which are processes of their own: not once each.
        if self.stop_signal is not None:
            _say_stopping(self.stop_signal)
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
        killed = 0
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
                killed += 1
        if self.stop_signal is not None:
            # The workers' records are committed before they exit (the log is theirs, or
            # the log writer process answered them); their counts died with them.
            _say_stopped(None, killed)
