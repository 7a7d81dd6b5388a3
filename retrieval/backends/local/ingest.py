"""Ingest: documents in, a new index version out, doing work only for what changed.

1. Plan by content hash against the live version: added, changed, removed, unchanged.
2. Chunk and tokenise the added and changed documents (every core for large batches).
3. Embed chunk texts the embedding cache lacks, committing batch by batch, so an
   interrupted ingest resumes where it stopped.
4. Append their rows to the store and write one new segment; the old chunks of
   changed and removed documents join the version's deletion list.
5. Merge small segments when there are too many, write the manifest, publish it
   atomically, and prune versions, segments and store rows no kept version names.

Unchanged documents cost nothing but their hash, so changing one document in a
million-chunk index writes one small segment and a manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import qabot_settings
from corpus.document import Document
from embeddings.model import Embedder, ModelIdentity
from retrieval import threads
from retrieval.backends.base import FORMAT, model_info, new_version_name
from retrieval.backends.local.check import damaged_segments, deleted_problem, ids_sound
from retrieval.backends.local.durable import fsync_dir, fsync_files
from retrieval.backends.local.folder import (
    CURRENT,
    DELETED,
    VERSIONS,
    LocalManifest,
    current_is_sound,
    current_version,
    prune_versions,
    publish,
    read_manifest,
    version_dir,
)
from retrieval.backends.local.segments import SEGMENTS, SegmentSettings, write_segment
from retrieval.backends.local.store import STORE, StoreWriter, store_problem
from retrieval.filters import META_VERSION
from retrieval.ingest.embedding_cache import CACHE, EmbeddingCache, cache_problem
from retrieval.ingest.plan import (
    IngestPlan,
    IngestResult,
    ingest_lock,
    log_to_stderr,
    plan_documents,
    same_version,
)
from retrieval.ingest.prepare import cache_tokens, cache_vectors, chunk_documents, workers
from retrieval.tokens import DEFAULT_TOKENIZER, TOKENS_KEY


@dataclass(frozen=True)
class IngestSettings:
    """Batching and segment policy (defaults measured in docs/performance.md)."""

    segments: SegmentSettings = field(default_factory=SegmentSettings)
    # chunks encoded and committed to the cache at a time (QABOT_EMBED_BATCH)
    embed_batch: int = field(default_factory=qabot_settings.embed_batch)
    max_small_segments: int = 6  # more segments than this below max_chunks/2 are merged
    max_deleted_share: float = 0.3  # a segment with more deleted rows than this is rewritten


def _previous(index_dir: Path, identity: ModelIdentity, rebuild: bool):
    """(live manifest or None, whether it can be built upon, reason for a full rebuild)."""
    version = current_version(index_dir)
    if version is None:
        return None, False, None
    try:
        manifest = read_manifest(index_dir, version)
    except (OSError, ValueError, TypeError):
        return None, False, "the current index could not be read"
    if rebuild:
        return manifest, False, "--rebuild was given"
    reason = manifest.incompatibility(model_info(identity), DEFAULT_TOKENIZER)
    return manifest, reason is None, reason


def plan_ingest(
    index_dir: Path, documents: Sequence[Document], identity: ModelIdentity, rebuild: bool = False
) -> tuple[IngestPlan, LocalManifest | None, bool]:
    """The plan, the live manifest, and whether the new version builds upon it."""
    manifest, reusable, reason = _previous(index_dir, identity, rebuild)
    old = manifest.content_hashes() if manifest and manifest.format == FORMAT else {}
    return plan_documents(old, documents, reason), manifest, reusable


def ingest(
    index_dir: Path,
    documents: Sequence[Document],
    embedder: Embedder,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = log_to_stderr,
    corpus: Sequence[str] = (),
    settings: IngestSettings | None = None,
) -> IngestResult:
    """Build a new version of the index from ``documents`` and make it live."""
    started = time.perf_counter()
    settings = settings or IngestSettings()
    with ingest_lock(index_dir, str(index_dir)):
        damaged = None if dry_run else set_aside_damaged_store(index_dir)
        cache_note = None if dry_run else set_aside_damaged_cache(index_dir)
        if cache_note:
            log(f"warning: {cache_note}")
        plan, previous, reusable = plan_ingest(index_dir, documents, embedder.identity, rebuild)
        if damaged:
            plan.rebuild_reason, reusable = damaged, False
        repairs: set[str] = set()
        if reusable:
            reason, repairs = _repairs(index_dir, previous)
            if reason:
                plan.rebuild_reason, reusable = reason, False
            elif repairs:
                log(f"repairing damaged segment(s) from the embedding cache: {', '.join(repairs)}")
        if plan.rebuild_reason and current_version(index_dir):
            log(f"full rebuild: {plan.rebuild_reason}")
        if (
            not dry_run
            and reusable
            and not repairs
            and same_version(previous.documents, previous.corpus, plan, documents, corpus)
            and previous.meta_version == META_VERSION
        ):
            if not current_is_sound(index_dir):
                publish(index_dir, previous.version)
                log(f"{CURRENT} was damaged; it names {previous.version} again")
            return IngestResult(
                plan, previous.version, previous.chunks, 0, time.perf_counter() - started
            )
        job = _Job(index_dir, embedder, settings, progress, log)
        job.repairs = repairs
        if damaged and previous is not None:  # old readers keep their keys: never reuse them
            job.floor = _id_floor(index_dir, previous)
        try:
            with threads.for_ingest():
                return job.run(plan, previous if reusable else None, documents, corpus, dry_run)
        finally:
            job.close()


def _repairs(index_dir: Path, previous: LocalManifest) -> tuple[str | None, set[str]]:
    """(why the index must be rebuilt, or None; the segments to rewrite from the cache).

    A damaged segment whose chunk ids survive is rewritten from the embedding cache; one
    that lost them, or a damaged deletion list, needs a full rebuild."""
    problem = deleted_problem(index_dir, previous)
    if problem:
        return f"the deletion list of version {previous.version} is damaged ({problem})", set()
    damaged = damaged_segments(index_dir, previous)
    by_name = {meta["name"]: meta for meta in previous.segments}
    for name, problem in damaged.items():
        if not ids_sound(index_dir, by_name[name]):
            return f"segment {name} is damaged ({problem}), its chunk ids with it", set()
    return None, set(damaged)


def set_aside_damaged_store(index_dir: Path) -> str | None:
    """If the store cannot be read, move it aside and say why (the next version is rebuilt).

    A cheap check (the schema and the highest keys), not a full integrity scan: it catches
    a store that was truncated, overwritten or is not a database at all.
    """
    path = index_dir / STORE
    return _set_aside(path, store_problem(path), "the index store")


def set_aside_damaged_cache(index_dir: Path) -> str | None:
    """If the embedding cache cannot be read, move it aside and say so (what a version
    needs is embedded again; the index itself is sound)."""
    return _set_aside(index_dir / CACHE, cache_problem(index_dir), "the embedding cache")


def _set_aside(path: Path, problem: str | None, what: str) -> str | None:
    """With a ``problem``, move the SQLite file ``path`` aside and say so; else None."""
    if problem is None:
        return None
    aside = _move_aside(path)
    return f"{what} could not be read ({problem}); it was moved to {aside.name}"


def _move_aside(path: Path) -> Path:
    """Rename a SQLite file (and its -wal, -shm) to ``<name>.damaged-<time>``."""
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.replace(Path(f"{aside}{suffix}"))
    return aside


def _id_floor(index_dir: Path, previous: LocalManifest) -> tuple[int, int]:
    """(doc_key, chunk id) above every key the live version uses."""
    doc = max((int(e[1]) for e in previous.documents.values()), default=-1) + 1
    chunk = 0
    for meta in previous.segments:
        try:
            ids = np.load(index_dir / SEGMENTS / meta["name"] / "ids.npy", mmap_mode="r")
        except (OSError, ValueError):
            continue
        if len(ids):
            chunk = max(chunk, int(ids.max()) + 1)
    return doc, chunk


class _Job:
    """One ingest run under the lock."""

    def __init__(self, index_dir, embedder, settings, progress, log) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.settings = settings
        self.progress = progress
        self.log = log
        self.model = embedder.identity.fingerprint
        self.cache = EmbeddingCache(index_dir / CACHE)
        self.store = StoreWriter(index_dir / STORE)
        self.timings: dict[str, float] = {}
        self.floor = (0, 0)  # lowest (doc_key, chunk id) to hand out
        self.repairs: set[str] = set()  # damaged segments of the live version to rewrite
        self._mark = time.perf_counter()

    def _lap(self, step: str) -> None:
        """Add the time since the last lap to ``step``."""
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - self._mark
        self._mark = now

    def close(self) -> None:
        self.cache.close()
        self.store.close()

    def _bar(self, total: int, desc: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="chunk", disable=not self.progress or total == 0)

    def run(self, plan, previous, documents, corpus, dry_run) -> IngestResult:
        started = time.perf_counter()
        fresh_ids = set(plan.added) | set(plan.changed) if previous else None
        to_write = [d for d in documents if fresh_ids is None or d.doc_id in fresh_ids]
        with self._bar(len(to_write), "chunking") as bar:
            per_doc = chunk_documents(to_write, bar.update)
        self._lap("chunking")
        chunks = [c for doc_chunks in per_doc for c in doc_chunks]
        hashes = [c.text_hash for c in chunks]
        missing = self.cache.missing_vectors(self.model, hashes)
        if dry_run:
            total = (previous.chunks if previous else 0) + len(chunks)
            total -= self._old_chunks(previous, plan)[1] if previous else 0
            return IngestResult(plan, None, total, len(missing), time.perf_counter() - started)
        texts = {
            c.text_hash: doc.text[c.start : c.end]
            for doc, doc_chunks in zip(to_write, per_doc, strict=True)
            for c in doc_chunks
        }
        self._lap("chunking")
        self._tokens(texts)
        self._lap("tokenising")
        self._embed(missing, texts)
        self._lap("embedding")
        version, total = self._write(plan, previous, to_write, per_doc, documents, corpus)
        self.log_step("time: " + " · ".join(f"{k} {v:.1f} s" for k, v in self.timings.items()))
        return IngestResult(plan, version, total, len(missing), time.perf_counter() - started)

    # --- preparation --------------------------------------------------------------------
    def _tokens(self, texts: dict[str, str]) -> None:
        """Tokenise (on every core) the chunk texts whose tokens the cache lacks."""
        todo = self.cache.missing_tokens(TOKENS_KEY, list(texts))
        with self._bar(len(todo), "tokenising") as bar:
            cache_tokens(self.cache, todo, texts, bar.update)

    def _embed(self, missing: list[str], texts: dict[str, str]) -> None:
        """Encode what the cache lacks, committing every batch."""
        with self._bar(len(missing), "embedding") as bar:
            batch = self.settings.embed_batch
            cache_vectors(self.cache, self.embedder, missing, texts, batch, bar.update)

    # --- writing ------------------------------------------------------------------------
    def _old_chunks(self, previous: LocalManifest, plan: IngestPlan) -> tuple[list[int], int]:
        """Chunk ids of the live version's changed and removed documents, and their count."""
        gone = plan.changed + plan.removed
        keys = [int(previous.documents[d][1]) for d in gone if d in previous.documents]
        ids = self.store.chunk_ids(keys)
        return ids, len(ids)

    def _write(self, plan, previous, to_write, per_doc, documents, corpus) -> tuple[str, int]:
        """Write and publish the new version; (its name, its live chunks)."""
        version = new_version_name()
        next_doc, next_chunk = self.store.next_ids()
        next_doc, next_chunk = max(next_doc, self.floor[0]), max(next_chunk, self.floor[1])
        doc_rows, chunk_rows, keys = [], [], {}
        for doc, doc_chunks in zip(to_write, per_doc, strict=True):
            keys[doc.doc_id] = next_doc
            doc_rows.append((next_doc, doc))
            for c in doc_chunks:
                chunk_rows.append(
                    (next_chunk, next_doc, c.index, c.start, c.end, c.text_hash)
                    + (c.section, c.article)
                )
                next_chunk += 1
            next_doc += 1
        self.store.append(doc_rows, chunk_rows)
        self._lap("store")

        segments = list(previous.segments) if previous else []
        deleted = self._deleted(previous, plan)
        new_ids = np.array([row[0] for row in chunk_rows], np.int64)
        new_hashes = [row[5] for row in chunk_rows]
        step = self.settings.segments.max_chunks
        parts = [
            (f"{version}-{i // step}", new_ids[i : i + step], new_hashes[i : i + step])
            for i in range(0, len(new_ids), step)
        ]
        segments.extend(self._segments(parts))
        self._lap("segments")
        segments, deleted = self._merge_small(version, segments, deleted)
        self._lap("merging")

        entries = {}
        old = previous.documents if previous else {}
        for doc in documents:
            key = keys.get(doc.doc_id)
            entries[doc.doc_id] = [doc.content_hash, old[doc.doc_id][1] if key is None else key]
        live = sum(s["size"] for s in segments) - len(deleted)
        work = self.index_dir / VERSIONS / f".{version}.partial"
        work.mkdir(parents=True)
        if len(deleted):
            np.save(work / DELETED, deleted)
        LocalManifest(
            **LocalManifest.describe(
                version, self.embedder.identity, entries, live, corpus, documents
            ),
            segments=segments,
            deleted=int(len(deleted)),
        ).write(work)
        fsync_files(work)
        work.rename(version_dir(self.index_dir, version))
        fsync_dir(self.index_dir / VERSIONS)
        publish(self.index_dir, version)
        kept = prune_versions(self.index_dir)
        self.store.collect_garbage({k for m in kept for k in m.doc_keys()})
        self._lap("publishing")
        return version, int(live)

    def _deleted(self, previous: LocalManifest | None, plan: IngestPlan) -> np.ndarray:
        if previous is None:
            return np.zeros(0, np.int64)
        old = version_dir(self.index_dir, previous.version) / DELETED
        before = np.load(old) if previous.deleted else np.zeros(0, np.int64)
        ids, _ = self._old_chunks(previous, plan)
        return np.union1d(before, np.array(ids, np.int64)).astype(np.int64)

    def _segment(self, name: str, ids: np.ndarray, hashes: Sequence[str]) -> dict:
        """Write one segment from cached vectors and tokens."""
        self.log_step(f"writing segment {name} ({len(ids):,} chunks)")
        return _write_cached_segment(
            self.index_dir,
            self.model,
            self.embedder.identity.dimension,
            name,
            ids,
            hashes,
            self.settings.segments,
        )

    def _segments(self, parts: list[tuple[str, np.ndarray, Sequence[str]]]) -> list[dict]:
        """Write several segments (a full build), one per core at a time."""
        n_workers = min(len(parts), workers())
        if n_workers < 2:
            return [self._segment(*part) for part in parts]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.log_step(f"writing {len(parts)} segments, {n_workers} at a time")
        dimension = self.embedder.identity.dimension
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
            futures = [
                pool.submit(
                    _write_cached_segment,
                    self.index_dir,
                    self.model,
                    dimension,
                    name,
                    ids,
                    list(hashes),
                    self.settings.segments,
                    1,
                )
                for name, ids, hashes in parts
            ]
            return [f.result() for f in futures]

    def _refill_cache(self, ids: list[int], hashes: list[str]) -> None:
        """Embed and tokenise again what the cache lost (it was damaged and set aside)."""
        vectors = self.cache.missing_vectors(self.model, hashes)
        tokens = self.cache.missing_tokens(TOKENS_KEY, hashes)
        if vectors or tokens:
            texts = self.store.texts(ids)
            self._tokens(texts)
            self._embed(vectors, texts)

    def log_step(self, message: str) -> None:
        if self.progress:
            self.log(message)

    def _merge_small(self, version: str, segments: list[dict], deleted: np.ndarray):
        """Merge small or mostly-deleted segments into one; (segments, deleted) after it."""
        half = self.settings.segments.max_chunks // 2
        dead_share = {}
        for meta in segments:
            ids = np.load(self.index_dir / SEGMENTS / meta["name"] / "ids.npy", mmap_mode="r")
            dead_share[meta["name"]] = float(np.isin(ids, deleted).mean()) if len(ids) else 1.0
        small = [m for m in segments if m["size"] < half]
        dirty = [m for m in segments if dead_share[m["name"]] > self.settings.max_deleted_share]
        chosen = {m["name"] for m in dirty} | (self.repairs & set(dead_share))
        if len(small) > self.settings.max_small_segments:
            chosen |= {m["name"] for m in small}
        if not chosen:
            return segments, deleted
        ids_parts = [
            np.load(self.index_dir / SEGMENTS / name / "ids.npy") for name in sorted(chosen)
        ]
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
        live = np.sort(ids[~np.isin(ids, deleted)])
        kept = [m for m in segments if m["name"] not in chosen]
        if len(live):
            hashes = self.store.chunk_hashes(live.tolist())
            self._refill_cache(live.tolist(), hashes)
            kept.append(self._segment(f"{version}-merged", live, hashes))
        self.log_step(f"merged {len(chosen)} segment(s): {len(live):,} live chunks rewritten")
        return kept, deleted[~np.isin(deleted, ids)]


def _write_cached_segment(
    index_dir: Path,
    model: str,
    dimension: int,
    name: str,
    ids: np.ndarray,
    hashes: Sequence[str],
    settings: SegmentSettings,
    faiss_threads: int | None = None,
) -> dict:
    """Write one segment from the cache's vectors and tokens (also run in worker processes)."""
    if faiss_threads:
        import faiss

        faiss.omp_set_num_threads(faiss_threads)
    with EmbeddingCache(index_dir / CACHE) as cache:
        vectors = cache.vectors(model, hashes, dimension)
        tokens = cache.iter_tokens(TOKENS_KEY, hashes)  # streamed: memory stays flat
        return write_segment(index_dir / SEGMENTS, name, ids, vectors, tokens, settings)
