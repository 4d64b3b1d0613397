"""The ``hub`` command: one entry point, one sub-command module per feature."""

from __future__ import annotations

import codecs
import io
import os
import sys
from typing import Annotated

import typer

from hub import __version__
from hub.cli import audit, connectors, db, demo, keys, registry, replay, serve, stats, tx
from hub.cli.common import Unwritable, stdout_gone

app = typer.Typer(
    help="Data-exchange hub: gateway, mock agencies, scenario replay and operator statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hub {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the hub's version and exit.",
        ),
    ] = False,
) -> None:
    """Options that come before the command (``hub --version``)."""


serve.register(app)  # hub up, hub serve
connectors.register(app)  # hub mock, hub connectors new
replay.register(app)  # hub replay
app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
app.add_typer(keys.app, name="keys")
app.add_typer(demo.app, name="demo")
app.add_typer(stats.app, name="stats")
app.add_typer(tx.app, name="tx")
app.add_typer(audit.app, name="audit")


def _standard_fds() -> None:
    """Put /dev/null where the caller closed stdin, stdout or stderr (``hub replay >&-``).

    Else the next file or socket opened takes that number, and the event loop's library
    (libuv, under uvloop) aborts the process when it closes a descriptor below 3; output
    meant for the terminal would go into whatever took the number.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one


def _utf8_output() -> None:
    """Write UTF-8 into a file or a pipe whatever the locale's code page says.

    Under Windows-1258 (a Vietnamese PC) or LANG=en_US.ISO-8859-1, `hub stats matrix --csv >
    m.csv` ended at the first "Bộ Công an" with a UnicodeEncodeError and half a file. A
    terminal keeps its encoding; what it cannot show reads "?" rather than ending the command.
    The same for stderr, where messages name agencies too.
    """
    for out in (sys.stdout, sys.stderr):
        if not isinstance(out, io.TextIOWrapper) or codecs.lookup(out.encoding).name == "utf-8":
            continue
        if out.isatty():
            out.reconfigure(errors="replace")
        else:
            out.reconfigure(encoding="utf-8")


def _interrupted(exc: SystemExit) -> bool:
    """Whether click ended the command for a Ctrl-C: typer turns the KeyboardInterrupt into
    a silent exit 130, and a check or a load stopped halfway read as one that ended."""
    ended = exc.__context__
    return ended is not None and isinstance(ended.__cause__, KeyboardInterrupt)


def _command_named() -> str:
    """``hub`` and the words of the command line that name the command run (not its values)."""
    words = ["hub"]
    command: object = typer.main.get_command(app)
    for arg in sys.argv[1:]:
        subs = getattr(command, "commands", None)
        if not subs or arg not in subs:
            break
        words.append(arg)
        command = subs[arg]
    return " ".join(words)


def main() -> None:
    _standard_fds()
    _utf8_output()
    try:
        try:
            app()
        except SystemExit as exc:
            if _interrupted(exc):
                print(
                    f"interrupted (Ctrl-C): `{_command_named()}` stopped before it finished",
                    file=sys.stderr,
                )
            raise
        finally:
            # click ends every command with sys.exit(): what it left in stdout's buffer is
            # written here, where a reader gone can be told from a failure, and not in the
            # interpreter's last flush ("Exception ignored ... BrokenPipeError", status 120).
            # None: started with descriptor 1 closed (see _standard_fds).
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:  # `hub tx list | head -2`: the reader has what it wanted
        # Python's note on SIGPIPE (the signal module's docs): status 1, and stdout
        # pointed at /dev/null so that nothing fails on the way out.
        stdout_gone()
        sys.exit(1)
    except OSError as exc:
        if exc.filename is None:  # stdout on a full disk: one line, no traceback
            print(f"error: cannot write the output: {exc}", file=sys.stderr)
        else:  # a file or folder the command was given or made (`--dir` a file)
            print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        sys.exit(1)
    except Unwritable as exc:
        print(f"error: cannot write the output: {exc}", file=sys.stderr)
        sys.exit(1)
