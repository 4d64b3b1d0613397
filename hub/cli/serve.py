"""`hub up` (hub + mock agencies + demo registry) and `hub serve` (the hub alone)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import (
    PORT_MAX,
    DbOption,
    console,
    err_console,
    existing,
    fail,
    new_or_current,
    not_ours,
    on_disk,
    reason,
    run,
    settings,
    shown,
    takes_writes,
    up_to_date,
)
from hub.cli.preflight import (
    listenable,
    ready_to_sign,
    redis_answers,
    same_signing_key,
    usable_tls,
)
from hub.core.children import PARENT_ENV, child_env, how_ended

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.core.settings import Settings


def port_option(help_: str) -> Any:
    """``--port`` with no default of its own: unset, HUB_PORT says, else 8000."""
    return typer.Option(
        None, min=1, max=PORT_MAX, help=f"{help_} Default: HUB_PORT, else 8000.", show_default=False
    )


# No default of its own: unset, HUB_HOST (a setting like any other) says, else 127.0.0.1.
HostOption = typer.Option(
    None,
    "--host",
    help="Interface to listen on. Default: HUB_HOST, else 127.0.0.1.",
    show_default=False,
)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("serve")(serve)


def up(
    port: int | None = port_option("Hub port; mock agencies take the next ports."),
    host: str | None = HostOption,
    db: str | None = DbOption,
    seed: int = typer.Option(42, help="Seed of the mock agencies' synthetic data."),
    size: int | None = typer.Option(None, min=1, help="Citizens in the population mock."),
    state_dir: str | None = typer.Option(
        None, help="Keep each mock's writes in DIR/<name>.db across restarts (default: memory)."
    ),
) -> None:
    """Start the hub and the mock agencies, with the demo registry loaded."""
    import uvicorn

    from hub.cli.listen import UVICORN_FAST, Server
    from hub.core.migrate import revisions, upgrade

    s = settings(db, port=port, host=host, gc_freeze=True)
    port, host = s.port, s.host  # the flags, else HUB_PORT and HUB_HOST, else the defaults
    if s.env == "production":
        fail("`hub up` runs the demo stack; use `hub serve` in production", 2)
    import connectors
    from connectors.demo import demo_registry
    from connectors.kit.dataset import seed_problem

    if (seed_wrong := seed_problem(seed)) is not None:
        fail(f"--{seed_wrong}", 2)
    if state_dir is not None and os.path.exists(state_dir) and not os.path.isdir(state_dir):
        # Else each mock failed on it in turn ("File exists"), and `hub up` exited 1 after.
        fail(f"--state-dir {state_dir}: is a file; give a folder (it is made if missing)", 2)

    try:
        names = connectors.names()
    except connectors.BrokenConnector as exc:
        fail(str(exc), 2)
    if port + len(names) > PORT_MAX:
        fail(
            f"--port {port} leaves no room for the {len(names)} mock agencies, which take "
            f"the ports after the hub's: pick {PORT_MAX - len(names)} or lower",
            2,
        )
    # An IPv6 address goes in brackets in a URL: http://::1:8001 was refused by the registry.
    at = f"[{host}]" if ":" in host else host
    base_urls = {name: f"http://{at}:{port + 1 + i}" for i, name in enumerate(names)}
    ready_to_sign(s)  # the demo's events are signed with it, before the hub starts
    on_disk(s.database_url)
    try:
        # The demo stack's database is the developer's own (`hub up` is refused in
        # production): after a `git pull`, `make run` migrates it, and says so.
        before, head = revisions(s.database_url)
        upgrade(s.database_url)
        if before not in (None, head):
            console.print(
                f"note: migrated {shown(s.database_url)} from revision {before} to {head}",
                highlight=False,
            )
        clients = asyncio.run(load_demo(s, demo_registry(base_urls)))
    except Exception as exc:
        fail(
            f"could not prepare the database at {shown(s.database_url)}: {reason(exc)}",
            not_ours(exc),
        )

    from hub.core.security import demo_api_key

    listenable(
        host,
        [port, *(int(u.rsplit(":", 1)[1]) for u in base_urls.values())],
        f" (the hub takes it and the mock agencies the {len(names)} after it)",
        "HUB_PORT",
    )
    procs: list[subprocess.Popen[bytes]] = []
    hub_url = f"http://{at}:{port}"
    # uvicorn stops gracefully on SIGTERM, then raises the signal again once its handlers are
    # gone: with the default action there, the process died before the `finally` below and
    # left the mock agencies running on their ports (the next `hub up` refused to start).
    # SIGHUP (the terminal closed) ended it the same way, without even uvicorn's shutdown.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _as_sigterm)
    stopping = threading.Event()
    try:
        for name in names:
            mock_port = int(base_urls[name].rsplit(":", 1)[1])
            subsystem = connectors.get(name).manifest.subsystem_id
            cmd = [
                sys.executable,
                "-P",  # not the current directory's `hub` or `connectors`: the ones running here
                "-m",
                "hub",
                "mock",
                name,
                "--port",
                str(mock_port),
                "--host",
                host,
                "--seed",
                str(seed),
                "--hub-url",
                hub_url,
                "--no-access-log",
            ]
            env = child_env()
            env.pop("HUB_MOCK_CLIENT_KEY", None)
            if subsystem in clients:
                # In its environment, not its command line, which any local user reads (ps).
                env["HUB_MOCK_CLIENT_KEY"] = demo_api_key(s.secret_key, subsystem)
            if size is not None:
                cmd += ["--size", str(size)]
            if state_dir is not None:
                cmd += ["--state", os.path.join(state_dir, f"{name}.db")]
            procs.append(subprocess.Popen(cmd, env=env))
        _wait_healthy(base_urls, procs)
        _print_where(s, base_urls, hub_url)
        config = uvicorn.Config(_app(s), host=host, port=port, log_level="warning", **UVICORN_FAST)
        # The server `hub serve` runs with one worker, which says when a signal stops it.
        server = Server(config)
        threading.Thread(
            target=_watch_mocks,
            args=(dict(zip(names, procs, strict=True)), lambda: server.should_exit, stopping),
            name="mock-watch",
            daemon=True,
        ).start()
        server.run()
    finally:
        stopping.set()
        for sig in (signal.SIGTERM, signal.SIGHUP):  # a second one must not cut this short
            signal.signal(sig, signal.SIG_IGN)
        _stop_mocks(procs)
        # As they were: an ignored SIGTERM is inherited by every process started after,
        # and a `hub serve` run by the same process (a test's) then outlived its SIGTERM.
        for sig, handler in handlers.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


# How often the stack looks for a mock agency that died, and how long it then waits before
# saying so: a Ctrl-C reaches the mocks and the hub at once, and a mock may be gone before the
# hub has taken its own signal, which is then no news to the operator.
MOCK_WATCH_S = 0.5


def _watch_mocks(
    procs: dict[str, subprocess.Popen[bytes]],
    hub_stopping: Callable[[], bool],
    stopping: threading.Event,
) -> None:
    """Say once on stderr, for each mock agency that ends while the stack runs, which one
    ended and how: the hub goes on answering 502 or 503 for its services, which a look at
    `hub up`'s output did not explain.

    Not restarted: a mock that crashed would mostly crash again, and one restarted without
    ``--state-dir`` has lost its writes; a restart of the stack is the operator's to decide."""
    running = dict(procs)
    while running and not stopping.wait(MOCK_WATCH_S):
        ended = {name: p for name, p in running.items() if p.poll() is not None}
        if not ended:
            continue
        if stopping.wait(MOCK_WATCH_S) or hub_stopping():
            return  # the stack is stopping: its mocks end with it
        for name, p in ended.items():
            del running[name]
            err_console.print(
                f"the {name} mock agency stopped ({how_ended(p.returncode)}) while the stack "
                f"runs: the hub answers 502 or 503 for its services until `hub up` is "
                f"restarted (Ctrl-C, then `hub up` again); its own error, if any, is above",
                highlight=False,
                soft_wrap=True,
            )


def _stop_mocks(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop the mock agencies, and say so once they have (on stderr, as the hub's own stop).

    A Ctrl-C in the terminal reaches them too, and they may have stopped already."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    killed = 0
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            killed += 1
    if procs:
        said = f"mock agencies stopped ({len(procs)})"
        if killed:
            verb = "was" if killed == 1 else "were"
            said += f": {killed} did not stop within 10 s of SIGTERM and {verb} killed"
        err_console.print(said, highlight=False)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    """Leave through the callers' `finally` blocks, with the shell's status for a signal."""
    raise SystemExit(128 + signum)


def _as_sigterm(_signum: int, _frame: Any) -> None:
    """SIGHUP taken as SIGTERM: uvicorn's graceful stop while it runs, else the exit above."""
    signal.raise_signal(signal.SIGTERM)


def _app(s: Settings) -> Any:
    from hub.app import create_app

    return create_app(s)


async def load_demo(s: Settings, doc: dict[str, Any]) -> set[str]:
    """Apply the demo registry and give every client in it its demo key, and every mock
    agency (a subsystem with a base URL) too, so that one the developer grants a service
    can call it through the hub (`hub up` hands the key to the mock).

    Its events are signed with the hub's key, made here when missing as the hub would
    a moment later (never in production, where `hub up` does not run)."""
    from hub.core.db import create_engine, session_factory
    from hub.registry import keys
    from hub.registry import service as registry
    from hub.registry.events import demo
    from hub.registry.schemas import RegistryDoc
    from hub.txlog.signing import Signer

    actor = demo(Signer.from_file(s.signing_key_file, create=s.env != "production"))

    parsed = RegistryDoc.model_validate(doc)
    clients = {g.client for g in parsed.grants} | {
        sub.id for sub in parsed.subsystems if sub.base_url is not None
    }
    engine = create_engine(s.database_url)
    try:
        async with session_factory(engine)() as session:
            await registry.apply(session, parsed, keep_switches=True, actor=actor)
            await keys.ensure_demo_keys(
                session, secret=s.secret_key, clients=sorted(clients), actor=actor
            )
            await session.commit()
    finally:
        await engine.dispose()
    return clients


def _wait_healthy(base_urls: dict[str, str], procs: list[subprocess.Popen[bytes]]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    pending = dict(base_urls)
    with httpx.Client(timeout=1.0) as client:
        while pending and time.monotonic() < deadline:
            for name, p in zip(base_urls, procs, strict=True):
                if p.poll() is not None:
                    # Its own error is above; its command line would only hide it.
                    fail(
                        f"the {name} mock agency stopped (exit status {p.returncode}) before "
                        "it was ready: its error is above"
                    )
            for name, url in list(pending.items()):
                try:
                    if client.get(url + "/__health").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
    if pending:
        fail(f"mock agencies did not start: {', '.join(pending)}")


def _print_where(s: Settings, base_urls: dict[str, str], hub_url: str) -> None:
    from rich.table import Table

    table = Table(title="Data-exchange hub", show_header=True)
    table.add_column("what")
    table.add_column("where")
    table.add_row("hub gateway", f"{hub_url}/r1/...")
    table.add_row("operator dashboard", f"{hub_url}/dashboard")
    table.add_row("API docs", f"{hub_url}/docs")
    for name, url in base_urls.items():
        table.add_row(f"mock agency: {name}", url)
    table.add_row("database", shown(s.database_url))
    console.print(table)
    console.print(
        f"demo keys: [bold]{_hub_command()} demo credentials[/bold] or GET /demo/credentials; "
        "Ctrl-C stops everything."
    )


def _hub_command() -> str:
    """``hub`` as the user can type it: the path of this one when ``hub`` on PATH is not it
    (`make run` starts .venv/bin/hub, and a shell without the virtualenv has no `hub`)."""
    me = shutil.which(sys.argv[0]) or sys.argv[0]
    on_path = shutil.which("hub")
    if on_path and os.path.realpath(on_path) == os.path.realpath(me):
        return "hub"
    if os.path.basename(me) != "hub":  # `python -m hub`: as it was run
        return "hub"
    mine = os.path.relpath(me) if not os.path.relpath(me).startswith("..") else me
    return mine if os.sep in mine else f".{os.sep}{mine}"


def serve(
    port: int | None = port_option("Port to listen on."),
    host: str | None = HostOption,
    workers: int = typer.Option(1, min=1, help="Worker processes (one per core)."),
    db: str | None = DbOption,
    migrate: bool | None = typer.Option(
        None,
        "--migrate/--no-migrate",
        help="--migrate: bring an older database to this hub's revision before starting, "
        "when no hub of the older version runs on it. --no-migrate: not even a new database "
        "gets its tables. Default: a new database gets its tables, an older one is refused "
        "(`hub db upgrade` migrates it).",
        show_default=False,
    ),
    ssl_certfile: str | None = typer.Option(None, help="TLS certificate (PEM)."),
    ssl_keyfile: str | None = typer.Option(None, help="TLS private key (PEM)."),
    ssl_ca_certs: str | None = typer.Option(
        None, help="CA bundle; when given, clients must present a certificate (mutual TLS)."
    ),
    log_process: bool | None = typer.Option(
        None,
        "--log-process/--log-inline",
        help="Write the transaction log from a process of its own, shared by the workers, "
        "or inside each worker. Default: inside the worker when there is one, a process "
        "of its own when there are more.",
        show_default=False,
    ),
) -> None:
    """Start the hub alone (production): gateway, admin and operator API, dashboard."""
    from hub.cli.listen import run_server
    from hub.core import workers as worker_link
    from hub.core.migrate import upgrade
    from hub.registry import keys
    from hub.txlog.service import WriterProcess

    # The workers read their settings from the environment: the flags go there, and what
    # the workers will read is checked here, so a bad HUB_* value is one line and exit 2
    # rather than a traceback in every worker (which uvicorn restarted for ever).
    s = settings(db, port=port, host=host)
    port, host = s.port, s.host  # the flags, else HUB_PORT and HUB_HOST, else the defaults
    os.environ |= {"HUB_PORT": str(port), "HUB_HOST": host, "HUB_GC_FREEZE": "1"}
    usable_tls(ssl_certfile, ssl_keyfile, ssl_ca_certs)
    listenable(host, [port], "", "HUB_PORT")  # before the key is made or the db migrated
    ready_to_sign(s)
    if s.env == "production":
        # A typo in the path would start an empty registry and a new chain: the database is
        # made once, on purpose, by `hub db upgrade`.
        existing(s.database_url)
    on_disk(s.database_url)
    if migrate:  # asked for: the operator knows no older hub runs on the database
        try:
            upgrade(s.database_url)
        except Exception as exc:
            fail(f"could not migrate {shown(s.database_url)}: {reason(exc)}", not_ours(exc))
    elif migrate is None:
        # Migrating an older database at start changed it under the nodes still running the
        # older hub, in the middle of a rolling upgrade: that is `hub db upgrade`'s to do.
        new_or_current(s.database_url, serving=True)
    else:
        up_to_date(s.database_url, serving=True)
    takes_writes(s.database_url)
    same_signing_key(s)
    redis_answers(s)
    if log_process is None:
        # One worker: the log inside it carried more exchanges a second than a writer
        # process beside it (6,345 against 4,754 on 2 cores, wrk at 32 connections: the
        # hand-off to another process and back left both waiting on each other;
        # bench/profile_notes.md, fifth round). More workers share one writer process,
        # so that they do not queue for SQLite's write lock.
        log_process = workers > 1
    writer: WriterProcess | None = None
    if log_process:
        writer = WriterProcess()
        try:
            writer.start()
        except RuntimeError as exc:
            fail(str(exc))
        os.environ["HUB_LOG_WRITER_SOCKET"] = writer.path
    else:
        os.environ.pop("HUB_LOG_WRITER_SOCKET", None)
    os.environ.pop("HUB_WORKERS_DIR", None)
    if workers > 1:
        os.environ[PARENT_ENV] = str(os.getpid())  # so a SIGKILL here ends them too
        # Where the workers listen for each other: a scrape of /metrics answers for them
        # all, and an admin change is reloaded by every one before it is answered.
        os.environ["HUB_WORKERS_DIR"] = workers_dir = worker_link.make_dir()
        if not s.redis_url:
            # Each worker counts in its own memory: a client that opened connections to
            # both got twice its quota (30 exchanges through on a quota of 10, two workers).
            console.print(
                f"note: without HUB_REDIS_URL each of the {workers} workers counts client "
                f"quotas on its own, so a client may get up to {workers} times its quota; set "
                "HUB_REDIS_URL to count them once (docs/security.md)",
                style="yellow",
            )
        # Each worker is a child, which leaves this to its parent: said once, here.
        foreign = run(keys.foreign_said_at(s.database_url, s.secret_key))
        if foreign:
            console.print(f"warning: {foreign}", style="yellow", soft_wrap=True)
    try:
        run_server(host, port, workers, ssl_certfile, ssl_keyfile, ssl_ca_certs)
    finally:
        # (After SIGTERM, uvicorn re-raises the signal and the process ends before this;
        # the writer process then sees its stdin close and stops by itself, the same way.)
        if writer is not None:
            writer.stop()
        if workers > 1:
            shutil.rmtree(workers_dir, ignore_errors=True)
