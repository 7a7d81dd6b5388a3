"""Preparing chunks on every core: chunking, search keys and keyword tokens.

jieba is the slow part of an ingest after the model, and it is pure Python:
large batches go to worker processes (``spawn``, so no torch or OpenMP state
is forked). Small batches — a typical update — stay in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from corpus.chunking import chunk_document
from corpus.document import Document
from corpus.normalize import search_key
from retrieval.keywords import tokenize
from retrieval.store import text_hash

PARALLEL_FROM = 2_000  # chunks (or documents) below which a pool costs more than it saves
_BATCH = 256


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk of a document, located and hashed (its text is ``doc.text[start:end]``)."""

    doc_id: str
    index: int
    start: int
    end: int
    text_hash: str


def workers() -> int:
    """Worker processes for preparation: ``QABOT_WORKERS``, else every core."""
    value = os.environ.get("QABOT_WORKERS", "").strip()
    return max(1, int(value)) if value.isdigit() else max(1, os.cpu_count() or 1)


def _chunk_batch(documents: Sequence[Document]) -> list[list[PreparedChunk]]:
    return [
        [
            PreparedChunk(c.doc_id, c.index, c.start, c.end, text_hash(c.text))
            for c in chunk_document(doc)
        ]
        for doc in documents
    ]


def _token_batch(texts: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(tokenize(search_key(text))) for text in texts]


def _batches(items: Sequence, size: int = _BATCH) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _map(fn: Callable, items: Sequence, tick: Callable[[int], None]) -> list:
    """``fn`` over batches of ``items``, in order, in worker processes when worth it."""
    out: list = []
    n_workers = workers()
    if len(items) < PARALLEL_FROM or n_workers == 1:
        for batch in _batches(items):
            out.extend(fn(batch))
            tick(len(batch))
        return out
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
        batches = _batches(items)
        for batch, result in zip(batches, pool.map(fn, batches), strict=True):
            out.extend(result)
            tick(len(batch))
    return out


def chunk_documents(
    documents: Sequence[Document], tick: Callable[[int], None] = lambda _n: None
) -> list[list[PreparedChunk]]:
    """Each document's chunks, in document order."""
    return _map(_chunk_batch, documents, tick)


def tokenize_texts(
    texts: Sequence[str], tick: Callable[[int], None] = lambda _n: None
) -> list[tuple[str, ...]]:
    """Keyword tokens of each text's search key."""
    return _map(_token_batch, texts, tick)
