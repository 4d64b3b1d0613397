"""Engines: a SQLite file that cannot be opened is said so before any connection thread runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from hub.core.db import create_engine


def test_a_sqlite_file_that_cannot_be_opened_fails_before_aiosqlite_starts_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiosqlite stops the thread of a connection that failed to open with a future of the
    # running loop; `hub db upgrade` on a folder it may not write then often printed
    # "Exception in thread ... RuntimeError: Event loop is closed" (twice) above its error.
    def connect(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("aiosqlite was asked to open a file that cannot be opened")

    monkeypatch.setattr(aiosqlite, "connect", connect)
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        create_engine(f"sqlite+aiosqlite:///{tmp_path}")  # a folder, not a file


def test_a_sqlite_uri_filename_makes_no_folder_named_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The parent of "file:/data/hub.db" was made as a path relative to the working folder:
    # every command given a URI filename (mode=ro, as for a backup) left ./file:/data behind.
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "hub.db"
    sqlite3.connect(path).close()
    create_engine(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub.db"]
