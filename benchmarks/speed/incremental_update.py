"""Time to update the index after one document changes, against a full rebuild.

    python -m benchmarks.speed.incremental_update [--eval-dir ../shared/eval]

The corpus is every passage of the shared CMRC and DRCD sets as its own document
(about 2,000). The model is loaded once, outside the timings.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from corpus.loading import load_corpus
from retrieval.backends.local.ingest import ingest
from retrieval.engine import shared_embedder

SETS = ("cmrc2018-trial", "drcd_s2-test", "drcd-test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    args = parser.parse_args()
    embedder = shared_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        corpus.mkdir()
        records = []
        for name in SETS:
            for line in (args.eval_dir / name / "corpus.jsonl").read_text("utf-8").splitlines():
                record = json.loads(line)
                record["doc_id"] = f"{name}/{record['doc_id']}"
                records.append(record)
        path = corpus / "passages.jsonl"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")

        def timed(label: str) -> float:
            documents = load_corpus([corpus]).documents
            started = time.perf_counter()
            result = ingest(index_dir, documents, embedder, progress=False, log=lambda _m: None)
            seconds = time.perf_counter() - started
            print(f"{label:32} {seconds:7.1f} s  ({result.summary()}, {result.chunks} chunks)")
            return seconds

        full = timed(f"full build, {len(records)} documents")
        records[0]["text"] += "（本段为基准测试追加的一句话。）"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
        one = timed("after changing one document")
        unchanged = timed("nothing changed")
        print(
            f"update after one change is {full / one:.0f}× faster than a full build "
            f"(no-op ingest: {unchanged:.1f} s)"
        )


if __name__ == "__main__":
    main()
