"""Ingest: documents in, a new index version out, re-embedding only what changed.

The live version doubles as the embedding cache: a chunk whose text hash it
already holds (under the same model, chunker and search-key versions) keeps its
vector and tokens; only new text is encoded.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from corpus.chunking import CHUNKER_VERSION, chunk_document
from corpus.document import Document
from corpus.normalize import search_key
from embeddings.model import Embedder, ModelIdentity
from retrieval.errors import IndexBusyError
from retrieval.index import (
    DENSE,
    SEARCH_KEY_VERSION,
    STORE,
    VERSIONS,
    Manifest,
    build_dense,
    current_version,
    new_version_name,
    prune_versions,
    publish,
    version_dir,
)
from retrieval.keywords import DEFAULT_TOKENIZER, tokenize
from retrieval.store import ChunkRecord, read_chunks, text_hash, write_store

LOCK = ".ingest.lock"


@dataclass
class IngestPlan:
    """What an ingest will do, by document id."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rebuild_reason: str | None = None  # set when nothing of the old index is reused

    def summary(self) -> str:
        return (
            f"added {len(self.added)} · changed {len(self.changed)} · "
            f"removed {len(self.removed)} · unchanged {len(self.unchanged)}"
        )


@dataclass
class IngestResult:
    plan: IngestPlan
    version: str | None  # None on a dry run
    chunks: int
    embedded: int
    seconds: float

    def summary(self) -> str:
        return f"{self.plan.summary()} — embedded {self.embedded} chunks in {self.seconds:.1f} s"


def model_info(identity: ModelIdentity) -> dict:
    return {
        "name": identity.name,
        "fingerprint": identity.fingerprint,
        "dimension": identity.dimension,
    }


def _previous(index_dir: Path, identity: ModelIdentity, rebuild: bool):
    """(manifest, reusable chunk cache by text hash, reason for a full rebuild)."""
    version = current_version(index_dir)
    if version is None:
        return None, {}, None
    folder = version_dir(index_dir, version)
    try:
        manifest = Manifest.read(folder)
    except (OSError, ValueError, TypeError):
        return None, {}, "the current index could not be read"
    if rebuild:
        return manifest, {}, "--rebuild was given"
    reason = manifest.incompatibility(model_info(identity), DEFAULT_TOKENIZER)
    if reason:
        return manifest, {}, reason
    cache = {c.text_hash: c for c in read_chunks(folder / STORE)}
    return manifest, cache, None


def plan_ingest(
    index_dir: Path, documents: Sequence[Document], identity: ModelIdentity, rebuild: bool = False
) -> tuple[IngestPlan, dict[str, ChunkRecord], Manifest | None]:
    """The plan, the reusable chunks by text hash, and the live version's manifest."""
    manifest, cache, reason = _previous(index_dir, identity, rebuild)
    old = manifest.documents if manifest else {}
    plan = IngestPlan(rebuild_reason=reason)
    for doc in documents:
        if doc.doc_id not in old:
            plan.added.append(doc.doc_id)
        elif old[doc.doc_id] != doc.content_hash:
            plan.changed.append(doc.doc_id)
        else:
            plan.unchanged.append(doc.doc_id)
    current = {d.doc_id for d in documents}
    plan.removed = [doc_id for doc_id in old if doc_id not in current]
    return plan, cache, manifest


def ingest(
    index_dir: Path,
    documents: Sequence[Document],
    embedder: Embedder,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
    corpus: Sequence[str] = (),
) -> IngestResult:
    """Build a new version of the index from ``documents`` and make it live."""
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusyError(
            f"another ingest is already updating {index_dir}; try again when it has finished"
        ) from None
    try:
        plan, cache, previous = plan_ingest(index_dir, documents, embedder.identity, rebuild)
        if plan.rebuild_reason and current_version(index_dir):
            log(f"full rebuild: {plan.rebuild_reason}")
        if not dry_run and _same_as(previous, plan, documents, corpus):
            return IngestResult(
                plan, previous.version, previous.chunks, 0, time.perf_counter() - started
            )
        chunks = [c for doc in documents for c in chunk_document(doc)]
        hashes = [text_hash(c.text) for c in chunks]
        todo = {h: c.text for h, c in zip(hashes, chunks, strict=True) if h not in cache}
        if dry_run:
            return IngestResult(plan, None, len(chunks), len(todo), time.perf_counter() - started)
        fresh = _embed(embedder, todo, progress)
        records = []
        for i, (chunk, th) in enumerate(zip(chunks, hashes, strict=True)):
            reused = cache.get(th) or fresh[th]
            records.append(
                ChunkRecord(
                    i,
                    chunk.doc_id,
                    chunk.index,
                    chunk.start,
                    chunk.end,
                    th,
                    reused.tokens,
                    reused.vector,
                )
            )
        version = _write_version(index_dir, documents, records, embedder.identity, corpus)
        publish(index_dir, version)
        prune_versions(index_dir)
        return IngestResult(plan, version, len(records), len(todo), time.perf_counter() - started)
    finally:
        lock.release()


def _same_as(
    previous: Manifest | None,
    plan: IngestPlan,
    documents: Sequence[Document],
    corpus: Sequence[str],
) -> bool:
    """Whether the new version would be identical to the live one."""
    if previous is None or plan.added or plan.changed or plan.removed or plan.rebuild_reason:
        return False
    same_order = list(previous.documents) == [d.doc_id for d in documents]
    return same_order and previous.corpus == list(corpus)


def _embed(embedder: Embedder, todo: dict[str, str], progress: bool) -> dict[str, ChunkRecord]:
    hashes = list(todo)
    keys = [search_key(todo[h]) for h in hashes]
    vectors = embedder.encode_documents(keys, progress=progress and len(keys) > 0)
    return {
        h: ChunkRecord(-1, "", -1, 0, 0, h, tuple(tokenize(k)), v)
        for h, k, v in zip(hashes, keys, vectors, strict=True)
    }


def _write_version(
    index_dir: Path,
    documents: Sequence[Document],
    records: list[ChunkRecord],
    identity: ModelIdentity,
    corpus: Sequence[str],
) -> str:
    version = new_version_name()
    root = index_dir / VERSIONS
    root.mkdir(parents=True, exist_ok=True)
    work = root / f".{version}.partial"
    work.mkdir()
    write_store(work / STORE, documents, records)
    vectors = (
        np.stack([r.vector for r in records])
        if records
        else np.zeros((0, identity.dimension), np.float32)
    )
    import faiss

    faiss.write_index(build_dense(vectors, identity.dimension), str(work / DENSE))
    Manifest(
        version=version,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        model=model_info(identity),
        chunker_version=CHUNKER_VERSION,
        search_key_version=SEARCH_KEY_VERSION,
        tokenizer=DEFAULT_TOKENIZER,
        documents={d.doc_id: d.content_hash for d in documents},
        chunks=len(records),
        corpus=list(corpus),
    ).write(work)
    for path in work.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    work.rename(version_dir(index_dir, version))
    return version
