"""ingest --watch: a change in the corpus folders is ingested; a failure is reported and the
watch goes on (bot/watch.py)."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import redirect_stderr

import pytest

from tests.support import ROOT
from tests.support.corpora import BASE_DOCS, HYDROGEN, write_corpus


def test_watch_reports_an_unexpected_failure_and_keeps_watching(tmp_path):
    from bot.watch import watch_and_ingest

    calls: list[int] = []

    def flaky_ingest() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("甲", encoding="utf-8")
    b.write_text("乙", encoding="utf-8")
    err = io.StringIO()
    with redirect_stderr(err):
        watch_and_ingest(
            [tmp_path], flaky_ingest, changes=[{("added", str(a))}, {("added", str(b))}]
        )
    assert len(calls) == 2  # the second change was still ingested
    assert "error: the index database is damaged or unreadable (disk I/O error)" in err.getvalue()
    assert "still watching" in err.getvalue()


def test_one_sed_edit_is_one_changed_file_and_temporary_files_are_not_counted(tmp_path):
    from bot.watch import changed_files, watch_and_ingest

    doc = tmp_path / "doc.txt"
    doc.write_text("甲", encoding="utf-8")
    temp = str(tmp_path / "sedAb12Cd")  # what `sed -i` writes, then renames over doc.txt
    batch = {("added", temp), ("modified", temp), ("deleted", temp), ("added", str(doc))}
    assert changed_files(batch) == [str(doc)]
    swap = {("added", str(tmp_path / ".doc.txt.swp")), ("modified", str(tmp_path / "doc.txt~"))}
    assert changed_files(swap) == []

    calls: list[int] = []
    err = io.StringIO()
    with redirect_stderr(err):
        watch_and_ingest([tmp_path], lambda: calls.append(1), changes=[batch, swap])
    assert "doc.txt changed; updating the index" in err.getvalue()
    assert calls == [1]  # hidden and temporary files alone start no ingest


def test_ctrl_c_ends_the_watch_quietly(tmp_path, caplog):
    from bot.watch import watch_and_ingest

    def interrupted():
        yield from ()
        raise KeyboardInterrupt

    err = io.StringIO()
    with redirect_stderr(err):
        watch_and_ingest([tmp_path], lambda: None, changes=interrupted())  # returns, no raise
    assert err.getvalue().splitlines()[-1] == "stopped watching"
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


@pytest.mark.slow  # the `python -m bot ingest --watch` it starts loads the model
def test_watch_reingests_when_a_file_is_added(tmp_path):
    corpus, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "ingest",
            "--watch",
            "--index",
            str(index_dir),
            "--corpus",
            str(corpus),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    output = bytearray()

    def read() -> None:
        for chunk in iter(proc.stdout.read1, b""):
            output.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()

    def wait_for(text: bytes, seconds: float, poke=None) -> bool:
        deadline = time.monotonic() + seconds
        while text not in output and time.monotonic() < deadline:
            if poke:
                poke()
            time.sleep(2)
        return text in output

    try:
        assert wait_for(b"watching", 180), output.decode(errors="replace")
        assert b"added 3" in output
        hydrogen = corpus / "hydrogen.txt"
        # The watcher may start a moment after it says so: write until it reacts.
        assert wait_for(
            b"added 1 \xc2\xb7 changed 0 \xc2\xb7 removed 0 \xc2\xb7 unchanged 3",
            120,
            poke=lambda: hydrogen.write_text("临港氢能示范园区\n" + HYDROGEN, encoding="utf-8"),
        ), output.decode(errors="replace")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
