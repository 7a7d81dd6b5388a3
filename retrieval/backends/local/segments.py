"""Segments: immutable slices of the index, each with its own dense and keyword index.

A version is a list of segments plus the chunk ids deleted from them since
they were written. Changing one document writes one small segment and a new
deletion list; the big segments are shared by every version that names them,
on disk and in a reader's memory. Layout of ``segments/<name>/``::

    meta.json       size, dense index kind and its search parameters
    ids.npy         row -> chunk id (the keyword index's rows)
    dense.faiss     exact inner product (IndexIDMap2 over IndexFlatIP) below
                    ``ann_threshold`` chunks; above it, 4-bit PQ fast-scan codes
                    whose best ``rescore`` rows are rescored with 8-bit codes
                    (IndexRefine(IndexPQFastScan, IndexScalarQuantizer), by row)
    keywords/       bm25s index, loaded memory-mapped

``meta.json`` (and the manifest of every version naming the segment) records each file's
size and CRC-32: loading compares the sizes (a stat per file), ``python -m bot check``
the checksums too. Segments written before the record are checked for presence only.

Segments written before the PQ kind existed hold IVF with SQ8 codes
(``ivf-sq8``); they are still read and searched as they were written.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.backends.local.bm25 import KeywordIndex, sorted_positions
from retrieval.backends.local.durable import fsync_dir, fsync_files

SEGMENTS = "segments"
NARROW = 4  # a filter leaving at most 1/NARROW of a PQ segment's rows gets its own scan (0: none)


@dataclass(frozen=True)
class SegmentSettings:
    """How segments are built (defaults measured in docs/performance.md)."""

    ann_threshold: int = 50_000  # chunks; below it the dense index is exact
    max_chunks: int = 250_000  # a full build splits into segments of at most this size
    rescore: int = 3_000  # rows of the 4-bit scan rescored with 8-bit codes per question
    train_sample: int = 65_536  # vectors the codebooks are trained on (capped at n)


def _dense_index(vectors: np.ndarray, ids: np.ndarray, settings: SegmentSettings) -> tuple:
    """(faiss index, meta) for one segment's vectors.

    Above the threshold: every row gets 4-bit product-quantizer codes (two
    dimensions per sub-quantizer) scanned by FAISS's SIMD fast-scan kernels, and
    8-bit scalar codes for rescoring the scan's best rows. IVF was the first
    choice; on crowded vectors it needed half its lists probed for recall@10
    0.95 (docs/performance.md), where this reaches it at the same cost as IVF
    probing an eighth."""
    import faiss

    n, dim = vectors.shape
    if n < settings.ann_threshold or dim % 2:  # (an odd dimension cannot pair; no e5 has one)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if n:
            index.add_with_ids(vectors, ids)
        return index, {"dense": "flat"}
    ip = faiss.METRIC_INNER_PRODUCT
    index = faiss.IndexRefine(
        faiss.IndexPQFastScan(dim, dim // 2, 4, ip),
        faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, ip),
    )
    sample = min(n, settings.train_sample)
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(n, size=sample, replace=False)) if sample < n else slice(None)
    index.train(np.ascontiguousarray(vectors[chosen]))
    index.add(vectors)  # by row: ids.npy maps rows to chunk ids
    return index, {"dense": "pq4fs-sq8", "rescore": settings.rescore}


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
    meta = {"name": name, "size": int(len(ids)), **meta, "files": file_record(work)}
    (work / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    fsync_files(work)
    os.replace(work, root / name)
    fsync_dir(root)
    return meta


def file_record(folder: Path) -> dict[str, list[int]]:
    """{relative path: [size, CRC-32]} of every file below ``folder``."""
    return {
        path.relative_to(folder).as_posix(): [path.stat().st_size, crc32_of(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def crc32_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


_REQUIRED = ("meta.json", "ids.npy", "dense.faiss")  # what a segment without a record needs


def segment_problem(root: Path, meta: dict, checksums: bool = False) -> str | None:
    """What is wrong with the files of segment ``meta`` under ``root`` (sizes, and with
    ``checksums`` their CRC-32, against the record), or None if nothing is."""
    folder = root / meta["name"]
    try:
        own = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if own.get("name") != meta["name"]:
            return "meta.json names another segment"
    except OSError:
        return "meta.json missing"
    except (ValueError, AttributeError):
        return "meta.json is damaged"
    record = meta.get("files")
    if not record:
        missing = [name for name in _REQUIRED if not (folder / name).is_file()]
        return f"{', '.join(missing)} missing" if missing else None
    for name, (size, crc) in record.items():
        path = folder / name
        try:
            actual = path.stat().st_size
        except OSError:
            return f"{name} missing"
        if actual != size:
            return f"{name} is {actual:,} bytes, {size:,} when written"
        if checksums and crc32_of(path) != crc:
            return f"{name} changed since it was written (checksum differs)"
    return None


@dataclass
class RowFilter:
    """The rows of one segment a filtered search may return (issue 26): ``mask`` (one
    boolean per row, deleted rows False), ``rows`` (its True positions) and, built on first
    use, the FAISS selector of their chunk ids."""

    mask: np.ndarray
    rows: np.ndarray
    selector: object | None = None
    bitmap: np.ndarray | None = None  # kept alive while the selector points into it
    scan: object | None = None  # the PQ kind's 4-bit scan over these rows only (see _scan_of)


class Segment:
    """One loaded segment (immutable; shared between versions that name it)."""

    def __init__(self, folder: Path, meta: dict | None = None) -> None:
        """Load ``folder``; ``meta`` as the manifest records it (else its meta.json)."""
        import faiss

        self.folder = folder
        self.meta = meta or json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.name: str = self.meta["name"]
        self.ids = np.load(folder / "ids.npy", mmap_mode="r")
        self.size = int(self.meta["size"])
        self.dense = faiss.read_index(str(folder / "dense.faiss"))
        if self.meta["dense"] == "pq4fs-sq8":
            self._scan = faiss.downcast_index(self.dense.base_index)
            self._rescorer = faiss.downcast_index(self.dense.refine_index)
            codes = self._rescorer.codes
            self._codes = faiss.rev_swig_ptr(codes.data(), codes.size()).reshape(self.size, -1)
        self.keywords = KeywordIndex.load(folder / "keywords")
        self._ids_sorted: bool | None = None

    def search_dense(
        self,
        query: np.ndarray,
        k: int,
        selector=None,
        dead_rows: np.ndarray | None = None,
        allowed: RowFilter | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest live chunks, best first.

        ``selector`` (a FAISS IDSelector excluding deleted chunk ids) and
        ``dead_rows`` (their rows, sorted) name the same deletions: the first is
        what flat and IVF indexes take, the second what the PQ kind filters by.
        ``allowed`` (a filter) replaces both: only its rows."""
        import faiss

        k = min(k, self.size if allowed is None else len(allowed.rows))
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self.meta["dense"] == "pq4fs-sq8":
            return self._rescored(query, k, dead_rows, allowed)
        if allowed is not None:
            selector = self._selector(allowed)
        if self.meta["dense"] == "flat":
            params = faiss.SearchParameters(sel=selector) if selector else None
        else:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.meta["nprobe"])
        scores, ids = self.dense.search(query.reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _selector(self, allowed: RowFilter):
        """A FAISS selector of the chunk ids of ``allowed``'s rows (a bitmap over ids)."""
        import faiss

        if allowed.selector is None:
            ids = np.asarray(self.ids[allowed.rows], np.int64)
            bits = np.zeros(int(ids.max()) + 1 if len(ids) else 1, bool)
            bits[ids] = True
            allowed.bitmap = np.packbits(bits, bitorder="little")
            allowed.selector = faiss.IDSelectorBitmap(
                len(allowed.bitmap), faiss.swig_ptr(allowed.bitmap)
            )
        return allowed.selector

    def _rescored(
        self,
        query: np.ndarray,
        k: int,
        dead_rows: np.ndarray | None,
        allowed: RowFilter | None = None,
    ) -> tuple:
        """The 4-bit scan's best ``rescore`` live rows, rescored with 8-bit codes.
        Asks the scan for more only when deletions leave fewer than ``k``. A filter that
        leaves no more rows than that rescores them all; one that leaves at most
        1/:data:`NARROW` of the rows scans its own rows (:meth:`_scan_of`); a wider one scans
        deeper by the share it leaves out."""
        want = max(int(self.meta["rescore"]), k)
        if allowed is not None and len(allowed.rows) <= want:
            rows = allowed.rows
            scores = self._rescorer.sa_decode(self._codes[rows]) @ query
            best = np.argsort(-scores, kind="stable")[:k]
            return scores[best], np.asarray(self.ids[rows[best]], np.int64)
        if allowed is not None and NARROW and len(allowed.rows) * NARROW <= self.size:
            _, found = self._scan_of(allowed).search(query.reshape(1, -1), want)
            rows = allowed.rows[found[0][found[0] >= 0]]
            scores = self._rescorer.sa_decode(self._codes[rows]) @ query
            best = np.argsort(-scores, kind="stable")[:k]
            return scores[best], np.asarray(self.ids[rows[best]], np.int64)
        if allowed is not None:
            want = int(want * self.size / max(1, len(allowed.rows)))
        while True:
            _, found = self._scan.search(query.reshape(1, -1), min(want, self.size))
            rows = found[0][found[0] >= 0]
            if allowed is not None:
                rows = rows[allowed.mask[rows]]
            elif dead_rows is not None and len(dead_rows):
                rows = rows[~np.isin(rows, dead_rows)]
            if len(rows) >= k or want >= self.size:
                break
            want *= 4
        scores = self._rescorer.sa_decode(self._codes[rows]) @ query
        best = np.argsort(-scores, kind="stable")[:k]
        return scores[best], np.asarray(self.ids[rows[best]], np.int64)

    def _scan_of(self, allowed: RowFilter):
        """The 4-bit scan of ``allowed``'s rows alone, their codes as the segment has them
        (built on first use, kept with the filter): a narrow filter's scan of the whole
        segment would have to keep ``rescore / share`` rows to find ``rescore`` of its own,
        which costs FAISS more than the scan. Its labels are positions in ``allowed.rows``."""
        import faiss

        if allowed.scan is None:
            scan = faiss.clone_index(self._scan)
            bits = np.packbits(~allowed.mask, bitorder="little")
            scan.remove_ids(faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits)))
            # a copy holds only what is left (removing keeps the whole segment's buffer)
            allowed.scan = faiss.deserialize_index(faiss.serialize_index(scan))
        return allowed.scan

    def search_keywords(
        self,
        tokens: Sequence[str],
        k: int,
        idf: dict[str, float],
        dead_rows: np.ndarray | None,
        allowed: RowFilter | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` best live chunks with a score above zero (only
        the rows of ``allowed``, when given)."""
        mask = None if allowed is None else allowed.mask
        if mask is not None and not len(allowed.rows):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, rows = self.keywords.top(tokens, k, idf, dead_rows, mask)
        return scores, np.asarray(self.ids[rows], np.int64)

    def keyword_weights(
        self, tokens: Sequence[str], ids: np.ndarray, idf: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25 scores for ``tokens``) of those of ``ids`` (sorted) held here."""
        rows, found = self._rows_of(ids)
        return found, self.keywords.weights_of(tokens, rows, idf)

    def _rows_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, their chunk ids) of those of ``ids`` this segment holds."""
        if self._ids_sorted is None:  # ingest writes ascending ids; checked once, not assumed
            self._ids_sorted = bool(np.all(np.diff(self.ids) > 0))
        if self._ids_sorted:
            rows, hit = sorted_positions(self.ids, ids)
            return rows, ids[hit]
        rows = np.flatnonzero(np.isin(self.ids, ids))
        return rows, np.asarray(self.ids[rows], np.int64)
