"""Segments: immutable slices of the index, each with its own dense and keyword index.

A version is a list of segments plus the chunk ids deleted from them since
they were written. Changing one document writes one small segment and a new
deletion list; the big segments are shared by every version that names them,
on disk and in a reader's memory. Layout of ``segments/<name>/``::

    meta.json       size, dense index kind, nlist/nprobe
    ids.npy         row -> chunk id (the keyword index's rows)
    dense.faiss     exact inner product (IndexIDMap2 over IndexFlatIP) below
                    ``ann_threshold`` chunks, IVF with SQ8 codes above it
    keywords/       bm25s index, loaded memory-mapped
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.durable import fsync_dir, fsync_files
from retrieval.keywords import KeywordIndex

SEGMENTS = "segments"


@dataclass(frozen=True)
class SegmentSettings:
    """How segments are built (defaults measured in docs/performance.md)."""

    ann_threshold: int = 50_000  # chunks; below it the dense index is exact
    max_chunks: int = 250_000  # a full build splits into segments of at most this size
    nlist_per_sqrt: float = 4.0  # IVF lists = nlist_per_sqrt * sqrt(n)
    nprobe_share: float = 1 / 8  # lists probed per query, as a share of nlist (min 32)
    train_per_list: int = 40  # training sample = train_per_list * nlist vectors (capped at n)


def _dense_index(vectors: np.ndarray, ids: np.ndarray, settings: SegmentSettings) -> tuple:
    """(faiss index, meta) for one segment's vectors."""
    import faiss

    n, dim = vectors.shape
    if n < settings.ann_threshold:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if n:
            index.add_with_ids(vectors, ids)
        return index, {"dense": "flat"}
    nlist = max(1, int(settings.nlist_per_sqrt * math.sqrt(n)))
    nprobe = min(nlist, max(32, int(nlist * settings.nprobe_share)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    rng = np.random.default_rng(0)
    sample = min(n, settings.train_per_list * nlist)
    chosen = np.sort(rng.choice(n, size=sample, replace=False)) if sample < n else slice(None)
    index.train(np.ascontiguousarray(vectors[chosen]))
    index.add_with_ids(vectors, ids)
    index.nprobe = nprobe
    return index, {"dense": "ivf-sq8", "nlist": nlist, "nprobe": nprobe}


def write_segment(
    root: Path,
    name: str,
    ids: np.ndarray,
    vectors: np.ndarray,
    tokens: Iterable[Sequence[str]],
    settings: SegmentSettings,
) -> dict:
    """Write a complete segment folder (atomically renamed into place); returns its meta."""
    import faiss

    ids = np.ascontiguousarray(ids, np.int64)
    vectors = np.ascontiguousarray(vectors, np.float32)
    work = root / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    np.save(work / "ids.npy", ids)
    dense, meta = _dense_index(vectors, ids, settings)
    faiss.write_index(dense, str(work / "dense.faiss"))
    KeywordIndex.build(tokens).save(work / "keywords")
    meta = {"name": name, "size": int(len(ids)), **meta}
    (work / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    fsync_files(work)
    os.replace(work, root / name)
    fsync_dir(root)
    return meta


class Segment:
    """One loaded segment (immutable; shared between versions that name it)."""

    def __init__(self, folder: Path) -> None:
        import faiss

        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.name: str = self.meta["name"]
        self.ids = np.load(folder / "ids.npy", mmap_mode="r")
        self.size = int(self.meta["size"])
        self.dense = faiss.read_index(str(folder / "dense.faiss"))
        self.keywords = KeywordIndex.load(folder / "keywords")

    def search_dense(self, query: np.ndarray, k: int, selector=None):
        """(scores, chunk ids) of the ``k`` nearest chunks that ``selector`` (a FAISS
        IDSelector excluding deleted chunks, or None) lets through."""
        import faiss

        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self.meta["dense"] == "flat":
            params = faiss.SearchParameters(sel=selector) if selector else None
        else:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.meta["nprobe"])
        scores, ids = self.dense.search(query.reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def search_keywords(
        self, tokens: Sequence[str], k: int, idf: dict[str, float], dead_rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` best live chunks with a score above zero."""
        scores, rows = self.keywords.top(tokens, k, idf, dead_rows)
        return scores, np.asarray(self.ids[rows], np.int64)
