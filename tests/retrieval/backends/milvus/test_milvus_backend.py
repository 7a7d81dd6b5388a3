"""The Milvus backend on real engines: embedded Milvus Lite (a ``*.db`` file) and a
``milvus-lite server`` on 127.0.0.1 (the network URI a cluster would use)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from corpus.loading import load_corpus, shipped_corpus_dir  # noqa: E402
from corpus.normalize import search_key  # noqa: E402
from qabot_settings import BackendSettings
from retrieval.backends import open_backend  # noqa: E402
from retrieval.backends.milvus import client as milvus_client  # noqa: E402
from retrieval.engine import AnswerEngine  # noqa: E402
from retrieval.errors import RetrievalError  # noqa: E402
from retrieval.query.search import SearchSettings  # noqa: E402
from retrieval.tokens import tokenize  # noqa: E402
from tests.support import ROOT, free_port  # noqa: E402
from tests.support.corpora import BASE_DOCS, HYDROGEN, write_corpus  # noqa: E402

pytestmark = pytest.mark.milvus

QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


def _with_seed_cache(seed_index: Path, folder: Path) -> Path:
    """A new index folder holding a copy of the seed index's embedding cache."""
    import sqlite3

    from retrieval.ingest.embedding_cache import CACHE

    folder.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{seed_index / CACHE}?mode=ro", uri=True)
    target = sqlite3.connect(folder / CACHE)
    source.backup(target)
    target.close()
    source.close()
    return folder


def _key(answer) -> list[tuple]:
    return [
        (r.doc_id, r.start, r.end, r.excerpt, round(r.score, 4), r.marks)
        + (r.section, r.article, r.doc_number, r.issuer)  # citations down to the article
        for r in answer.results
    ]


def test_same_answers_excerpts_and_sources_as_the_local_backend(
    milvus_env, seed_index, seed_engine, embedder, tmp_path
):
    documents = load_corpus([shipped_corpus_dir()]).documents
    index_dir = _with_seed_cache(seed_index, tmp_path / "index")  # nothing to re-embed
    backend = open_backend(index_dir)
    result = backend.ingest(documents, embedder, progress=False)
    assert result.embedded == 0 and result.chunks == seed_engine.chunks
    engine = AnswerEngine(index_dir, embedder, backend=backend)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    for question in questions[:12]:
        local, milvus = seed_engine.ask(question, top_k=5), engine.ask(question, top_k=5)
        assert _key(milvus) == _key(local), question
        assert milvus.confident == local.confident and milvus.off_topic == local.off_topic
    assert engine.sources() == seed_engine.sources()
    for doc_id in seed_engine.index.doc_ids():  # whole documents rebuilt byte for byte
        assert engine.index.document(doc_id) == seed_engine.index.document(doc_id)
    top = engine.ask("通武廊签署了什么协议？", top_k=1).results[0]
    assert top.excerpt == engine.index.document(top.doc_id).text[top.start : top.end]
    assert engine.context(top.doc_id, top.start, top.end) == seed_engine.context(
        top.doc_id, top.start, top.end
    )


def _keyword_weights_score_as_the_full_search(version) -> None:
    """A keyword search filtered to some chunks (and an id no chunk has) scores them as the
    full search did."""
    tokens = tokenize(search_key("2019年工作要点 疏解非首都功能 医疗卫生"))
    scores, ids = version.keyword_candidates(tokens, 100)
    picked = ids[::3].tolist()
    expected = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    got = version.keyword_weights(tokens, [*picked, max(expected) + 10_000])
    assert len(picked) > 5 and got == pytest.approx({i: expected[i] for i in picked}, rel=1e-5)


def test_milvus_bm25_keywords_score_named_chunks_as_a_search_does(
    tmp_path, monkeypatch, seed_index, embedder
):
    """In the bm25 mode (Milvus's own BM25 function) the title words' share that
    subject_order reads is a search filtered to the head chunks: same scores as the full one."""
    monkeypatch.setenv("QABOT_BACKEND", "milvus")
    monkeypatch.setenv("QABOT_MILVUS_URI", str(tmp_path / "milvus.db"))
    monkeypatch.setenv("QABOT_MILVUS_KEYWORDS", "bm25")
    index_dir = _with_seed_cache(seed_index, tmp_path / "index")
    backend = open_backend(index_dir)
    backend.ingest(load_corpus([shipped_corpus_dir()]).documents, embedder, progress=False)
    engine = AnswerEngine(index_dir, embedder, backend=backend)
    _keyword_weights_score_as_the_full_search(engine.index)
    assert engine.ask("北京2019年工作要点中对雄安新区医疗卫生方面有什么帮扶安排?").results


def _ingest(index_dir: Path, corpus: Path, embedder):
    documents = load_corpus([corpus]).documents
    return open_backend(index_dir).ingest(documents, embedder, progress=False)


def _rows(backend) -> int:
    manifest = backend.live_manifest()
    rows = backend.client.query(manifest.collection, filter="id >= 0", output_fields=["count(*)"])
    return int(rows[0]["count(*)"])


def test_update_reembeds_only_what_changed_and_readers_switch(milvus_env, tmp_path, embedder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    docs = dict(BASE_DOCS)
    write_corpus(corpus, docs)
    first = _ingest(index_dir, corpus, embedder)
    assert len(first.plan.added) == 3 and first.embedded == first.chunks > 0
    engine = AnswerEngine.open(index_dir, embedder=embedder)
    assert engine.ask("京张高铁", top_k=1).results[0].doc_id == "transport.txt"

    docs["transport.txt"] += "\n" + HYDROGEN  # one changed, one removed, one unchanged
    del docs["ecology.txt"]
    write_corpus(corpus, docs)
    second = _ingest(index_dir, corpus, embedder)
    plan = second.plan
    assert (plan.changed, plan.removed, plan.unchanged) == (
        ["transport.txt"],
        ["ecology.txt"],
        ["industry.txt"],
    )
    assert second.embedded == 1  # the unchanged chunks of the changed document come from the cache
    assert engine.version == first.version  # still answering from the old version …
    time.sleep(1.1)  # the backend reads the ``current`` row at most once a second
    assert engine.refresh() and engine.version == second.version  # … until it refreshes
    top = engine.ask("临港氢能示范园区什么时候建成？", top_k=1).results[0]
    assert top.doc_id == "transport.txt" and HYDROGEN in top.excerpt
    assert "ecology.txt" not in {s.doc_id for s in engine.sources()}
    assert all(r.doc_id != "ecology.txt" for r in engine.ask("PM2.5 大气污染", top_k=5).results)
    assert engine.chunks == second.chunks

    backend = open_backend(index_dir)
    dead_since_v2 = backend.live_manifest().dead
    assert len(dead_since_v2) == 2  # the old transport.txt and ecology.txt
    # their rows stay for readers of the old version
    assert _rows(backend) == second.chunks + _dead_rows(backend) > second.chunks
    third = _ingest(index_dir, corpus, embedder)  # nothing changed: the same version
    assert third.version == second.version and third.embedded == 0
    docs["industry.txt"] += "\n雄安新区中关村科技园正式揭牌。"
    write_corpus(corpus, docs)
    fourth = _ingest(index_dir, corpus, embedder)
    assert fourth.plan.changed == ["industry.txt"]
    assert _rows(backend) == fourth.chunks + _dead_rows(backend)
    gone = backend.client.query(
        backend.live_manifest().collection,
        filter=f"doc_key in {dead_since_v2}",
        output_fields=["count(*)"],
    )
    assert gone[0]["count(*)"] == 0  # the rows dead since v2 were deleted by this ingest


_KILLING_INGEST = """
import os, signal, sys
from pathlib import Path
from corpus.loading import load_corpus
from retrieval.backends import open_backend
from retrieval.engine import shared_embedder

def log(message):
    if message.startswith("rows written"):
        os.kill(os.getpid(), signal.SIGKILL)  # after every row is in, before publishing

docs = load_corpus([Path(sys.argv[2])]).documents
open_backend(Path(sys.argv[1])).ingest(docs, shared_embedder(), progress=True, log=log)
"""


def test_kill_9_mid_ingest_leaves_the_previous_version_answering(milvus_env, tmp_path, embedder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    docs = dict(BASE_DOCS)
    write_corpus(corpus, docs)
    if milvus_env["QABOT_MILVUS_URI"].endswith(".db"):  # one process at a time opens a file
        run = [
            sys.executable,
            "-m",
            "bot",
            "ingest",
            "--index",
            str(index_dir),
            "--corpus",
            str(corpus),
        ]
        subprocess.run(run, cwd=ROOT, check=True, capture_output=True, timeout=300)
    else:
        _ingest(index_dir, corpus, embedder)
    docs["transport.txt"] += "\n" + HYDROGEN
    write_corpus(corpus, docs)
    proc = subprocess.run(
        [sys.executable, "-c", _KILLING_INGEST, str(index_dir), str(corpus)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    backend = open_backend(index_dir)
    before = backend.current_version()
    engine = AnswerEngine.open(index_dir, embedder=embedder)
    assert engine.chunks == backend.live_manifest().chunks
    answer = engine.ask("临港氢能示范园区什么时候建成？", top_k=5)
    assert all(HYDROGEN not in r.excerpt for r in answer.results)  # the killed rows are unseen
    assert engine.ask("京张高铁", top_k=1).results[0].doc_id == "transport.txt"

    after = _ingest(index_dir, corpus, embedder)  # the next ingest clears them and publishes
    assert after.version != before and after.plan.changed == ["transport.txt"]
    time.sleep(1.1)
    assert engine.refresh()
    assert HYDROGEN in engine.ask("临港氢能示范园区什么时候建成？", top_k=1).results[0].excerpt
    # the killed ingest's rows are gone: what is left is live or dead since this ingest
    assert _rows(backend) == after.chunks + _dead_rows(backend) > after.chunks


def _dead_rows(backend) -> int:
    manifest = backend.live_manifest()
    if not manifest.dead:
        return 0
    rows = backend.client.query(
        manifest.collection, filter=f"doc_key in {manifest.dead}", output_fields=["count(*)"]
    )
    return int(rows[0]["count(*)"])


def test_settings_errors_are_one_line(tmp_path, monkeypatch):
    settings = BackendSettings(backend="milvus", milvus_uri=str(tmp_path / "milvus.txt"))
    with pytest.raises(RetrievalError, match="ending in .db") as bad_uri:
        open_backend(tmp_path, settings).current_version()
    port = free_port()  # nothing listens there
    settings = BackendSettings(backend="milvus", milvus_uri=f"http://127.0.0.1:{port}")
    with pytest.raises(milvus_client.MilvusUnavailableError, match="cannot reach Milvus") as down:
        open_backend(tmp_path, settings).current_version()
    with pytest.raises(RetrievalError, match="unknown backend") as unknown:
        open_backend(tmp_path, BackendSettings(backend="elastic"))
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if the extra were not installed
    with pytest.raises(RetrievalError, match=r"pip install -e '\.\[milvus\]'") as missing:
        open_backend(tmp_path, BackendSettings(backend="milvus"))
    for error in (bad_uri, down, unknown, missing):
        assert "\n" not in str(error.value)


def test_cli_ingest_and_ask_with_backend_flag(seed_index, seed_engine, tmp_path):
    env = {**os.environ, "QABOT_MILVUS_URI": str(tmp_path / "cli.db")}
    env.pop("QABOT_BACKEND", None)
    index_dir = _with_seed_cache(seed_index, tmp_path / "index")

    def bot(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot", *args, "--index", str(index_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )

    ingest = bot("ingest", "--backend", "milvus", "--corpus", str(shipped_corpus_dir()))
    assert ingest.returncode == 0, ingest.stderr
    assert "Milvus" in ingest.stdout and "embedded 0 chunks" in ingest.stdout
    question = "通武廊签署了什么协议？"
    milvus = bot("ask", "--backend", "milvus", "--json", question)
    assert milvus.returncode == 0, milvus.stderr
    assert json.loads(milvus.stdout) == seed_engine.ask(question, top_k=3).to_json()

    # Milvus Lite writes its index files in place: a kill -9 while it builds them leaves
    # truncated files (seen in the kill -9 test). The next load rebuilds them from the rows.
    damaged = [p for p in (tmp_path / "cli.db").rglob("*") if p.suffix in {".idx", ".sidx"}]
    assert damaged
    for path in damaged:
        path.write_bytes(b"")
    again = bot("ask", "--backend", "milvus", "--json", question)
    assert again.returncode == 0, again.stderr
    assert "rebuilding its indexes" in again.stderr
    assert json.loads(again.stdout) == json.loads(milvus.stdout)


def test_ivf_flat_dense_index_above_the_size_threshold(tmp_path, monkeypatch, embedder):
    from retrieval.backends.milvus import schema

    monkeypatch.setattr(schema, "IVF_FROM", 1)  # as if the corpus had millions of chunks
    monkeypatch.setenv("QABOT_BACKEND", "milvus")
    monkeypatch.setenv("QABOT_MILVUS_URI", str(tmp_path / "ivf.db"))
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, BASE_DOCS)
    _ingest(index_dir, corpus, embedder)
    backend = open_backend(index_dir)
    assert backend.live_manifest().dense_index["index_type"] == "IVF_FLAT"
    engine = AnswerEngine(index_dir, embedder, backend=backend)
    assert engine.ask("京张高铁", top_k=1).results[0].doc_id == "transport.txt"
    dense = AnswerEngine(index_dir, embedder, SearchSettings(dense_weight=1.0), backend=backend)
    assert dense.ask("华北地下水超采治理", top_k=1).results[0].doc_id == "ecology.txt"
