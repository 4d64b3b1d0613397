"""The ``hub`` command's entry point, kept apart so that it can catch what its imports raise.

Loading the commands (typer, rich and the command modules; each imports what else it uses
when it runs, hub/cli/common.py) takes a moment: a Ctrl-C in that time printed a traceback
of importlib, where a Ctrl-C at any other time ends the command quietly.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # the shell's status for SIGINT


def main() -> None:
    try:
        from hub.cli.main import main as run
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    run()
