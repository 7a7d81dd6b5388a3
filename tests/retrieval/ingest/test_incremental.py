"""Incremental ingest, crash safety, locking and live reload, on real parts."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from corpus.loading import load_corpus
from retrieval.backends.local.folder import MANIFEST, current_version, version_dir
from retrieval.backends.local.ingest import ingest
from retrieval.backends.local.store import STORE
from retrieval.engine import AnswerEngine
from retrieval.errors import IndexBusyError, IndexMismatchError
from retrieval.ingest.plan import LOCK
from tests.support import ROOT
from tests.support.corpora import BASE_DOCS, HYDROGEN, write_corpus


def run_ingest(index_dir: Path, corpus: Path, embedder, **kwargs):
    documents = load_corpus([corpus]).documents
    return ingest(index_dir, documents, embedder, progress=False, log=lambda _m: None, **kwargs)


def top_doc(index_dir: Path, embedder, question: str) -> tuple[str, str]:
    engine = AnswerEngine.open(index_dir, embedder=embedder)
    result = engine.ask(question, top_k=1).results[0]
    return result.doc_id, result.excerpt


def test_add_change_rename_delete_reembeds_only_what_changed(tmp_path, embedder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    docs = dict(BASE_DOCS)
    first = run_ingest(index_dir, write_corpus(corpus, docs), embedder)
    assert (len(first.plan.added), first.embedded) == (3, first.chunks)

    again = run_ingest(index_dir, corpus, embedder)
    assert again.plan.summary() == "added 0 · changed 0 · removed 0 · unchanged 3"
    assert again.embedded == 0

    docs["hydrogen.txt"] = "临港氢能示范园区\n" + HYDROGEN
    added = run_ingest(index_dir, write_corpus(corpus, docs), embedder)
    assert added.plan.added == ["hydrogen.txt"] and added.embedded == 1
    assert top_doc(index_dir, embedder, "临港氢能示范园区什么时候建成？")[0] == "hydrogen.txt"

    docs["ecology.txt"] += "\n白洋淀水质提升至III类。"
    changed = run_ingest(index_dir, write_corpus(corpus, docs), embedder)
    assert changed.plan.changed == ["ecology.txt"] and changed.embedded == 1
    assert "白洋淀" in top_doc(index_dir, embedder, "白洋淀水质提升到几类？")[1]

    docs["hydrogen-park.txt"] = docs.pop("hydrogen.txt")
    renamed = run_ingest(index_dir, write_corpus(corpus, docs), embedder)
    assert renamed.plan.added == ["hydrogen-park.txt"] and renamed.plan.removed == ["hydrogen.txt"]
    assert renamed.embedded == 0  # same text, vectors reused by text hash

    del docs["hydrogen-park.txt"]
    removed = run_ingest(index_dir, write_corpus(corpus, docs), embedder)
    assert removed.plan.removed == ["hydrogen-park.txt"]
    engine = AnswerEngine.open(index_dir, embedder=embedder)
    answer = engine.ask("临港氢能示范园区什么时候建成？", top_k=5)
    assert all("氢能" not in r.excerpt for r in answer.results)
    assert not answer.confident


def test_dry_run_changes_nothing(tmp_path, embedder):
    corpus, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    run_ingest(index_dir, corpus, embedder)
    before = current_version(index_dir)
    (corpus / "new.txt").write_text("新增文件\n" + HYDROGEN, encoding="utf-8")
    plan = run_ingest(index_dir, corpus, embedder, dry_run=True)
    assert plan.version is None and plan.plan.added == ["new.txt"] and plan.embedded == 1
    assert current_version(index_dir) == before


def test_other_model_forces_full_rebuild_and_is_refused_at_query_time(tmp_path, embedder):
    corpus, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    run_ingest(index_dir, corpus, embedder)
    manifest_path = version_dir(index_dir, current_version(index_dir)) / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["model"] = {
        "name": "BAAI/bge-small-zh-v1.5",
        "fingerprint": "f" * 64,
        "dimension": 512,
    }
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(IndexMismatchError, match="bge-small-zh"):
        AnswerEngine.open(index_dir, embedder=embedder)
    messages: list[str] = []
    rebuilt = ingest(
        index_dir, load_corpus([corpus]).documents, embedder, progress=False, log=messages.append
    )
    assert "embedding model changed" in messages[0]
    # The cache keys vectors by model: this model's vectors are still valid, nothing re-embeds.
    assert rebuilt.embedded == 0 and rebuilt.chunks == 3
    fresh = json.loads(
        (version_dir(index_dir, current_version(index_dir)) / MANIFEST).read_text(encoding="utf-8")
    )
    assert fresh["model"]["fingerprint"] == embedder.identity.fingerprint
    assert AnswerEngine.open(index_dir, embedder=embedder)


def test_second_ingest_is_refused_while_one_runs(tmp_path, embedder):
    corpus, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    index_dir.mkdir()
    with FileLock(str(index_dir / LOCK)), pytest.raises(IndexBusyError, match="another ingest"):
        run_ingest(index_dir, corpus, embedder)
    assert current_version(index_dir) is None


def test_running_engine_switches_to_new_index_without_restart(tmp_path, embedder):
    corpus, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    run_ingest(index_dir, corpus, embedder)
    engine = AnswerEngine.open(index_dir, embedder=embedder)
    assert not engine.refresh()
    assert not engine.ask("临港氢能示范园区什么时候建成？").confident
    (corpus / "hydrogen.txt").write_text("临港氢能示范园区\n" + HYDROGEN, encoding="utf-8")
    run_ingest(index_dir, corpus, embedder)
    assert engine.refresh()
    answer = engine.ask("临港氢能示范园区什么时候建成？")
    assert answer.confident and answer.results[0].doc_id == "hydrogen.txt"


def test_sigkill_during_ingest_leaves_the_old_index_usable(tmp_path, embedder):
    corpus, index_dir = write_corpus(tmp_path / "c", BASE_DOCS), tmp_path / "index"
    run_ingest(index_dir, corpus, embedder)
    old = current_version(index_dir)
    big = tmp_path / "big"
    big.mkdir()
    lines = [
        json.dumps(
            {"doc_id": f"d{i}", "title": f"文件{i}", "text": f"第{i}号文件。" + HYDROGEN * 8},
            ensure_ascii=False,
        )
        for i in range(150)
    ]
    (big / "many.jsonl").write_text("\n".join(lines), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ingest", "--index", str(index_dir), "--corpus", str(big)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "QABOT_EMBED_BATCH": "16"},
    )
    seen = b""
    done = None
    deadline = time.monotonic() + 180
    while done is None and time.monotonic() < deadline:  # two batches are in the cache
        seen += proc.stderr.read1(4096)
        counts = [int(n) for n in re.findall(rb"embedding:[^\r\n]*?(\d+)/150", seen)]
        done = max(counts) if counts and max(counts) >= 32 else None
    assert done, seen.decode(errors="replace")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    assert current_version(index_dir) == old
    doc_id, _ = top_doc(index_dir, embedder, "京雄城际铁路全线贯通了吗？")
    assert doc_id == "transport.txt"
    with sqlite3.connect(index_dir / "cache.sqlite") as con:
        cached = con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] - 3  # 3 base chunks
    assert cached >= 32
    finished = run_ingest(index_dir, big, embedder)  # the lock died with the process
    assert finished.version != old and len(finished.plan.added) == 150
    assert finished.embedded == 150 - cached  # the rerun embeds only what is still missing
    assert not any(p.name.startswith(".") for p in (index_dir / "versions").iterdir())


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
