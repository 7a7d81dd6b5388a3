"""The index folder: versioned, swapped in atomically, read as one consistent whole.

Layout of an index folder::

    CURRENT                  name of the live version (replaced atomically)
    versions/<version>/      manifest.json, store.sqlite, dense.faiss
    .ingest.lock             held by the one ingest allowed at a time

A version folder is complete before ``CURRENT`` names it, so a reader sees the
old index or the new one, never a mix, and a crash mid-ingest leaves the old one.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import platformdirs

from corpus.chunking import CHUNKER_VERSION
from corpus.document import Document
from retrieval.errors import IndexNotFoundError
from retrieval.keywords import KeywordIndex
from retrieval.store import ChunkRecord, read_chunks, read_documents

FORMAT = 1
# Bump when corpus.normalize.search_key or the keyword tokenisers change output.
SEARCH_KEY_VERSION = "1"
CURRENT = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
DENSE = "dense.faiss"


def default_index_dir() -> Path:
    """``QABOT_INDEX`` if set, else the platform's user data dir (e.g. ~/.local/share/qabot)."""
    value = os.environ.get("QABOT_INDEX", "").strip()
    if value:
        return Path(value).expanduser()
    return Path(platformdirs.user_data_dir("qabot")) / "index"


@dataclass(frozen=True)
class Manifest:
    """What a version was built from; decides whether the next ingest can reuse it."""

    version: str
    created: str
    model: dict  # name, fingerprint, dimension
    chunker_version: str
    search_key_version: str
    tokenizer: str
    documents: dict[str, str] = field(default_factory=dict)  # doc_id -> content hash
    chunks: int = 0
    corpus: list[str] = field(default_factory=list)  # the paths it was ingested from
    format: int = FORMAT

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def write(self, folder: Path) -> None:
        text = json.dumps(asdict(self), ensure_ascii=False, indent=1)
        (folder / MANIFEST).write_text(text, encoding="utf-8")

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
    _fsync_dir(index_dir)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune_versions(index_dir: Path, keep: int = 2) -> None:
    """Remove all but the newest ``keep`` versions (the live one always stays)."""
    live = current_version(index_dir)
    root = index_dir / VERSIONS
    if not root.is_dir():
        return
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    finished = [p for p in folders if not p.name.startswith(".")]
    for folder in finished[:-keep]:
        if folder.name != live:
            shutil.rmtree(folder, ignore_errors=True)
    for leftover in (p for p in folders if p.name.startswith(".")):
        shutil.rmtree(leftover, ignore_errors=True)  # from an interrupted ingest


def new_version_name() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"


@dataclass
class LoadedIndex:
    """One version, in memory: documents, chunk table, FAISS and BM25 indexes."""

    folder: Path
    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[ChunkRecord]
    dense: object  # faiss.Index over chunk ids
    keywords: KeywordIndex

    @property
    def version(self) -> str:
        return self.manifest.version


def load_index(index_dir: Path) -> LoadedIndex:
    """Load the live version; IndexNotFoundError if there is none."""
    import faiss

    for _attempt in range(3):  # the version may be pruned between reading CURRENT and opening it
        version = current_version(index_dir)
        if version is None:
            raise IndexNotFoundError(f"no index in {index_dir} (run: python -m bot ingest)")
        folder = version_dir(index_dir, version)
        try:
            manifest = Manifest.read(folder)
            documents = {d.doc_id: d for d in read_documents(folder / STORE)}
            chunks = read_chunks(folder / STORE, with_vectors=False)
            dense = faiss.read_index(str(folder / DENSE))
        except (OSError, RuntimeError, sqlite3.Error):
            if current_version(index_dir) != version:
                continue
            raise
        keywords = KeywordIndex([c.tokens for c in chunks])
        return LoadedIndex(folder, manifest, documents, chunks, dense, keywords)
    raise IndexNotFoundError(f"index in {index_dir} keeps changing; try again")


def build_dense(vectors: np.ndarray, dimension: int):
    """Exact inner product over normalised vectors, ids = chunk ids (removable later)."""
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if len(vectors):
        index.add_with_ids(
            np.ascontiguousarray(vectors, np.float32), np.arange(len(vectors), dtype=np.int64)
        )
    return index
