"""`hub audit`: prove the transaction log is whole."""

from __future__ import annotations

from pathlib import Path

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.cli.common import DbOption, console, existing, fail, run, settings, unreadable
from hub.core.db import create_engine
from hub.txlog.audit import AuditReport, verify_log
from hub.txlog.signing import Signer, load_public_key

app = typer.Typer(help="Integrity of the transaction log.", no_args_is_help=True)


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
) -> None:
    """Recompute the hash chain and batch signatures; exit 1 naming the first bad record."""
    s = settings(db)
    existing(s.database_url)
    keys: list[Ed25519PublicKey] = []
    if not no_signatures:
        try:
            if public_key:
                keys = [load_public_key(path.read_bytes()) for path in public_key]
            else:
                keys = [Signer.from_file(s.signing_key_file, create=False).public_key]
        except (OSError, ValueError) as exc:
            fail(f"cannot load the signing key ({exc}); pass --public-key or --no-signatures", 2)

    async def go() -> AuditReport:
        engine = create_engine(s.database_url)
        try:
            return await verify_log(engine, public_keys=keys)
        finally:
            await engine.dispose()

    try:
        report = run(go())
    except Exception as exc:  # exit 1 means a tampered log: a log not read is 2
        fail(unreadable(exc, s.database_url, "the log"), 2)
    if report.ok:
        console.print(
            f"[green]ok[/green]: {report.records} records chained, {report.batches} batches, "
            f"{report.signatures_checked} signatures valid; last record seq={report.last_seq} "
            f"hash={report.last_hash} (keep it elsewhere to detect truncation later)",
            highlight=False,
        )
        return
    console.print(f"[red]the log has been tampered with[/red] ({report.records} records read):")
    for problem in report.problems:
        console.print(f"  - {problem}", highlight=False)
    raise typer.Exit(1)


@app.command("public-key")
def public_key_cmd() -> None:
    """Print the public key that verifies this hub's log batches."""
    s = settings()
    try:
        signer = Signer.from_file(s.signing_key_file, create=False)
    except (OSError, ValueError) as exc:
        fail(str(exc), 2)
    print(signer.public_pem(), end="")
