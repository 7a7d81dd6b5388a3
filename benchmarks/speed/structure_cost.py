"""What finding heading paths and articles costs while chunking, and what it finds.

    python -m benchmarks.speed.structure_cost [--corpus PATH …] [--rounds 3]

Chunks every document of the given corpora (default: the shipped corpus, the synthetic
regulation in tests/data/regulation and, when present, ../shared/eval/drcd_s2-test's
whole articles) ``rounds`` times and prints the best time of chunking with structure
(``chunk_document``, what ingest runs) and of the structure pass alone
(``corpus.structure.positions`` at the chunk starts), their ratio, and how many chunks got
a heading path or an article and how many documents a number or an issuer.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from corpus.chunking import chunk_document
from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.structure import document_info, positions

ROOT = Path(__file__).resolve().parents[2]  # the repository
DEFAULTS = [
    shipped_corpus_dir(),
    ROOT / "tests" / "data" / "regulation",
    ROOT.parent / "shared" / "eval" / "drcd_s2-test" / "articles.jsonl",
]


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = args.corpus or [p for p in DEFAULTS if p.exists()]
    docs = load_corpus(paths).documents
    chunks = [chunk_document(d) for d in docs]
    starts = [[c.start for c in cs] for cs in chunks]
    total = best(lambda: [chunk_document(d) for d in docs], args.rounds)
    structure = best(
        lambda: [positions(d.text, s) for d, s in zip(docs, starts, strict=True)], args.rounds
    )
    info = best(lambda: [document_info(d.text, d.title) for d in docs], args.rounds)
    flat = [c for cs in chunks for c in cs]
    infos = [document_info(d.text, d.title) for d in docs]
    print(
        json.dumps(
            {
                "corpora": [str(p) for p in paths],
                "documents": len(docs),
                "characters": sum(len(d.text) for d in docs),
                "chunks": len(flat),
                "chunking_with_structure_s": round(total, 3),
                "structure_only_s": round(structure, 3),
                "structure_share": round(structure / total, 3),
                "document_info_s": round(info, 3),
                "chunks_with_section": sum(c.section is not None for c in flat),
                "chunks_with_article": sum(c.article is not None for c in flat),
                "documents_with_number": sum(i.doc_number is not None for i in infos),
                "documents_with_issuer": sum(i.issuer is not None for i in infos),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
