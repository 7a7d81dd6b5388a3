"""Do concurrent questions add throughput or fight over the cores? (not a test)

    python -m benchmarks.speed.concurrency [--eval ../shared/eval] [--questions 120]

On the DRCD simplified passages (1,000 documents, ~2,000 chunks: the size of the
issue's CMRC-dev measurement), after a warm-up, one thread at a time:

* encode: the query encoding alone, per question (p50);
* one asker: ``engine.ask`` per question (p50), and its ratio to ``encode``;
* two threads: two threads of one process share the questions; wall time / questions;
* two processes: two processes each ask half the questions at the same time; wall / questions.

It uses only ``AnswerEngine``, ``ingest`` and ``load_embedder``, so it runs against an older
checkout too, for a before/after in one session: from the old checkout's folder, with this
one on the path for the ``benchmarks`` package (``cd /path/to/old/checkout &&
PYTHONPATH=/path/to/this/checkout python -m benchmarks.speed.concurrency``; ``-m`` puts the
current folder first, so the old checkout's ``retrieval`` is the one imported, and the two
asking processes are started the same way). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # this checkout (its shared eval sets lie beside it)
try:  # the threading plan's process defaults (absent in older checkouts)
    from retrieval.threads import set_process_defaults

    set_process_defaults()
except ImportError:
    pass


def _questions(eval_dir: Path, n: int) -> list[str]:
    lines = (eval_dir / "drcd_s2-test" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x)["question"] for x in lines if x.strip()][:n]


def _engine(index_dir: Path, eval_dir: Path):
    from corpus.loading import load_corpus
    from embeddings.model import load_embedder
    from retrieval.engine import AnswerEngine

    try:
        from retrieval.backends.local.ingest import ingest
    except ImportError:  # a checkout from before retrieval/backends/ (8d2bb58)
        from retrieval.ingest import ingest

    embedder = load_embedder()
    if not (index_dir / "CURRENT").exists():
        docs = load_corpus([eval_dir / "drcd_s2-test" / "corpus.jsonl"]).documents
        ingest(index_dir, docs, embedder, progress=False, log=lambda _m: None)
    return AnswerEngine(index_dir, embedder)


def _segmented() -> bool:
    """Whether the imported checkout has the segmented index (absent in older ones)."""
    try:
        import retrieval.backends.local.segments  # noqa: F401 (8d2bb58 and later)

        return True
    except ImportError:
        import retrieval.index

        return hasattr(retrieval.index, "SEGMENTS")


def _ask_all(engine, questions: list[str]) -> list[float]:
    times = []
    for q in questions:
        started = time.perf_counter()
        engine.ask(q, top_k=5)
        times.append(time.perf_counter() - started)
    return times


def worker(args: argparse.Namespace) -> None:
    """One of the two processes: load, wait for the start file, ask, report."""
    engine = _engine(Path(args.index), Path(args.eval))
    questions = _questions(Path(args.eval), args.questions)
    part = questions[args.part :: 2]
    _ask_all(engine, part[:5])  # warm
    Path(args.ready).touch()
    while not Path(args.go).exists():
        time.sleep(0.01)
    started = time.perf_counter()
    _ask_all(engine, part)
    print(json.dumps({"n": len(part), "wall": time.perf_counter() - started}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--eval", default=str(ROOT.parent / "shared" / "eval"))
    p.add_argument("--work", default="/tmp/qabot-concurrency")
    p.add_argument("--questions", type=int, default=120)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--index", help=argparse.SUPPRESS)
    p.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--ready", help=argparse.SUPPRESS)
    p.add_argument("--go", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    new_layout = _segmented()
    index_dir = Path(args.work) / ("index-new" if new_layout else "index-old")
    engine = _engine(index_dir, Path(args.eval))
    questions = _questions(Path(args.eval), args.questions)
    from corpus.normalize import search_key

    _ask_all(engine, questions[:10])  # warm
    encode = []
    for q in questions:
        started = time.perf_counter()
        engine.embedder.encode_queries([search_key(q)])
        encode.append(time.perf_counter() - started)
    alone = _ask_all(engine, questions)

    started = time.perf_counter()
    threads = [threading.Thread(target=_ask_all, args=(engine, questions[i::2])) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two_threads = (time.perf_counter() - started) / len(questions)

    go = Path(args.work) / "go"
    go.unlink(missing_ok=True)
    ready = [Path(args.work) / f"ready-{i}" for i in range(2)]
    for r in ready:
        r.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                __spec__.name,  # this module, from the same folder and path as this process
                "--worker",
                "--index",
                str(index_dir),
                "--eval",
                args.eval,
                "--questions",
                str(args.questions),
                "--part",
                str(i),
                "--ready",
                str(ready[i]),
                "--go",
                str(go),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    while not all(r.exists() for r in ready):
        time.sleep(0.05)
    started = time.perf_counter()
    go.touch()
    outs = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    two_procs = (time.perf_counter() - started) / sum(o["n"] for o in outs)

    ms = lambda xs: round(float(np.percentile(np.array(xs) * 1000, 50)), 1)  # noqa: E731
    one = ms(alone)
    print(
        json.dumps(
            {
                "layout": "segments" if new_layout else "single-version (before)",
                "questions": len(questions),
                "encode_p50_ms": ms(encode),
                "one_asker_p50_ms": one,
                "one_asker_over_encode": round(one / ms(encode), 2),
                "two_threads_ms_per_question": round(two_threads * 1000, 1),
                "two_threads_vs_one": round(two_threads * 1000 / one, 2),
                "two_processes_ms_per_question": round(two_procs * 1000, 1),
                "two_processes_vs_one": round(two_procs * 1000 / one, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
