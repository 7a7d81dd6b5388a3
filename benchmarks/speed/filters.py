"""Filters' cost (issue 26): a filtered question against the same question unfiltered.

    python -m benchmarks.speed.filters [--chunks 100000] [--questions 100] [--eval ../shared/eval]

Target: a question under filters costs no more than 1.2x the same question unfiltered, at
100k chunks.

The index is built once and kept in ``--work`` (default /tmp/qabot-filters): the real
passages of cmrc2018-trial and drcd_s2-test plus synthetic documents recombining their
sentences (benchmarks/speed/scale_corpus.py), up to N chunks. Every document is given an
issuer and a date so that the filters select about 50 % (region 国家; since 2018), 30 %
(since 2021), 10 % (region 上海) and 1 % (region 天津) of the documents. Embedding 100k
chunks on 2 cores would take most of an hour, so the ingest is given **random unit
vectors** (seeded by each chunk's text) under the real model's identity: the dense
search's cost does not depend on what the vectors mean, only on their number and kind
(above 50k chunks: 4-bit PQ fast scan, rescored with 8-bit codes). Everything else is the
product's own code: ``ingest`` (chunking, tokenising, store, segments, metadata) and, for
questions, the real query encoder.

Measured in one process, one thread (as a serving process), the configurations taken in
turn for each question so that drift on the machine falls on all of them alike:

- **search**: ``search_with_signals`` (dense and BM25 candidates side by side, fusion,
  rows, merging) on the version or on ``version.restricted(filters)``, the question's
  vector and tokens computed beforehand: the part filters change;
- **ask**: the whole ``AnswerEngine.ask(question, filters=...)`` (encoding, search,
  documents, confidence, marking);
- **dense / BM25**: each of the two candidate searches alone (100 candidates);
- **first use**: ``restricted(filters)`` on a freshly loaded version (the first filter
  reads each row's doc_key from the store, every filter builds its row masks), then the
  view's first dense search (a filter leaving at most a quarter of a PQ segment's rows
  builds its own 4-bit scan of them then).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np

from retrieval.threads import set_process_defaults

ROOT = Path(__file__).resolve().parents[2]
set_process_defaults()

LAYOUT = 1  # bump when the corpus below changes: a kept index of another layout is rebuilt

ISSUERS = (  # (share of documents, issuer)
    (0.50, "国务院"),
    (0.10, "上海市人民政府"),
    (0.01, "天津市人民政府"),
    (0.10, "浙江省人民政府"),
    (0.10, "河南省人民政府"),
    (0.10, "广东省人民政府"),
    (0.09, "江苏省人民政府"),
)

FILTERS = {  # label -> Filters.of keyword arguments
    "国家 (~50 %)": {"region": "国家"},
    "2018 起 (~50 %)": {"since": "2018"},
    "2021 起 (~30 %)": {"since": "2021"},
    "上海 (~10 %)": {"region": "上海"},
    "天津 (~1 %)": {"region": "天津"},
}


class RandomVectors:
    """An embedder for the ingest only: a random unit vector per text (seeded by the text),
    under the identity of the real model so that the real query encoder can search them."""

    def __init__(self, identity) -> None:
        self.identity = identity

    @property
    def dimension(self) -> int:
        return self.identity.dimension

    def encode_documents(self, texts, progress: bool = False, **_kw) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dimension)
            out[i] = v / np.linalg.norm(v)
        return out


def corpus(eval_dir: Path, chunks: int):
    """Real and synthetic documents, each with an issuer and a date from :data:`ISSUERS`."""
    from benchmarks.speed.scale_corpus import real_documents, real_sentences, synthetic_corpus

    real = real_documents(eval_dir)
    sentences = sorted(real_sentences(real))
    synthetic, _ = synthetic_corpus(
        sentences, lambda _text, _rng: None, max(0, chunks - 2 * len(real)), seed=0
    )
    rng = random.Random(26)
    cuts = np.cumsum([share for share, _ in ISSUERS])
    out = []
    for doc in [*real, *synthetic]:
        issuer = ISSUERS[int(np.searchsorted(cuts, rng.random() * cuts[-1]))][1]
        date = f"20{rng.randint(10, 25):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.append(dataclasses.replace(doc, issuer=issuer, date=date))
    return out


def build(index_dir: Path, eval_dir: Path, chunks: int, identity) -> None:
    """The index at ``index_dir`` (kept: built only when missing or of another layout)."""
    import shutil

    from retrieval.backends import open_backend

    stamp = index_dir / "filters-benchmark.json"
    want = {"layout": LAYOUT, "chunks": chunks, "model": identity.fingerprint}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    documents = corpus(eval_dir, chunks)
    print(f"building {index_dir}: {len(documents):,} documents …", flush=True)
    started = time.perf_counter()
    result = open_backend(index_dir).ingest(documents, RandomVectors(identity), progress=False)
    print(f"  {result.chunks:,} chunks in {time.perf_counter() - started:.0f} s", flush=True)
    stamp.write_text(json.dumps(want))


def _ms(values: list[float]) -> tuple[float, float]:
    ms = np.array(values) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=100, help="per shared set (two sets)")
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qabot-filters"))
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the questions")
    parser.add_argument(
        "--narrow",
        type=int,
        default=None,
        help="segments.NARROW for this run (0: no filter gets its own 4-bit scan, as before)",
    )
    args = parser.parse_args()
    if args.narrow is not None:
        from retrieval.backends.local import segments

        segments.NARROW = args.narrow

    from benchmarks.speed.scale_corpus import questions
    from corpus.normalize import search_key
    from retrieval import threads
    from retrieval.engine import AnswerEngine, model_info, shared_embedder
    from retrieval.filters import Filters
    from retrieval.query.search import search_with_signals
    from retrieval.tokens import tokenize

    embedder = shared_embedder()
    index_dir = args.work / f"index-{args.chunks}"
    build(index_dir, args.eval, args.chunks, embedder.identity)

    engine = AnswerEngine.open(index_dir, embedder)
    threads.for_serving()
    version = engine.index
    filters = {label: Filters.of(**kw) for label, kw in FILTERS.items()}

    # first use of each filter, on a freshly loaded version (row keys, then masks)
    fresh = engine.backend.load(model_info(embedder.identity))
    first: dict[str, float] = {}
    metas = fresh.document_meta()
    share: dict[str, tuple[float, float]] = {}
    probe = embedder.encode_queries([search_key("政府工作报告")])[0]
    for label, f in filters.items():
        started = time.perf_counter()
        view = fresh.restricted(f)
        masks = time.perf_counter() - started
        view.dense_candidates(probe, engine.settings.candidates)  # builds a narrow scan
        first[label] = (masks, time.perf_counter() - started - masks)
        docs = len(f.select(metas)) / len(metas)
        share[label] = (docs, view.chunks_allowed / version.size)
    del fresh

    rows = questions(args.eval, args.questions)
    keys = [search_key(r["question"]) for r in rows]
    prepared = [(tokenize(k), embedder.encode_queries([k])[0]) for k in keys]
    depth = max(10, 5)  # the engine's MIN_DEPTH for top_k 5
    views = {"unfiltered": version, **{lb: version.restricted(f) for lb, f in filters.items()}}
    configs = list(views)

    def search(label: str, i: int) -> None:
        tokens, vector = prepared[i]
        search_with_signals(views[label], vector, tokens, depth, engine.settings)

    def ask(label: str, i: int) -> None:
        engine.ask(rows[i]["question"], filters=filters.get(label))

    def dense(label: str, i: int) -> None:
        views[label].dense_candidates(prepared[i][1], engine.settings.candidates)

    def keywords(label: str, i: int) -> None:
        views[label].keyword_candidates(prepared[i][0], engine.settings.candidates)

    modes = (("search", search), ("ask", ask), ("dense", dense), ("BM25", keywords))
    timings: dict[str, dict[str, list[float]]] = {mode: {} for mode, _ in modes}
    for mode, work in modes:
        for i in range(len(rows)):  # warm-up pass (pages of the memory-mapped postings)
            for label in configs:
                work(label, i)
        for _ in range(args.rounds):
            for i in range(len(rows)):
                order = configs[i % len(configs) :] + configs[: i % len(configs)]
                for label in order:
                    started = time.perf_counter()
                    work(label, i)
                    elapsed = time.perf_counter() - started
                    timings[mode].setdefault(label, []).append(elapsed)

    print(
        f"\n{version.size:,} chunks, {len(version.segments)} segment(s) "
        f"({', '.join(s.meta['dense'] for s in version.segments)}), "
        f"{len(rows)} questions x {args.rounds} rounds, one thread\n"
    )
    head = (
        "| filter | documents / chunks kept | search p50 / p95 ms | ratio p50 / p95 "
        "| ask p50 / p95 ms | ratio p50 / p95 | dense / BM25 p50 ms | first use ms: masks / dense |"
    )
    print(head)
    print("|" + "---|" * 8)
    base = {mode: _ms(timings[mode]["unfiltered"]) for mode in timings}
    per_question = {}
    for label in configs:
        cells = [label]
        cells.append(
            "100 % / 100 %"
            if label == "unfiltered"
            else f"{share[label][0]:.1%} / {share[label][1]:.1%}"
        )
        for mode in ("search", "ask"):
            p50, p95 = _ms(timings[mode][label])
            cells.append(f"{p50:.1f} / {p95:.1f}")
            cells.append(f"{p50 / base[mode][0]:.2f}x / {p95 / base[mode][1]:.2f}x")
        parts = [_ms(timings[mode][label])[0] for mode in ("dense", "BM25")]
        cells.append(" / ".join(f"{p:.2f}" for p in parts))
        once = first.get(label)
        cells.append(f"{once[0] * 1000:.0f} / {once[1] * 1000:.0f}" if once else "–")
        print("| " + " | ".join(cells) + " |")
        ratios = np.array(timings["search"][label]) / np.array(timings["search"]["unfiltered"])
        per_question[label] = float(statistics.median(ratios))
    print(
        "\nmedian per-question search ratio: "
        + ", ".join(f"{k} {v:.2f}x" for k, v in per_question.items() if k != "unfiltered")
    )
    print(
        "first use, on a fresh version: restricted(filters) (the first one also reads the row"
        " keys), then its first dense search (a narrow filter's own 4-bit scan is built then)"
    )


if __name__ == "__main__":
    main()
