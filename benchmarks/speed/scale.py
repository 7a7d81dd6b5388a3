"""Scale benchmark: the product's ingest, index and search at N chunks (not a test).

    python -m benchmarks.speed.scale --chunks 10000 [--chunks 100000 ...] [--eval ../shared/eval]

The corpus is the real passages of cmrc2018-trial and drcd_s2-test (so their
questions have gold answers inside the big corpus) plus synthetic policy-like
documents that recombine those passages' sentences at random, up to N chunks.

Embedding a million chunks on 2 cores would take about five hours, so the
embedding cache is filled before the ingest: real chunks get real e5 vectors
(encoded once by the model and kept in the work folder); a synthetic chunk
gets the normalised mean of the real e5 vectors of the sentences it is made of
(``--derive sentences``, the default; each distinct sentence is encoded once as a
passage), or of the real chunks its sentences come from (``--derive passages``,
the cruder method used before 2026-11-23). ``--fidelity K`` encodes K synthetic
chunks for real and prints how close each derivation comes to the true vector.
Everything after that is the product's own code path, unchanged:
``retrieval.backends.local.ingest.ingest`` (chunking, tokenising, store, segments, versions),
``AnswerEngine`` (load, search, marking, confidence), and a one-document update.

Prints, per N: ingest time without embedding, index size on disk, peak RSS of
a serving process, cold start to first answer, warm p50/p95 per question (one
thread), ANN recall@10 against exact search, Recall@1 of CMRC trial and DRCD
questions inside the big corpus, and the time and bytes written to change one
document.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.speed.scale_corpus import (
    Derivation,
    questions,
    real_documents,
    real_sentences,
    real_vectors,
    sentence_vectors,
    synthetic_corpus,
)
from retrieval.threads import set_process_defaults

ROOT = Path(__file__).resolve().parents[2]  # the repository
set_process_defaults()


def _wchar() -> int:
    """Bytes this process has passed to write() so far (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def _peak_rss_mb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not count the parent's
    pages at fork time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def fidelity(sentences, derivations: dict[str, Derivation], embedder, k: int) -> dict:
    """Cosine between the true vector of k synthetic chunks and each derivation of it."""
    from corpus.chunking import chunk_document
    from corpus.normalize import search_key

    docs, _ = synthetic_corpus(sentences, next(iter(derivations.values())), k, seed=12345)
    texts = [c.text for d in docs for c in chunk_document(d)][:k]
    true = embedder.encode_documents([search_key(t) for t in texts], progress=True)
    out = {}
    for name, derive in derivations.items():
        rng = random.Random(0)
        cos = np.array([float(derive(t, rng) @ v) for t, v in zip(texts, true, strict=True)])
        out[name] = {
            "mean": round(float(cos.mean()), 4),
            "p5": round(float(np.percentile(cos, 5)), 4),
        }
    return {"chunks": len(texts), "cosine_to_true_vector": out}


def fill_cache(index_dir: Path, embedder, vectors: dict[str, np.ndarray]) -> None:
    from retrieval.ingest.embedding_cache import CACHE, EmbeddingCache

    index_dir.mkdir(parents=True, exist_ok=True)
    with EmbeddingCache(index_dir / CACHE) as cache:
        hashes = list(vectors)
        model = embedder.identity.fingerprint
        for i in range(0, len(hashes), 20_000):
            part = hashes[i : i + 20_000]
            cache.put_vectors(model, part, np.stack([vectors[h] for h in part]))


def serve(args: argparse.Namespace) -> None:
    """The serving process: cold start to first answer, then warm questions, then peak RSS."""
    from retrieval.engine import AnswerEngine

    rows = [json.loads(x) for x in Path(args.questions).read_text(encoding="utf-8").splitlines()]
    engine = AnswerEngine.open(Path(args.index))
    first = engine.ask(rows[0]["question"], top_k=1)
    cold = time.time() - args.t0
    del first
    times, hits = [], {}
    for row in rows:
        started = time.perf_counter()
        answer = engine.ask(row["question"], top_k=1)
        times.append(time.perf_counter() - started)
        top = answer.results[0].doc_id if answer.results else None
        hits.setdefault(row["set"], []).append(top == row["doc_id"])
    ms = np.array(times) * 1000
    print(
        json.dumps(
            {
                "cold_start_s": round(cold, 2),
                "p50_ms": round(float(np.percentile(ms, 50)), 1),
                "p95_ms": round(float(np.percentile(ms, 95)), 1),
                "recall_at_1": {k: round(float(np.mean(v)), 4) for k, v in hits.items()},
                "questions": {k: len(v) for k, v in hits.items()},
                "peak_rss_mb": _peak_rss_mb(),
            }
        ),
        flush=True,
    )


def ann_recall(index_dir: Path, embedder, rows: list[dict], k: int = 10) -> dict | None:
    """Recall@k of the version's dense search against exact search over every live vector,
    at the chosen setting and a sweep of others (with ms per query, one thread)."""
    import faiss

    from corpus.normalize import search_key
    from retrieval import threads
    from retrieval.backends.local.folder import load_version
    from retrieval.backends.local.store import StoreWriter
    from retrieval.ingest.embedding_cache import CACHE, EmbeddingCache

    index = load_version(index_dir)
    ann = [s for s in index.segments if s.meta["dense"] != "flat"]
    if not ann:
        return None  # exact already
    ids = np.concatenate([np.asarray(s.ids) for s in index.segments])
    ids = ids[~np.isin(ids, index.deleted)]
    writer = StoreWriter(index_dir / "store.sqlite")
    hashes = writer.chunk_hashes(ids.tolist())
    writer.close()
    with EmbeddingCache(index_dir / CACHE) as cache:
        vectors = cache.vectors(embedder.identity.fingerprint, hashes, embedder.dimension)
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dimension))
    exact.add_with_ids(vectors, ids.astype(np.int64))
    del vectors
    queries = embedder.encode_queries([search_key(r["question"]) for r in rows])
    _, truth = exact.search(queries, k)
    threads.for_serving()  # one thread for FAISS and numpy's BLAS, as a serving process
    # the knob of each kind: rows rescored (4-bit PQ scan) or lists probed (IVF, older)
    knob = "rescore" if ann[0].meta["dense"] == "pq4fs-sq8" else "nprobe"
    chosen = {s.name: s.meta[knob] for s in ann}
    out = {"dense": ann[0].meta["dense"], knob: list(chosen.values()), "sweep": {}}
    if knob == "nprobe":
        out["nlist"] = [s.meta["nlist"] for s in ann]
        sweep = {f"nlist/{d}": lambda s, d=d: max(1, s.meta["nlist"] // d) for d in (16, 8, 4, 2)}
    else:
        sweep = {f"rescore {r}": lambda s, r=r: r for r in (1000, 3000, 10000)}
    for label, value in (("chosen", None), *sweep.items()):
        for s in ann:
            s.meta[knob] = chosen[s.name] if value is None else value(s)
        found, started = 0, time.perf_counter()
        for q, want in zip(queries, truth, strict=True):
            _, got = index.dense_candidates(q, k)
            found += len(set(got.tolist()) & set(want.tolist()))
        ms = (time.perf_counter() - started) / len(rows) * 1000
        figures = {"recall_at_10": round(found / (k * len(rows)), 4), "ms": round(ms, 2)}
        if value is None:
            out.update(figures)
        else:
            out["sweep"][label] = figures
    return out


def run(n: int, args: argparse.Namespace, embedder, real, vectors, sentences, derive) -> dict:
    from corpus.document import Document
    from retrieval.backends.local.ingest import ingest
    from retrieval.engine import AnswerEngine

    work = Path(args.work)
    index_dir = work / f"index-{n}"
    shutil.rmtree(index_dir, ignore_errors=True)
    real_chunks = len(vectors)
    started = time.perf_counter()
    synthetic, derived = synthetic_corpus(sentences, derive, max(0, n - real_chunks))
    fill_cache(index_dir, embedder, {**vectors, **derived})
    del derived
    documents = real + synthetic
    print(
        f"[{n:,}] {len(documents):,} documents prepared and cache filled in "
        f"{time.perf_counter() - started:.0f} s (not part of the ingest figures)",
        flush=True,
    )

    wrote = _wchar()
    started = time.perf_counter()
    result = ingest(index_dir, documents, embedder, progress=args.progress, corpus=[])
    ingest_s = time.perf_counter() - started
    full_bytes = _wchar() - wrote
    assert result.embedded == 0, "the cache was meant to hold every vector"
    sizes = {
        "segments": _du(index_dir / "segments"),
        "store": _du(index_dir / "store.sqlite"),
        "versions": _du(index_dir / "versions"),
        "cache": _du(index_dir / "cache.sqlite"),
    }
    index_bytes = sizes["segments"] + sizes["store"] + sizes["versions"]

    rows = questions(Path(args.eval), args.questions)
    qfile = work / "questions.jsonl"
    qfile.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    t0 = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            __spec__.name,  # this module, as it was started (python -m, same folder)
            "serve",
            "--index",
            str(index_dir),
            "--questions",
            str(qfile),
            "--t0",
            str(t0),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    recall = ann_recall(index_dir, embedder, rows[: args.ann_questions])

    engine = AnswerEngine(index_dir, embedder)  # a reader, to time the switch to the update
    victim = real[0]
    changed = Document(
        victim.doc_id,
        victim.title,
        victim.text + "本段为基准测试追加的一句。",
        victim.source,
        victim.date,
        victim.url,
    )
    documents[0] = changed
    wrote = _wchar()
    started = time.perf_counter()
    update = ingest(index_dir, documents, embedder, progress=False, corpus=[])
    update_s = time.perf_counter() - started
    update_bytes = _wchar() - wrote
    started = time.perf_counter()
    switched = engine.refresh()
    reload_s = time.perf_counter() - started
    return {
        "chunks": result.chunks,
        "documents": len(documents),
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(result.chunks / ingest_s),
        "ingest_bytes_written": full_bytes,
        "index_bytes": index_bytes,
        "sizes": sizes,
        "segments": [
            s["dense"] + f":{s['size']}"
            for s in json.loads(
                (index_dir / "versions" / update.version / "manifest.json").read_text(
                    encoding="utf-8"
                )
            )["segments"]
        ],
        **served,
        "ann": recall,
        "update": {
            "plan": update.plan.summary(),
            "embedded": update.embedded,
            "seconds": round(update_s, 2),
            "bytes_written": update_bytes,
            "share_of_index": round(update_bytes / index_bytes, 4),
            "reader_switched": switched,
            "reader_switch_s": round(reload_s, 2),
        },
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        p = argparse.ArgumentParser()
        p.add_argument("serve")
        p.add_argument("--index", required=True)
        p.add_argument("--questions", required=True)
        p.add_argument("--t0", type=float, required=True)
        serve(p.parse_args())
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, action="append", required=True, help="N (repeatable)")
    p.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"), help="shared eval dir")
    p.add_argument("--work", default="/tmp/qabot-scale", help="work folder (indexes, vectors)")
    p.add_argument("--questions", type=int, default=300, help="questions per set")
    p.add_argument("--ann-questions", type=int, default=200, help="questions for ANN recall")
    p.add_argument("--progress", action="store_true", help="show ingest progress bars")
    p.add_argument("--keep", action="store_true", help="keep the indexes afterwards")
    p.add_argument(
        "--derive",
        choices=("sentences", "passages"),
        default="sentences",
        help="a synthetic chunk's vector: mean of its sentences' or of their passages' vectors",
    )
    p.add_argument(
        "--fidelity", type=int, default=0, metavar="K", help="encode K synthetic chunks for real"
    )
    args = p.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)

    from embeddings.model import load_embedder

    embedder = load_embedder()
    real = real_documents(Path(args.eval))
    vectors = real_vectors(Path(args.work), real, embedder)
    source = real_sentences(real)
    sentences = list(source)  # first-seen order: the corpus the earlier runs measured
    by_sentence = sentence_vectors(Path(args.work), sentences, embedder)
    derivations = {
        "sentences": Derivation(source, vectors, by_sentence),
        "passages": Derivation(source, vectors),
    }
    if args.fidelity:
        print(json.dumps({"fidelity": fidelity(sentences, derivations, embedder, args.fidelity)}))
    for n in args.chunks:
        figures = run(n, args, embedder, real, vectors, sentences, derivations[args.derive])
        print(json.dumps({"N": n, **figures}, ensure_ascii=False), flush=True)
        if not args.keep:
            shutil.rmtree(Path(args.work) / f"index-{n}", ignore_errors=True)


if __name__ == "__main__":
    main()
