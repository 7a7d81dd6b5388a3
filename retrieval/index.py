"""The index folder: versioned, swapped in atomically, read as one consistent whole.

Layout of an index folder::

    CURRENT                  name of the live version (replaced atomically)
    versions/<version>/      manifest.json (documents, segments), deleted.npy
    segments/<name>/         immutable dense + keyword indexes (see retrieval.segments)
    store.sqlite             append-only documents and chunk rows (see retrieval.store)
    cache.sqlite             vectors and tokens by text hash (see retrieval.embedding_cache)
    .ingest.lock             held by the one ingest allowed at a time

A version and every segment it names are complete before ``CURRENT`` names it,
so a reader sees the old index or the new one, never a mix, and a crash at any
point of an ingest leaves the old one answering. Versions share segments and
store rows, so a small change writes a small version.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import qabot_settings
from corpus.chunking import CHUNKER_VERSION
from corpus.document import Document
from retrieval.durable import fsync_dir
from retrieval.errors import IndexMismatchError, IndexNotFoundError, ManifestError
from retrieval.keywords import lucene_idf
from retrieval.segments import SEGMENTS, Segment
from retrieval.store import STORE, ChunkRow, ChunkStore

log = logging.getLogger(__name__)

FORMAT = 2
# Bump when corpus.normalize.search_key or the keyword tokenisers change output.
SEARCH_KEY_VERSION = "2"  # 2: jieba words from rjieba (same output, new cache key)
CURRENT = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
DELETED = "deleted.npy"


def default_index_dir() -> Path:
    """``QABOT_INDEX`` if set, else the platform's user data dir (e.g. ~/.local/share/qabot)."""
    return qabot_settings.index_dir()


@dataclass(frozen=True)
class Manifest:
    """What a version was built from; decides whether the next ingest can reuse it."""

    version: str
    created: str
    model: dict  # name, fingerprint, dimension
    chunker_version: str
    search_key_version: str
    tokenizer: str
    # doc_id -> [content hash, doc_key in the store], in corpus order
    documents: dict[str, list] = field(default_factory=dict)
    chunks: int = 0  # live chunks
    corpus: list[str] = field(default_factory=list)  # the paths it was ingested from
    segments: list[dict] = field(default_factory=list)  # each segment's meta
    deleted: int = 0  # chunk ids in deleted.npy
    format: int = FORMAT

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest in ``folder``; OSError if missing, ManifestError if malformed."""
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ManifestError(
                f"the index manifest {path} is damaged ({reason}); "
                "rebuild the index: python -m bot ingest --rebuild"
            ) from None

    def write(self, folder: Path) -> None:
        text = json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))
        (folder / MANIFEST).write_text(text, encoding="utf-8")

    def content_hashes(self) -> dict[str, str]:
        return {doc_id: entry[0] for doc_id, entry in self.documents.items()}

    def doc_keys(self) -> set[int]:
        return {int(entry[1]) for entry in self.documents.values()}

    def mismatch(self, model: dict, where: Path) -> str | None:
        """Why a reader with ``model`` must refuse this version (one line), or None."""
        if self.format != FORMAT:
            return (
                f"the index in {where} has an older format ({self.format}, now {FORMAT});"
                " run: python -m bot ingest --rebuild"
            )
        if self.model.get("fingerprint") != model["fingerprint"]:
            return (
                f"the index in {where} was built with {self.model.get('name')}, "
                f"not the configured {model['name']}; run: python -m bot ingest --rebuild"
            )
        return None

    def incompatibility(self, model: dict, tokenizer: str) -> str | None:
        """Why vectors/tokens of this version cannot be reused, or None."""
        if self.format != FORMAT:
            return f"index format changed ({self.format} → {FORMAT})"
        if self.model.get("fingerprint") != model["fingerprint"]:
            return f"embedding model changed ({self.model.get('name')} → {model['name']})"
        if self.chunker_version != CHUNKER_VERSION:
            return f"chunker changed ({self.chunker_version} → {CHUNKER_VERSION})"
        if self.search_key_version != SEARCH_KEY_VERSION or self.tokenizer != tokenizer:
            return "search-key normalisation or tokenizer changed"
        return None


def current_version(index_dir: Path) -> str | None:
    """The live version's name (cheap: one small file read), or None."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return name or None


def version_dir(index_dir: Path, version: str) -> Path:
    return index_dir / VERSIONS / version


def publish(index_dir: Path, version: str) -> None:
    """Atomically make ``version`` the live one (write + fsync + rename)."""
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_dir(index_dir)


def prune_versions(index_dir: Path, keep: int = 2) -> list[Manifest]:
    """Remove all but the newest ``keep`` versions (the live one always stays), then every
    segment no kept version names and leftovers of interrupted ingests. Returns the kept
    versions' manifests (the caller collects store rows they no longer name)."""
    live = current_version(index_dir)
    root = index_dir / VERSIONS
    if not root.is_dir():
        return []
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    finished = [p for p in folders if not p.name.startswith(".")]
    for folder in finished[:-keep]:
        if folder.name != live:
            shutil.rmtree(folder, ignore_errors=True)
    for leftover in (p for p in folders if p.name.startswith(".")):
        shutil.rmtree(leftover, ignore_errors=True)  # from an interrupted ingest
    kept = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            kept.append(Manifest.read(folder))
        except (OSError, ValueError, TypeError):
            continue
    named = {meta["name"] for m in kept for meta in m.segments}
    seg_root = index_dir / SEGMENTS
    if seg_root.is_dir() and kept:
        for folder in seg_root.iterdir():
            if folder.name not in named:
                shutil.rmtree(folder, ignore_errors=True)
    return kept


def new_version_name() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"


class LoadedIndex:
    """One version, ready to search: its segments (shared with other versions), the chunk
    ids deleted from them, and the store for the few rows a question shows."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        segments: list[Segment],
        deleted: np.ndarray,
        store: ChunkStore,
    ) -> None:
        import faiss

        self.folder = folder
        self.manifest = manifest
        self.segments = segments
        self.deleted = deleted
        self.store = store
        self.total = sum(s.size for s in segments)  # rows, deleted ones included (as Lucene)
        self._dead_rows: list[np.ndarray | None] = []
        self._selectors: list[object | None] = []
        for seg in segments:
            dead = np.nonzero(np.isin(seg.ids, deleted))[0] if len(deleted) else None
            self._dead_rows.append(dead if dead is not None and len(dead) else None)
            if dead is not None and len(dead):
                batch = faiss.IDSelectorBatch(np.asarray(seg.ids[dead], np.int64))
                self._selectors.append((batch, faiss.IDSelectorNot(batch)))
            else:
                self._selectors.append(None)
        self._doc_keys = {doc_id: int(e[1]) for doc_id, e in manifest.documents.items()}
        self._documents: dict[int, Document] = {}

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def size(self) -> int:
        """Live chunks."""
        return self.manifest.chunks

    # --- statistics -------------------------------------------------------------------
    def document_frequency(self, token: str) -> int:
        return sum(seg.keywords.document_frequency(token) for seg in self.segments)

    def idf(self, token: str) -> float:
        """BM25 IDF over the whole version; a token it never uses weighs as the rarest."""
        return float(lucene_idf(max(1, self.document_frequency(token)), self.total))

    # --- candidates -------------------------------------------------------------------
    def dense_candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest live chunks, best first."""
        query = np.ascontiguousarray(query, np.float32)
        parts = [
            seg.search_dense(query, k, sel[1] if sel else None, dead)
            for seg, sel, dead in zip(self.segments, self._selectors, self._dead_rows, strict=True)
        ]
        return _top(parts, k)

    def keyword_candidates(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` best BM25 matches (score > 0), best first."""
        if not tokens:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        idf = {t: self.idf(t) for t in tokens}
        parts = [
            seg.search_keywords(tokens, k, idf, dead)
            for seg, dead in zip(self.segments, self._dead_rows, strict=True)
        ]
        return _top(parts, k)

    def keyword_weights(self, tokens: Sequence[str], ids: Sequence[int]) -> dict[int, float]:
        """BM25 score for ``tokens`` of each chunk of ``ids`` (as keyword_candidates scores
        it), read from the tokens' postings; chunks without those tokens are left out."""
        if not tokens or not len(ids):
            return {}
        idf = {t: self.idf(t) for t in tokens}
        wanted = np.unique(np.asarray(ids, np.int64))
        out: dict[int, float] = {}
        for seg in self.segments:
            found, scores = seg.keyword_weights(tokens, wanted, idf)
            pairs = zip(found.tolist(), scores.tolist(), strict=True)
            out.update((i, s) for i, s in pairs if s > 0)
        return out

    # --- rows and documents -------------------------------------------------------------
    def rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        return self.store.chunks(ids)

    def document(self, doc_id: str) -> Document | None:
        """The document as this version has it (cached: a handful per question)."""
        key = self._doc_keys.get(doc_id)
        if key is None:
            return None
        doc = self._documents.get(key)
        if doc is None:
            doc = self.store.document(key)
            if doc is not None:
                if len(self._documents) > 256:
                    self._documents.clear()
                self._documents[key] = doc
        return doc

    def doc_keys(self) -> list[int]:
        """Store keys of the version's documents, in corpus order."""
        return list(self._doc_keys.values())

    def sources(self) -> list[tuple]:
        """(doc_id, title, date, source, url, characters) of every document, in corpus order."""
        return self.store.sources(self.doc_keys())

    def chunk_texts(self) -> Iterator[tuple[int, str, str]]:
        """(chunk id, doc_id, chunk text) of every live chunk, for evaluation baselines."""
        return iter(self.store.chunk_texts(self.doc_keys()))

    def doc_ids(self) -> Iterator[str]:
        """Document ids in corpus order."""
        return iter(self.manifest.documents)


def _top(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-segment (scores, ids) into the best ``k``, ties by lower id."""
    if not parts:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = np.concatenate([p[0] for p in parts]).astype(np.float32)
    ids = np.concatenate([p[1] for p in parts]).astype(np.int64)
    order = np.lexsort((ids, -scores))[:k]
    return scores[order], ids[order]


def newest_complete_version(index_dir: Path) -> str | None:
    """The newest version folder with a manifest, or None."""
    root = index_dir / VERSIONS
    if not root.is_dir():
        return None
    done = [
        p.name for p in root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file()
    ]
    return max(done, default=None)


def read_manifest(index_dir: Path, version: str) -> Manifest:
    return Manifest.read(version_dir(index_dir, version))


def load_index(
    index_dir: Path,
    model: dict | None = None,
    reuse: LoadedIndex | None = None,
    version: str | None = None,
) -> LoadedIndex:
    """Load the live version (or ``version``); IndexNotFoundError if there is none.

    With ``model``, the manifest is checked first (IndexMismatchError) before anything
    heavy is read. Segments already loaded in ``reuse`` are shared, not read again.
    """
    for _attempt in range(3):  # the version may be pruned between reading CURRENT and opening it
        name = version or current_version(index_dir)
        if name is None:
            raise IndexNotFoundError(f"no index in {index_dir} (run: python -m bot ingest)")
        folder = version_dir(index_dir, name)
        try:
            manifest = Manifest.read(folder)
        except FileNotFoundError:
            if version is None and current_version(index_dir) != name:
                continue  # pruned while we read CURRENT: read it again
            fallback = None if version else newest_complete_version(index_dir)
            if fallback is None:
                raise
            log.warning(
                "%s names version %s, which is missing (a crash?); using %s",
                CURRENT,
                name,
                fallback,
            )
            version = fallback
            continue
        if model is not None:
            problem = manifest.mismatch(model, index_dir)
            if problem:
                raise IndexMismatchError(problem)
        elif manifest.format != FORMAT:
            raise IndexMismatchError(manifest.mismatch({"fingerprint": None}, index_dir))
        known = {s.name: s for s in reuse.segments} if reuse else {}
        try:
            segments = [
                known.get(meta["name"]) or Segment(index_dir / SEGMENTS / meta["name"])
                for meta in manifest.segments
            ]
            deleted = np.load(folder / DELETED) if manifest.deleted else np.zeros(0, np.int64)
        except (OSError, RuntimeError):
            if version is None and current_version(index_dir) != name:
                continue
            raise
        return LoadedIndex(folder, manifest, segments, deleted, ChunkStore(index_dir / STORE))
    raise IndexNotFoundError(f"index in {index_dir} keeps changing; try again")
