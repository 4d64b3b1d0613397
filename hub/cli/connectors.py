"""`hub mock` and `hub connectors`: run one mock agency, scaffold, list and register connectors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import connectors
from hub.cli.common import PORT_MAX
from hub.cli.preflight import listenable
from hub.core.children import end_with_parent
from hub.core.ids import IdError, parse_member
from hub.core.urls import http_url_problem

if TYPE_CHECKING:
    from pydantic import ValidationError

    # The kit's package imports its FastAPI app: what `hub mock` serves, and only it.
    from connectors.kit import Connector

app = typer.Typer(help="Mock agency connectors: scaffold, list, registry entries.")

NameArg = Annotated[str, typer.Argument(help="Connector name, e.g. population")]


def _connector(name: str) -> Connector:
    try:
        return connectors.get(name)
    except (connectors.UnknownConnector, connectors.BrokenConnector) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _all_connectors() -> list[Connector]:
    try:
        return connectors.all()
    except connectors.BrokenConnector as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _fault_options_problem(exc: ValidationError) -> str:
    """pydantic's report on the fault options, as sentences naming the options."""
    from connectors.kit import FaultSpec

    # The fault options are FaultConfig's fields under these names.
    options = {
        **{field: "--" + field.replace("_", "-") for field in FaultSpec.model_fields},
        "seed": "--fault-seed",
    }
    said = []
    for error in exc.errors():
        if error["type"] == "value_error":  # FaultConfig's own checks: their sentence
            text = str((error.get("ctx") or {}).get("error", error["msg"]))
        else:
            text = re.sub(r"^Input should ", "must ", error["msg"]) + f" (got {error['input']})"
        if error["loc"] and not text.startswith(str(error["loc"][0])):
            text = f"{error['loc'][0]} {text}"
        if text.startswith("seed "):  # the data's seed is --seed; this one, --fault-seed
            text = "--fault-" + text
        said.append(re.sub(r"\b[a-z]+_[a-z_]+\b", lambda m: options.get(m[0], m[0]), text))
    return "; ".join(said)


def mock(
    name: NameArg,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=PORT_MAX, help="Port; default 8001 + its place in the list"),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data")] = 42,
    size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Size of the data (the population's citizens; business and land derive "
            "theirs from it, so give mocks that refer to each other the same --seed and --size)",
        ),
    ] = None,
    hub_url: Annotated[str | None, typer.Option(help="Hub to call other agencies through")] = None,
    client_key: Annotated[
        str | None,
        typer.Option(
            envvar="HUB_MOCK_CLIENT_KEY",
            help="This system's API key at the hub (the environment keeps it out of ps)",
        ),
    ] = None,
    latency_ms: Annotated[float, typer.Option(help="Fault: added latency")] = 0,
    jitter_ms: Annotated[float, typer.Option(help="Fault: up to this much more latency")] = 0,
    error_rate: Annotated[
        float, typer.Option(help="Fault: share of calls answered with an error")
    ] = 0,
    error_status: Annotated[int, typer.Option(help="Fault: status of those errors")] = 500,
    timeout_rate: Annotated[float, typer.Option(help="Fault: share of calls never answered")] = 0,
    reset_rate: Annotated[float, typer.Option(help="Fault: share of connections reset")] = 0,
    malformed_rate: Annotated[float, typer.Option(help="Fault: share of answers cut short")] = 0,
    fault_seed: Annotated[int | None, typer.Option(help="Seed of the fault draws")] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            help="SQLite file to keep the writes in: loaded at start, emptied by /__reset "
            "(default: writes last as long as the process)"
        ),
    ] = None,
    stubs: Annotated[
        Path | None,
        typer.Option(
            help="JSON file with a list of stubs, as PUT /__stubs takes: served from the "
            "start, and again after each /__reset"
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Print a line per request")] = True,
) -> None:
    """Run one mock agency (population, business, land, insurance...) as an HTTP server.

    Example, slow and failing one call in ten:
    hub mock population --port 8101 --latency-ms 200 --error-rate 0.1
    """
    import uvicorn
    from pydantic import ValidationError

    from connectors.kit import FaultConfig
    from connectors.kit.app import ConnectorApp
    from connectors.kit.dataset import seed_problem
    from connectors.kit.stubs import StubError, read_stubs

    end_with_parent()  # a no-op unless `hub up` started this one

    connector = _connector(name)
    if hub_url is not None and (problem := http_url_problem(hub_url)) is not None:
        # Else the mock started, and each call it made through the hub failed at run time.
        typer.echo(
            f"error: --hub-url {hub_url!r} {problem}; give the hub's base URL, e.g. "
            "--hub-url http://127.0.0.1:8000",
            err=True,
        )
        raise typer.Exit(2)
    seed_wrong = seed_problem(seed)
    if seed_wrong is not None:
        typer.echo(f"error: --{seed_wrong}", err=True)
        raise typer.Exit(2)
    try:
        faults = FaultConfig(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            error_rate=error_rate,
            error_status=error_status,
            timeout_rate=timeout_rate,
            reset_rate=reset_rate,
            malformed_rate=malformed_rate,
            seed=fault_seed,
        )
    except ValidationError as exc:
        typer.echo(f"error: {_fault_options_problem(exc)}", err=True)
        raise typer.Exit(2) from None
    try:
        start_stubs = read_stubs(stubs) if stubs is not None else None
    except StubError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    port = port if port is not None else 8001 + connectors.names().index(name)
    # uvicorn's refusal was a log line with an errno, after the line saying where the mock
    # runs, and exit 3; checked before a --state file is made.
    listenable(host, [port])
    try:
        api = connector.create_app(
            seed=seed,
            size=size,
            hub_url=hub_url,
            client_key=client_key,
            faults=faults,
            state_path=state,
        )
    except ValueError as exc:  # pydantic's ValidationError and StateFileError are ones too
        # The dataset's "(population) size must be between 1 and N" is about --size.
        said = re.sub(r"^(\w+ )?size must", "--size must", str(exc))
        typer.echo(f"error: {said}", err=True)
        raise typer.Exit(2) from None
    except TypeError as exc:
        # A factory written before state files has no state_path parameter.
        if "state_path" not in str(exc):
            raise
        typer.echo(
            f"error: connector {name}'s create_app takes no state_path, so it cannot keep "
            "its writes in --state: add the parameter (see connectors/kit/templates/app.py.txt)",
            err=True,
        )
        raise typer.Exit(2) from None
    if start_stubs is not None:
        if not isinstance(api, ConnectorApp):
            typer.echo(f"error: connector {name} is not built with the kit: no --stubs", err=True)
            raise typer.Exit(2)
        api.stubs.start_with(start_stubs)
    where = f" (writes kept in {state})" if state is not None else ""
    at = f"[{host}]" if ":" in host else host  # an IPv6 address, as a URL holds it
    typer.echo(f"{name} ({connector.manifest.subsystem_id}) on http://{at}:{port}{where}", err=True)
    # A "timeout" fault holds its connection open; do not let it hold up Ctrl-C.
    uvicorn.run(
        api,
        host=host,
        port=port,
        timeout_graceful_shutdown=1,
        log_level="info" if access_log else "warning",
        access_log=access_log,
    )


@app.command("new")
def new(
    name: NameArg,
    dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Project root to write into (default: this project's)"),
    ] = None,
    member_id: Annotated[str | None, typer.Option(help="INSTANCE/CLASS/MEMBER")] = None,
    member_name: Annotated[str | None, typer.Option(help="The agency's name")] = None,
) -> None:
    """Scaffold connectors/NAME/ (manifest, models, dataset, app, README) and its test."""
    from connectors.kit.scaffold import ScaffoldError, default_member_id, project_root, scaffold
    from hub.registry.advice import member_code_warnings

    root = dir if dir is not None else project_root()
    found = [Path(p).resolve() for p in connectors.__path__]
    elsewhere = (root / "connectors").resolve() not in found
    try:
        if member_id is not None:
            parse_member(member_id)  # the registry refuses it later, and `hub up` with it
        if member_name is None:
            # `new bca` is a system of Bộ Công an's too, not of a "Bca agency".
            member_name = _known_member_name(member_id or default_member_id(name))
        written = scaffold(
            name,
            root,
            member_id=member_id,
            member_name=member_name,
            taken=_taken_subsystems(),
            discovered=found if elsewhere else (),
        )
    except (ScaffoldError, IdError, connectors.BrokenConnector) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for path in written:
        typer.echo(f"created {path}")
    # What `hub registry apply` would warn of the member, before code is written around it.
    for warning in member_code_warnings([member_id or default_member_id(name)]):
        typer.echo(f"warning: {warning}", err=True)
    if elsewhere:
        # An installed hub: discovery does not read the directory written into.
        typer.echo(
            f"note: `hub mock` and `hub up` look for connectors in {found[0]}, not in "
            f"{root / 'connectors'}: move the package there to serve it, then "
            f"`hub mock {name} --port 8010`",
            err=True,
        )
        return
    typer.echo(f"next: hub mock {name} --port 8010, then see docs/connectors.md")


def _known_member_name(member_id: str) -> str | None:
    """The name a shipped connector or demo client gives the member, if one does.

    The scaffold's own default ("Permits agency") renamed the agency in the registry when the
    new connector's file was applied.
    """
    from connectors.demo import CLIENT_MEMBERS

    for connector in connectors.all():
        if connector.manifest.member_id == member_id:
            return connector.manifest.member_name
    return next((m["name"] for m in CLIENT_MEMBERS if m["id"] == member_id), None)


def _taken_subsystems() -> dict[str, str]:
    """Subsystem ID -> whose it is, for those a new connector must not declare again."""
    from connectors.demo import CLIENT_SUBSYSTEMS

    taken = {s["id"]: "a demo client's" for s in CLIENT_SUBSYSTEMS}
    taken.update({c.manifest.subsystem_id: f"the {c.name} connector's" for c in connectors.all()})
    return taken


@app.command("list")
def list_(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print a JSON list of {name, subsystem, services} instead of a table."
        ),
    ] = False,
) -> None:
    """List the connectors found, with their subsystem and services."""
    import json

    from rich.console import Console
    from rich.table import Table

    found = [
        (c.name, c.manifest.subsystem_id, [s.code for s in c.manifest.services])
        for c in _all_connectors()
    ]
    if as_json:
        rows = [{"name": n, "subsystem": sub, "services": codes} for n, sub, codes in found]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("name", "subsystem", "services")
    for name, subsystem, codes in found:
        table.add_row(name, subsystem, ", ".join(codes))
    Console().print(table)


@app.command("registry")
def registry(
    name: NameArg,
    base_url: Annotated[str, typer.Option(help="Where the hub reaches this mock")],
) -> None:
    """Print the registry YAML of one connector, for `hub registry apply`."""
    import yaml

    problem = http_url_problem(base_url)
    if problem is not None:
        # `hub registry apply` refuses it: better said now, about the flag given.
        typer.echo(
            f"error: --base-url {base_url!r} {problem}; give where the hub reaches the mock, "
            "e.g. --base-url http://127.0.0.1:8010",
            err=True,
        )
        raise typer.Exit(2)
    entry = _connector(name).manifest.registry_entry(base_url.rstrip("/"))
    typer.echo(yaml.safe_dump(entry, allow_unicode=True, sort_keys=False), nl=False)


def register(root: typer.Typer) -> None:
    """Add `hub mock` and `hub connectors ...` to the top-level app."""
    root.command("mock")(mock)
    root.add_typer(app, name="connectors")
