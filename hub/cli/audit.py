"""`hub audit`: prove the transaction log is whole."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hub.cli.audit_events import events_cmd
from hub.cli.common import (
    DbOption,
    console,
    err_console,
    fail,
    plural,
    run,
    settings,
    unreadable,
    up_to_date,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hub.registry.events_verify import TrailReport
    from hub.txlog.audit import AuditReport

app = typer.Typer(
    help="Integrity of the transaction log, and the audit trail of registry changes.",
    no_args_is_help=True,
)
app.command("events")(events_cmd)
ANCHOR = re.compile(r"^\s*(\d+):([0-9a-fA-F]{64})\s*$")


@app.command("verify")
def verify_cmd(
    db: str | None = DbOption,
    public_key: list[Path] = typer.Option(
        [],
        help="PEM public key the batches may be signed with (default: the hub's own); "
        "repeat it to accept the keys used before a rotation.",
    ),
    # Named, so that typer makes it one flag: by the parameter's name alone it also made
    # a --no-no-signatures.
    no_signatures: bool = typer.Option(False, "--no-signatures", help="Check the hash chain only."),
    expect: list[str] = typer.Option(
        [],
        "--expect",
        metavar="SEQ:HASH",
        help="An anchor an earlier verify printed: fail unless record SEQ is still there with "
        "this hash. Repeat it for several.",
    ),
    expect_event: list[str] = typer.Option(
        [],
        "--expect-event",
        metavar="ID:HASH",
        help="The registry changes' anchor an earlier verify printed: fail unless event ID is "
        "still there with this hash. Repeat it for several.",
    ),
) -> None:
    """Recompute the hash chain and batch signatures, hold the statistics to the log.

    Checks the registry changes' chain (`hub audit events`) and signatures too, same keys.

    Exit 1 naming the first bad record or event."""
    from hub.core.db import create_engine
    from hub.registry.events_verify import verify_trail
    from hub.txlog.audit import begin_snapshot, verify_log
    from hub.txlog.signing import Signer

    s = settings(db)
    up_to_date(s.database_url, "the log", 2)
    anchors = _anchors(expect)
    event_anchors = _anchors(expect_event, flag="--expect-event", thing="event", number="id")
    keys: list[Ed25519PublicKey] = []
    if public_key and not no_signatures:
        try:
            keys = [_public_key(path) for path in public_key]
        except (OSError, ValueError) as exc:
            # It said "pass --public-key" to whoever had passed one.
            fail(f"--public-key: cannot read the key ({exc})", 2)
    elif not no_signatures:
        try:
            keys = [Signer.from_file(s.signing_key_file, create=False).public_key]
        except (OSError, ValueError) as exc:
            fail(
                f"HUB_SIGNING_KEY_FILE: cannot load the signing key ({exc}); pass --public-key "
                "or --no-signatures",
                2,
            )

    async def go() -> tuple[AuditReport, TrailReport]:
        engine = create_engine(s.database_url)
        try:
            with _Progress() as shown:
                report = await verify_log(
                    engine,
                    public_keys=keys,
                    expect=anchors,
                    minute_days=s.minute_rollup_days,
                    progress=shown.update,
                )
            async with engine.connect() as conn:
                conn, _ = await begin_snapshot(conn)
                trail = await verify_trail(conn, public_keys=keys, expect=event_anchors)
                return report, trail
        finally:
            await engine.dispose()

    try:
        report, trail = run(go())
    except Exception as exc:  # exit 1 means a tampered log: a log not read is 2
        dropped = _dropped_tables(s.database_url)
        if dropped:
            # up_to_date found the database at this hub's revision, which has them: no
            # `hub db upgrade` brings them back.
            # The trail of registry changes is checked apart from the log: say which was hit.
            trail_tables = {"registry_events", "registry_version"}
            for what, names in (
                ("the log", [n for n in dropped if n not in trail_tables]),
                ("the audit trail of registry changes", [n for n in dropped if n in trail_tables]),
            ):
                if names:
                    console.print(f"[red]{what} has been tampered with[/red]:")
                for name in names:
                    console.print(
                        f"  - table {name} was dropped: the database is at this hub's "
                        f"revision, which has it, so {what} cannot be checked",
                        highlight=False,
                    )
            raise typer.Exit(1) from None
        fail(unreadable(exc, s.database_url, "the log"), 2)
    if not report.ok:
        read = plural(report.records, "record")
        console.print(f"[red]the log has been tampered with[/red] ({read} read):")
        for problem in report.problems:
            console.print(f"  - {problem}", highlight=False)
    if trail.problems:
        # Unsigned events alone may be a command run without the key, not an attack: the
        # exit is 1 all the same (nothing proves them), but the headline does not accuse.
        said = (
            "cannot be proven"
            if trail.unproven == len(trail.problems)
            else "has been tampered with"
        )
        read = plural(trail.events, "event")
        console.print(f"[red]the audit trail of registry changes {said}[/red] ({read} read):")
        for problem in trail.problems:
            console.print(f"  - {problem}", highlight=False)
    if not report.ok or trail.problems:
        _rotation_hint(report.unknown_keys | trail.unknown_keys)
        raise typer.Exit(1)
    _print_ok(report, signatures=bool(keys))
    _print_trail(trail, signatures=bool(keys))


class _Progress:
    """How far the walk over the records got, on a terminal's stderr: a million records take
    half a minute or more, and a silent command looked stuck. Nothing when stderr is piped
    (scripts and CI read the result lines alone)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.bar = Progress(
            "checking records",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self.task = self.bar.add_task("records", total=None)

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.bar.stop()

    def update(self, seq: int, end: int) -> None:
        self.bar.update(self.task, completed=seq, total=end)


def _rotation_hint(unknown: set[str]) -> None:
    """What to do when batches or events were signed by a key the check was not given.

    After a rotation of the signing key (docs/security.md), a plain verify holds the old
    key's batches against the new key alone and lists every one of them as tampered with:
    the operator who has just followed the rotation steps needs the way out, not only that.
    """
    if not unknown:
        return
    ids = ", ".join(sorted(unknown))
    keys = "key" if len(unknown) == 1 else "keys"
    console.print(
        f"signed by {keys} {ids}, which this check was not given: if HUB_SIGNING_KEY_FILE was "
        'replaced (docs/security.md, "Rotating secrets"), pass the public key of each key the '
        "hub signed with, the old ones too: hub audit verify --public-key OLD.pub.pem "
        "--public-key NEW.pub.pem",
        highlight=False,
    )


def _dropped_tables(url: str) -> list[str]:
    """The hub's tables missing from a database at its revision; [] when it cannot tell."""
    from sqlalchemy import inspect

    from hub.core.db import create_engine
    from hub.models import Base

    async def go() -> list[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        finally:
            await engine.dispose()
        return sorted(set(Base.metadata.tables) - names)

    try:
        return run(go())
    except Exception:
        return []


def _public_key(path: Path) -> Ed25519PublicKey:
    """The key in ``path``; OSError or ValueError naming the file."""
    from hub.txlog.signing import load_public_key

    pem = path.read_bytes()  # its OSError names the file already
    try:
        return load_public_key(pem)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


SEQ_MAX = 2**63 - 1  # a BIGINT: the largest seq or id a row can have


def _anchors(
    values: list[str], *, flag: str = "--expect", thing: str = "record", number: str = "seq"
) -> dict[int, str]:
    """``--expect SEQ:HASH`` (records) or ``--expect-event ID:HASH`` (events) values as
    number -> hash; exit 2 on one that is not."""
    anchors: dict[int, str] = {}
    for value in values:
        found = ANCHOR.match(value)
        # Past the largest number a row can have, it was "missing": the log called tampered
        # with over a typo, exit 1.
        if found is None or not 1 <= int(found[1]) <= SEQ_MAX:
            fail(
                f"{flag} {value!r} is not an anchor: give {number.upper()}:HASH as `hub audit "
                f"verify` printed it, the {thing}'s {number} (1 or more), a colon and its "
                f"64-hex {thing} hash",
                2,
            )
        seq, digest = int(found[1]), found[2].lower()
        if anchors.setdefault(seq, digest) != digest:
            fail(f"{flag} names {thing} {seq} twice, with different hashes", 2)
    return anchors


def _print_ok(report: AuditReport, *, signatures: bool) -> None:
    by_key = ", ".join(
        f"{k} ({plural(n, 'batch', 'batches')})" for k, n in sorted(report.signed_by.items())
    )
    found = (
        f"{plural(report.records, 'record')} chained, "
        f"{plural(report.batches, 'batch', 'batches')}, "
    )
    if signatures:
        found += f"{plural(report.signatures_checked, 'signature')} valid"
        found += f", by key {by_key}" if by_key else ""
        console.print(f"[green]ok[/green]: {found}", highlight=False)
    else:
        console.print(
            f"[yellow]the chain holds, but signatures were NOT checked[/yellow] "
            f"(--no-signatures): {found.rstrip(', ')}; whoever can write to the database can "
            "rewrite the log and recompute its chain",
            highlight=False,
        )
    extra = []
    if report.rollup_mark is not None and report.last_seq:
        extra.append(_rollup_note(report.rollup_mark, report.last_seq))
    if report.anchors_checked:
        extra.append(f"{report.anchors_checked} kept anchor(s) found unchanged")
    extra.append(
        f"checked the log as it was when the check began (up to seq={report.last_seq}); "
        "records committed since were not read"
    )
    console.print("; ".join(extra), highlight=False)
    if report.last_seq == 0:
        console.print("the log is empty: no anchor to keep yet", highlight=False)
        return
    signer = f", signed by key {report.last_key}" if signatures and report.last_key else ""
    console.print(
        f"anchor: {report.anchor} (record seq={report.last_seq}, batch {report.last_batch}"
        f"{signer})\nkeep it where the database administrator cannot write, and check the "
        f"next audit against it: hub audit verify --expect {report.anchor}",
        highlight=False,
        soft_wrap=True,  # never break the hash
    )


def _rollup_note(mark: int, last: int) -> str:
    """What the rollup mark means for the statistics. "Up to seq=0" read as if the
    statistics counted nothing, when the hub had only not folded its last records yet (it
    folds with a later batch, or when it stops) and every query counts those from the log."""
    if mark >= last:
        return f"the statistics' rollups agree with the log and count all of it (seq={mark})"
    behind = last - mark
    pending = f"last {behind} records are" if behind > 1 else "last record is"
    folded = f"agree with the log up to seq={mark}" if mark else "have folded no record yet"
    return (
        f"the statistics' rollups {folded}; the {pending} counted by every statistics query "
        "from the log itself until the hub folds them (with its next exchanges, or when it "
        "stops)"
    )


def _print_trail(trail: TrailReport, *, signatures: bool) -> None:
    if not trail.events:
        if not trail.version:
            console.print("registry changes: no events yet", highlight=False)
            return
        # Not a finding: a database upgraded from before the trail looks the same.
        console.print(
            f"[yellow]registry changes: no events, but the registry is at version "
            f"{trail.version}[/yellow]: it was changed before its upgrade to migration 0011, "
            "which began the trail, and not since, or its trail was deleted whole; an event "
            "anchor (--expect-event) kept from an earlier audit tells",
            highlight=False,
            soft_wrap=True,
        )
        return
    found = f"registry changes: {plural(trail.events, 'event')} chained"
    if signatures:
        by_key = ", ".join(
            f"{k} ({plural(n, 'event')})" for k, n in sorted(trail.signed_by.items())
        )
        found += f", {plural(trail.signatures_checked, 'signature')} valid"
        found += f", by key {by_key}" if by_key else ""
        if trail.vouched:
            all_, them = ("", "it") if trail.vouched == 1 else ("all ", "them")
            found += (
                f"; {plural(trail.vouched, 'event')} not signed, {all_}at or before the kept "
                f"anchor id={trail.vouched_to}, which vouches for {them}"
            )
    else:
        found += " (signatures NOT checked: --no-signatures)"
    if trail.anchors_checked:
        found += f"; {trail.anchors_checked} kept anchor(s) found unchanged"
    console.print(f"{found} (hub audit events lists them)", highlight=False, soft_wrap=True)
    console.print(
        f"event anchor: {trail.anchor} (the last event)\nkeep it with the log's, and check "
        f"the next audit against it: hub audit verify --expect-event {trail.anchor}",
        highlight=False,
        soft_wrap=True,  # never break the hash
    )


@app.command("public-key")
def public_key_cmd(
    key_file: Path | None = typer.Option(
        None,
        "--file",
        help="A PEM key (public, or private for its public half) instead of the hub's own "
        "signing key.",
    ),
    show_id: bool = typer.Option(
        False, "--id", help="Print the key id and the key's SHA-256 fingerprint, not the PEM."
    ),
) -> None:
    """Print the public key that verifies this hub's log batches, or its key id."""
    from hub.txlog.signing import Signer, fingerprint, key_id, public_pem

    # Said as `hub audit verify` says it: the flag or variable first, then what is wrong (a
    # bare "[Errno 2] No such file or directory" named neither).
    if key_file is not None:
        try:
            key = _public_key(key_file)
        except (OSError, ValueError) as exc:
            fail(f"--file: cannot read the key ({exc})", 2)
    else:
        try:
            key = Signer.from_file(settings().signing_key_file, create=False).public_key
        except (OSError, ValueError) as exc:
            fail(f"HUB_SIGNING_KEY_FILE: cannot load the signing key ({exc})", 2)
    if show_id:
        # The key id is what every batch row names, and what `hub audit verify` prints.
        print(f"key id: {key_id(key)}\nsha256: {fingerprint(key)}")
    else:
        print(public_pem(key), end="")


@app.command("proof")
def proof_cmd(
    ident: str = typer.Argument(..., help="X-Road-Request-Id (or X-Road-Id) of the exchange."),
    out: Path | None = typer.Option(None, "--out", help="Write it to this file, not stdout."),
    db: str | None = DbOption,
) -> None:
    """Write a JSON proof that one exchange is in the signed log, to check offline.

    Example: hub audit proof 00662131f62691fa3b0ca980000007d0 --out proof.json
    """
    from hub.core.db import create_engine
    from hub.stats.browse import missing, typed_id
    from hub.stats.records import count_same_id
    from hub.txlog.proof import make_proof

    ident = typed_id(ident)
    s = settings(db)
    up_to_date(s.database_url, "the log", 2)

    async def go() -> tuple[dict[str, Any] | None, int]:
        engine = create_engine(s.database_url)
        try:
            proof = await make_proof(engine, ident)
            shared = 0
            if proof is not None and proof["exchange"]["fields"]["request_id"] != ident:
                async with engine.connect() as conn:
                    shared = await count_same_id(conn, ident)
            return proof, shared
        finally:
            await engine.dispose()

    try:
        proof, shared = run(go())
    except ValueError as exc:
        fail(f"no proof: the log does not hold around {ident!r} ({exc}); run hub audit verify")
    except Exception as exc:
        fail(unreadable(exc, s.database_url, "the log"), 2)
    if proof is None:
        fail(missing(ident))
    if shared > 1:
        # An X-Road-Id a client chose may name several exchanges; which one is proved
        # was said nowhere.
        rid = proof["exchange"]["fields"]["request_id"]
        err_console.print(
            f"note: {shared} exchanges carry X-Road-Id {ident!r}; this proves the newest, "
            f"X-Road-Request-Id {rid}. To prove another, give its request id "
            f"(hub tx list --all lists them)",
            style="yellow",
        )
    text = json.dumps(proof, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        rid = proof["exchange"]["fields"]["request_id"]
        typer.echo(
            f"wrote the proof of exchange {rid} to {out}; check it anywhere with "
            f"`hub audit check-proof {out} --public-key KEY.pem` (`hub audit public-key` "
            "prints the key)",
            err=True,
        )


@app.command("check-proof")
def check_proof_cmd(
    file: Path = typer.Argument(..., help="A proof `hub audit proof` wrote."),
    public_key: list[Path] = typer.Option(
        ..., help="PEM public key the batch may be signed with; repeat it for several."
    ),
) -> None:
    """Check a proof against the public key, without the hub or its database."""
    from hub.txlog.proof import check_proof
    from hub.txlog.signing import key_id

    try:
        keys = {key_id(k): k for k in map(_public_key, public_key)}
    except (OSError, ValueError) as exc:
        fail(f"--public-key: cannot read the key ({exc})", 2)
    try:
        proof = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read the proof {file}: {exc}", 2)
    if not isinstance(proof, dict):
        fail(f"{file} is not a proof", 2)
    problems = check_proof(proof, keys)
    if problems:
        console.print("[red]the proof does not hold[/red]:")
        for problem in problems:
            console.print(f"  - {problem}", highlight=False)
        raise typer.Exit(1)
    ex, batch = proof["exchange"], proof["batch"]
    console.print(
        f"[green]the proof holds[/green]: exchange {ex['fields']['request_id']} is record "
        f"seq={ex['seq']} of the log, in batch {batch['id']} (records {batch['first_seq']}.."
        f"{batch['last_seq']}) signed by key {batch['key_id']}",
        highlight=False,
    )
