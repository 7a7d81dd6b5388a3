"""Ingest time, one-document update and warm query latency of each backend on one corpus.

    python -m benchmarks.speed.backend_speed --corpus ../shared/eval/drcd_s2-test/corpus.jsonl \
        --queries ../shared/eval/drcd-test/queries.jsonl --cache /tmp/milvus-eval/drcd/cache.sqlite

Backends: ``local`` (index folder), ``milvus-file`` (embedded Milvus Lite) and
``milvus-server`` (``milvus-lite server`` on 127.0.0.1, started here). Every backend gets a
fresh index folder holding a copy of ``--cache`` (an embedding cache that already holds the
corpus), so the ingest figures are the backend's own cost: chunking, tokenising, writing.
Embedding is the same for all (the cache is shared) and is reported apart by the ingest.
Prints one JSON line per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from corpus.loading import load_corpus
from corpus.normalize import search_key
from qabot_settings import BackendSettings
from retrieval.backends import open_backend
from retrieval.engine import AnswerEngine, shared_embedder
from retrieval.evaluation import read_queries
from retrieval.ingest.embedding_cache import CACHE
from retrieval.tokens import tokenize


def copy_cache(source: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(folder / CACHE)
    src.backup(dst)
    dst.close()
    src.close()


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(data),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("milvus-lite server did not start")


def measure(name: str, settings: BackendSettings, args, documents, questions, work: Path) -> dict:
    folder = work / name
    copy_cache(args.cache, folder)
    backend = open_backend(folder, settings)
    embedder = shared_embedder()
    quiet = {"progress": False, "log": lambda _m: None}
    started = time.perf_counter()
    first = backend.ingest(documents, embedder, **quiet)
    ingest_s = time.perf_counter() - started

    changed = list(documents)
    doc = changed[len(changed) // 2]
    changed[len(changed) // 2] = replace(doc, text=doc.text + "\n本段为更新测试新增的一句话。")
    started = time.perf_counter()
    update = backend.ingest(changed, embedder, **quiet)
    update_s = time.perf_counter() - started

    engine = AnswerEngine(folder, embedder, backend=backend)
    for q in questions[:10]:
        engine.ask(q, top_k=5)  # warm: caches, connections
    asked, search_ms = [], []
    for q in questions[10 : 10 + args.questions]:
        t0 = time.perf_counter()
        engine.ask(q, top_k=5)
        asked.append((time.perf_counter() - t0) * 1000)
        key = search_key(q)
        vector = embedder.encode_queries([key])[0]
        t0 = time.perf_counter()
        engine.index.dense_candidates(vector, 100)
        engine.index.keyword_candidates(tokenize(key), 100)
        search_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "backend": name,
        "chunks": first.chunks,
        "documents": len(documents),
        "ingest_s": round(ingest_s, 2),
        "embedded": first.embedded,
        "update_s": round(update_s, 2),
        "update_embedded": update.embedded,
        "update_plan": update.plan.summary(),
        "ask_p50_ms": round(float(np.percentile(asked, 50)), 1),
        "ask_p95_ms": round(float(np.percentile(asked, 95)), 1),
        "candidates_p50_ms": round(float(np.percentile(search_ms, 50)), 1),
        "questions": len(asked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="an embedding cache to copy")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--backends", default="local,milvus-file,milvus-server")
    args = parser.parse_args()
    documents = load_corpus([args.corpus]).documents
    questions = [q.question for q in read_queries(args.queries) if q.question.strip()]
    work = Path(tempfile.mkdtemp(prefix="backend-speed-"))
    server = None
    try:
        for name in args.backends.split(","):
            if name == "local":
                settings = BackendSettings(backend="local")
            elif name == "milvus-file":
                settings = BackendSettings(backend="milvus", milvus_uri=str(work / "m.db"))
            else:
                server, uri = start_server(work / "server-data")
                settings = BackendSettings(backend="milvus", milvus_uri=uri)
            row = measure(name, settings, args, documents, questions, work)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if os.environ.get("KEEP") is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
