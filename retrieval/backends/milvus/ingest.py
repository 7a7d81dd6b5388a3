"""Ingest into Milvus: plan by content hash, embed only what the shared cache lacks, write
the new rows under the next version number, then publish by replacing one meta row.

A kill at any point before the ``current`` row is replaced leaves the previous version
answering: its readers filter on ``born <= N``, so the new rows stay invisible, and the
next ingest deletes them before it starts. A full rebuild (another model, chunker or
tokenizer, or ``--rebuild``) writes a new chunks collection and switches to it the same way.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import qabot_settings
from corpus.document import Document
from embeddings.model import Embedder
from retrieval.backends.base import model_info, new_version_name
from retrieval.backends.milvus import client as meta
from retrieval.backends.milvus.manifest import (
    MilvusManifest,
    check_rows,
    manifest_key,
    read_current,
    read_manifest,
    vocab_key,
)
from retrieval.backends.milvus.schema import (
    KEYWORD_MODES,
    TEXT_MAX,
    chunks_schema,
    citation_values,
    clip,
    dense_index,
    structure_values,
)
from retrieval.errors import ManifestError, RetrievalError
from retrieval.filters import META_VERSION
from retrieval.ingest.embedding_cache import CACHE, EmbeddingCache
from retrieval.ingest.plan import (
    IngestPlan,
    IngestResult,
    log_to_stderr,
    plan_documents,
    same_version,
)
from retrieval.ingest.prepare import PreparedChunk, cache_tokens, cache_vectors, chunk_documents
from retrieval.tokens import DEFAULT_TOKENIZER, TOKENS_KEY

K1, B = 1.2, 0.75  # as the local bm25s index
INSERT_BATCH = 256
PAD = 0  # token id 0 is never a token: it gives an empty chunk a (zero-weight) entry
MAX_DEAD = 5_000  # changed + removed documents above which an update writes a new collection


def ingest_milvus(
    client,
    prefix: str,
    keywords: str,
    index_dir: Path,
    documents: Sequence[Document],
    embedder: Embedder,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    corpus: Sequence[str] = (),
) -> IngestResult:
    """Build a new version in Milvus (``client``, collections named by ``prefix``) from
    ``documents`` and make it live; the embedding cache stays in ``index_dir``. The caller
    holds the ingest lock (retrieval.ingest.plan.ingest_lock)."""
    started = time.perf_counter()
    log = log or log_to_stderr
    if keywords not in KEYWORD_MODES:
        raise RetrievalError(f"QABOT_MILVUS_KEYWORDS={keywords!r}: choose sparse or bm25")
    job = _Job(client, prefix, keywords, index_dir, embedder, progress, log)
    try:
        return job.run(documents, rebuild, dry_run, corpus, started)
    finally:
        job.cache.close()


class _Job:
    def __init__(
        self, client, prefix: str, keywords: str, index_dir: Path, embedder: Embedder, progress, log
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.embedder = embedder
        self.model = embedder.identity.fingerprint
        self.keywords = keywords
        self.progress = progress
        self.log = log
        self.cache = EmbeddingCache(index_dir / CACHE)

    def say(self, message: str) -> None:
        if self.progress:
            self.log(message)

    def _previous(self, rebuild: bool) -> tuple[MilvusManifest | None, str | None]:
        """(live manifest or None, why it cannot be built upon or None). A damaged manifest
        or ``current`` row (ManifestError) makes this ingest a full rebuild."""
        try:
            pointer = read_current(self.client, self.prefix)
            if pointer is None:
                return None, None
            previous = read_manifest(self.client, self.prefix, pointer)
            check_rows(self.client, previous)
        except ManifestError as exc:
            return None, f"the current index could not be read ({exc})"
        if rebuild:
            return previous, "--rebuild was given"
        reason = previous.incompatibility(model_info(self.embedder.identity), DEFAULT_TOKENIZER)
        if reason is None and previous.keywords != self.keywords:
            reason = f"keyword mode changed ({previous.keywords} → {self.keywords})"
        return previous, reason

    def run(self, documents, rebuild, dry_run, corpus, started) -> IngestResult:
        previous, reason = self._previous(rebuild)
        reusable = previous is not None and reason is None
        old = previous.content_hashes() if previous else {}
        plan = plan_documents(old, documents, reason)
        if reusable and len(plan.changed) + len(plan.removed) > MAX_DEAD:
            # every query filters out the dead documents' keys: a long list costs each search
            reusable, reason = False, f"more than {MAX_DEAD:,} documents changed or removed"
            plan.rebuild_reason = reason
        if reason:
            self.say(f"full rebuild: {reason}")
        if (
            not dry_run
            and reusable
            and same_version(previous.documents, previous.corpus, plan, documents, corpus)
            and previous.meta_version == META_VERSION
        ):
            return IngestResult(plan, previous.version, previous.chunks, 0, _since(started))
        fresh = set(plan.added) | set(plan.changed)
        to_write = [d for d in documents if not reusable or d.doc_id in fresh]
        per_doc = chunk_documents(to_write)
        hashes = [c.text_hash for chunks in per_doc for c in chunks]
        missing = self.cache.missing_vectors(self.model, hashes)
        if dry_run:
            gone = plan.changed + plan.removed if reusable else []
            kept = (previous.chunks - self._count(previous, gone)) if reusable else 0
            return IngestResult(plan, None, kept + len(hashes), len(missing), _since(started))
        texts = {
            c.text_hash: doc.text[c.start : c.end]
            for doc, chunks in zip(to_write, per_doc, strict=True)
            for c in chunks
        }
        tokens = self._tokens(texts)
        self._embed(missing, texts)
        manifest = self._write(
            plan,
            previous if reusable else None,
            previous,
            to_write,
            per_doc,
            tokens,
            documents,
            corpus,
        )
        return IngestResult(plan, manifest.version, manifest.chunks, len(missing), _since(started))

    # --- preparation --------------------------------------------------------------------
    def _tokens(self, texts: dict[str, str]) -> dict[str, tuple[str, ...]]:
        """Tokens of every text, tokenising (as the local ingest) what the cache lacks."""
        cache_tokens(self.cache, self.cache.missing_tokens(TOKENS_KEY, list(texts)), texts)
        return self.cache.tokens(TOKENS_KEY, list(texts))

    def _embed(self, missing: list[str], texts: dict[str, str]) -> None:
        done = 0

        def said(n: int) -> None:
            nonlocal done
            done += n
            self.say(f"embedded {done}/{len(missing)} chunks")

        batch = qabot_settings.embed_batch()
        cache_vectors(self.cache, self.embedder, missing, texts, batch, said)

    def _count(self, manifest: MilvusManifest, doc_ids: list[str]) -> int:
        keys = [int(manifest.documents[d][1]) for d in doc_ids if d in manifest.documents]
        total = 0
        for start in range(0, len(keys), 1_000):
            rows = self.client.query(
                manifest.collection,
                filter=f"doc_key in {keys[start : start + 1_000]}",
                output_fields=["count(*)"],
            )
            total += int(rows[0]["count(*)"]) if rows else 0
        return total

    # --- writing ------------------------------------------------------------------------
    def _fresh_number(self) -> int:
        """A version number above every chunks collection's (with no readable manifest, the
        new collection must not take the name of one a reader may still use)."""
        taken = [
            int(name.rsplit("_", 1)[1])
            for name in self.client.list_collections()
            if name.startswith(f"{self.prefix}_chunks_") and name.rsplit("_", 1)[1].isdigit()
        ]
        return max(taken, default=0) + 1

    def _open_collection(self, base: MilvusManifest | None, number: int, dense: dict) -> str:
        """The collection the new rows go to, cleared of what a killed ingest left."""
        if base is not None:
            name = base.collection
            dimension = self.embedder.identity.dimension
            meta.ensure_loaded(  # with a repair if Milvus Lite left a truncated index file
                self.client,
                name,
                lambda: chunks_schema(self.client, dimension, base.keywords, base.dense_index)[1],
            )
            self.client.delete(name, filter=f"born > {base.number}")  # a killed ingest's rows
            if base.dead:  # rows no reader of the live version sees
                self.client.delete(name, filter=f"doc_key in {sorted(base.dead)}")
            return name
        name = f"{self.prefix}_chunks_{number}"
        if self.client.has_collection(name):  # left by a killed rebuild
            self.client.drop_collection(name)
            meta.forget_loaded(self.client, name)
        dimension = self.embedder.identity.dimension
        schema, index = chunks_schema(self.client, dimension, self.keywords, dense)
        self.client.create_collection(name, schema=schema, index_params=index)
        meta.ensure_loaded(self.client, name)
        return name

    def _old_vocab(self, base: MilvusManifest | None) -> dict[str, list[int]]:
        if base is None:
            return {}
        return meta.read_blob(self.client, self.prefix, vocab_key(base.version), base.vocab_pieces)

    def _forget(self, vocab: dict[str, list[int]], base: MilvusManifest, gone: list[str]) -> None:
        """Take the chunks of ``gone`` documents out of the document frequencies."""
        keys = [int(base.documents[d][1]) for d in gone if d in base.documents]
        for start in range(0, len(keys), 50):  # a query returns at most 16,384 rows
            rows = self.client.query(
                base.collection,
                filter=f"doc_key in {keys[start : start + 50]}",
                output_fields=["text_hash", "text"],
                limit=16_384,
            )
            # tokenised here when the cache lacks them (another host wrote the rows)
            cached = self._tokens({r["text_hash"]: r["text"] for r in rows})
            for r in rows:
                for token in set(cached[r["text_hash"]]):
                    entry = vocab.get(token)
                    if entry:
                        entry[1] -= 1
                        if entry[1] <= 0:
                            del vocab[token]

    def _write(
        self, plan: IngestPlan, base, previous, to_write, per_doc, tokens, documents, corpus
    ) -> MilvusManifest:
        number = (previous.number + 1) if previous else self._fresh_number()
        version = new_version_name()
        chunks = sum(len(c) for c in per_doc)
        dense = base.dense_index if base else dense_index(chunks)
        collection = self._open_collection(base, number, dense)
        vocab = self._old_vocab(base)
        gone = plan.changed + plan.removed if base else []
        if base is not None:
            self._forget(vocab, base, gone)
        next_token = max((e[0] for e in vocab.values()), default=PAD) + 1
        all_tokens = [tokens[c.text_hash] for chunks in per_doc for c in chunks]
        for toks in all_tokens:
            for token in set(toks):
                entry = vocab.get(token)
                if entry is None:
                    vocab[token] = [next_token, 1]
                    next_token += 1
                else:
                    entry[1] += 1
        avgdl = base.avgdl if base else float(np.mean([len(t) for t in all_tokens] or [1.0]))
        next_doc = base.next_doc_key if base else 1
        next_chunk = base.next_chunk_id if base else 1
        keys: dict[str, int] = {}
        batch: list[dict] = []
        written = 0
        dimension = self.embedder.identity.dimension
        for doc, chunks in zip(to_write, per_doc, strict=True):
            keys[doc.doc_id] = next_doc
            vectors = self.cache.vectors(self.model, [c.text_hash for c in chunks], dimension)
            for row in _rows(doc, chunks, next_doc, next_chunk, number, vectors):
                if self.keywords == "sparse":
                    row["keywords"] = _sparse(tokens[row["text_hash"]], vocab, avgdl)
                batch.append(row)
                if len(batch) >= INSERT_BATCH:
                    self.client.insert(collection, batch)
                    written += len(batch)
                    batch = []
            next_doc += 1
            next_chunk += len(chunks)
        if batch:
            self.client.insert(collection, batch)
            written += len(batch)
        self.client.flush(collection)
        self.say(f"rows written: {written} chunks into {collection} (version {version})")

        old = previous.documents if base else {}
        entries = {
            d.doc_id: [
                d.content_hash,
                keys.get(d.doc_id, old[d.doc_id][1] if d.doc_id in old else None),
            ]
            for d in documents
        }
        kept = (base.chunks - self._count(base, gone)) if base else 0
        dead = sorted(int(base.documents[d][1]) for d in gone if d in base.documents)
        vocab_pieces = meta.write_blob(self.client, self.prefix, vocab_key(version), vocab)
        identity = self.embedder.identity
        manifest = MilvusManifest(
            **MilvusManifest.describe(
                version, identity, entries, kept + written, corpus, documents
            ),
            number=number,
            collection=collection,
            dead=dead,
            keywords=self.keywords,
            avgdl=avgdl,
            next_doc_key=next_doc,
            next_chunk_id=next_chunk,
            vocab_pieces=vocab_pieces,
            dense_index=dense,
        )
        blob = manifest.to_json()
        pieces = meta.write_blob(self.client, self.prefix, manifest_key(version), blob)
        self.client.flush(meta.meta_name(self.prefix))
        self.say(f"publishing version {version}")
        pointer = {"version": version, "pieces": pieces, "number": number}
        meta.write_value(self.client, self.prefix, meta.CURRENT, json.dumps(pointer))
        self.client.flush(meta.meta_name(self.prefix))
        self._prune(manifest, previous)
        return manifest

    def _prune(self, live: MilvusManifest, previous: MilvusManifest | None) -> None:
        """Drop meta entries and chunk collections neither the live nor the previous version
        names (a reader still on the previous one keeps answering until it refreshes)."""
        keep = {live.version} | ({previous.version} if previous else set())
        stale = [
            k
            for prefix in ("manifest:", "vocab:")
            for k in meta.list_keys(self.client, self.prefix, prefix)
            if k.split(":")[1] not in keep
        ]
        if stale:
            meta.delete_keys(self.client, self.prefix, stale)
        collections = {live.collection} | ({previous.collection} if previous else set())
        for name in self.client.list_collections():
            if name.startswith(f"{self.prefix}_chunks_") and name not in collections:
                self.client.drop_collection(name)
                meta.forget_loaded(self.client, name)


def _rows(
    doc: Document,
    chunks: list[PreparedChunk],
    doc_key: int,
    first_id: int,
    born: int,
    vectors: np.ndarray,
) -> list[dict]:
    """The rows of one document's chunks; concatenating them rebuilds ``doc.text``."""
    citation = citation_values(doc)
    rows = []
    pos = chunks[0].start if chunks else 0
    for i, c in enumerate(chunks):
        pos = max(pos, c.end)
        upto = chunks[i + 1].start if i + 1 < len(chunks) else len(doc.text)
        tail = doc.text[pos:upto] if upto > pos else ""
        pos = max(pos, upto)
        head = doc.text[: c.start] if i == 0 else ""
        if len(tail.encode("utf-8")) > TEXT_MAX or len(head.encode("utf-8")) > TEXT_MAX:
            tail, head = clip(tail, TEXT_MAX), clip(head, TEXT_MAX)  # only whitespace is lost
        rows.append(
            {
                "id": first_id + i,
                "born": born,
                "doc_key": doc_key,
                "doc_id": doc.doc_id,
                "idx": c.index,
                "start": c.start,
                "stop": c.end,
                "doc_chars": len(doc.text),
                "text_hash": c.text_hash,
                "text": doc.text[c.start : c.end],
                "head": head,
                "tail": tail,
                **citation,
                **structure_values(c.section, c.article),
                "dense": vectors[i].tolist(),
            }
        )
    return rows


def _sparse(tokens: Sequence[str], vocab: dict[str, list[int]], avgdl: float) -> dict[int, float]:
    """The chunk's BM25 term weights without IDF (applied to the query side)."""
    counts = Counter(tokens)
    norm = K1 * ((1 - B) + B * len(tokens) / (avgdl or 1.0))
    weights = {vocab[t][0]: float(tf / (tf + norm)) for t, tf in counts.items()}
    return weights or {PAD: 1e-9}


def _since(started: float) -> float:
    return time.perf_counter() - started
