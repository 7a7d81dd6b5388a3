"""A full disk is named as such (issue 28): which device, how much is free, how much more
the work needed where that is known, and never "the index is damaged, rebuild it"."""

from __future__ import annotations

import errno
import logging
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from bot import index_update
from bot.cli import main
from bot.errors import describe, disk_full, ingest_needs, note_disk
from retrieval.backends.local.backend import LocalBackend
from tests.support.corpora import BASE_DOCS, write_corpus

FREE = re.compile(r"[\d,.]+ MB free\); free some space and run it again$")


def _assert_no_space(line: str, path: Path) -> None:
    assert line.startswith(f"no space left on the device holding {path} ("), line
    assert FREE.search(line) and "\n" not in line
    assert "rebuild" not in line and "damaged" not in line


def _sqlite_full(tmp_path: Path) -> sqlite3.Error:
    """SQLite's own SQLITE_FULL, from a database that may not grow."""
    db = sqlite3.connect(tmp_path / "full.sqlite")
    db.execute("CREATE TABLE t (x TEXT)")
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    try:
        with pytest.raises(sqlite3.Error) as caught:
            db.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,))
    finally:
        db.close()
    return caught.value


def test_sqlite_and_os_full_disks_say_where_and_how_much_is_free(tmp_path: Path) -> None:
    real = _sqlite_full(tmp_path)
    assert disk_full(real) and "database or disk is full" in str(real)
    _assert_no_space(describe(real, tmp_path), tmp_path)
    plain = sqlite3.OperationalError("database or disk is full")  # without an error code
    _assert_no_space(describe(plain, tmp_path / "index"), tmp_path / "index")  # not made yet

    store = tmp_path / "store.sqlite"
    for code in (errno.ENOSPC, errno.EDQUOT):
        _assert_no_space(describe(OSError(code, "No space left on device", str(store))), store)
    # a write() error names no file: the folder being written does
    _assert_no_space(describe(OSError(errno.ENOSPC, "No space left"), tmp_path), tmp_path)
    assert describe(OSError(errno.ENOSPC, "No space left")) == (
        "no space left on the device; free some space and run it again"
    )
    # other SQLite errors keep their advice
    assert "--rebuild" in describe(sqlite3.DatabaseError("database disk image is malformed"))


def test_how_much_more_the_work_needed(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    exc = sqlite3.OperationalError("database or disk is full")
    line = describe(exc, tmp_path, needed=free + 300 * 2**20)
    assert re.search(r"\(needed about (29\d|30\d) MB more, [\d,.]+ MB free\)", line), line
    assert "needed" not in describe(exc, tmp_path, needed=1)  # it fits now: only what is free

    note_disk(exc, tmp_path, free + 300 * 2**20)  # what an ingest notes for the CLI's describe
    noted = describe(exc)
    _assert_no_space(noted, tmp_path)
    assert "needed about" in noted
    note_disk(RuntimeError("not a disk error"), tmp_path)  # ignored
    assert ingest_needs(["字" * 1_000_000]) >= 3_000_000 * 10 and ingest_needs([]) > 0


def test_ingest_on_a_full_disk_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bot ingest`` as a person runs it, the store's SQLite finding the disk full."""

    def full(self: LocalBackend, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(index_update, "shared_embedder", lambda: None)
    monkeypatch.setattr(LocalBackend, "ingest", full)
    index_dir, corpus = tmp_path / "index", write_corpus(tmp_path / "corpus", BASE_DOCS)
    handlers, imported = logging.root.handlers[:], "bot.commands" in sys.modules
    try:
        code = main(["ingest", "--index", str(index_dir), "--corpus", str(corpus)])
    finally:  # what main bound to this test's captured output must not outlive it:
        logging.root.handlers[:] = handlers  # logging.basicConfig's handler, and
        if not imported:  # ingest_once's default ``out``, bound to sys.stdout at import
            sys.modules.pop("bot.commands", None)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert err.startswith(f"error: no space left on the device holding {index_dir} (")
    assert "MB free" in err and "rebuild" not in err
