"""Preparing chunks on every core: chunking, search keys and keyword tokens, and
filling the embedding cache with the tokens and vectors it lacks (both backends).

jieba is the slow part of an ingest after the model, and it is pure Python:
large batches go to worker processes (``spawn``, so no torch or OpenMP state
is forked). Small batches — a typical update — stay in this process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice

import qabot_settings
from corpus.chunking import chunk_document
from corpus.document import Document
from corpus.normalize import search_key
from embeddings.model import Embedder
from retrieval.ingest.embedding_cache import EmbeddingCache, join_tokens
from retrieval.tokens import TOKENS_KEY, tokenize

PARALLEL_FROM = 2_000  # chunks (or documents) below which a pool costs more than it saves
_BATCH = 256
_SERIAL_BATCH = 16  # in this process: a progress bar's step


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk of a document, located and hashed (its text is ``doc.text[start:end]``);
    ``section``/``article`` as in :class:`corpus.chunking.Chunk`."""

    doc_id: str
    index: int
    start: int
    end: int
    text_hash: str
    section: str | None = None
    article: str | None = None


def text_hash(text: str) -> str:
    """The key of a chunk's text in the embedding cache and the stores."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def workers() -> int:
    """Worker processes for preparation: ``QABOT_WORKERS``, else every core."""
    return qabot_settings.workers()


def _chunk_batch(documents: Sequence[Document]) -> list[list[PreparedChunk]]:
    return [
        [
            PreparedChunk(
                c.doc_id, c.index, c.start, c.end, text_hash(c.text), c.section, c.article
            )
            for c in chunk_document(doc)
        ]
        for doc in documents
    ]


def _token_batch(texts: Sequence[str]) -> list[str]:
    # Joined in the worker: one string per chunk crosses the process boundary, not a
    # tuple of hundreds (unpickling those was the parent's bottleneck at 1M chunks).
    return [join_tokens(tokenize(search_key(text))) for text in texts]


def _batches(items: Sequence, size: int = _BATCH) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _imap(fn: Callable, items: Sequence, tick: Callable[[int], None]) -> Iterator:
    """``fn`` over batches of ``items``, item by item in order, in worker processes when
    worth it. One pool serves the whole sequence (each spawn re-imports jieba: seconds).

    ``tick`` counts each batch as soon as it is done, before its items are yielded: a
    consumer that stops after the last item (``islice``) never resumes the generator, and
    a progress bar ticked after the yield stayed at 0 % (issue 29). In this process the
    batches are small, so a bar moves even for a few hundred chunks."""
    n_workers = workers()
    if len(items) < PARALLEL_FROM or n_workers == 1:
        for batch in _batches(items, _SERIAL_BATCH):
            done = fn(batch)
            tick(len(batch))
            yield from done
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
        batches = _batches(items)
        for batch, result in zip(batches, pool.map(fn, batches), strict=True):
            tick(len(batch))
            yield from result


def chunk_documents(
    documents: Sequence[Document], tick: Callable[[int], None] = lambda _n: None
) -> list[list[PreparedChunk]]:
    """Each document's chunks, in document order."""
    return list(_imap(_chunk_batch, documents, tick))


def token_strings(
    texts: Sequence[str], tick: Callable[[int], None] = lambda _n: None
) -> Iterator[str]:
    """Keyword tokens of each text's search key, joined for the cache (``join_tokens``),
    yielded in order as the workers finish them."""
    return _imap(_token_batch, texts, tick)


def cache_tokens(
    cache: EmbeddingCache,
    missing: Sequence[str],
    texts: dict[str, str],
    tick: Callable[[int], None] = lambda _n: None,
) -> None:
    """Tokenise (on every core) the texts of the ``missing`` hashes (``texts``: hash -> text),
    committing 20,000 at a time to ``cache`` so that a kill loses little."""
    joined = token_strings([texts[h] for h in missing], tick)
    for i in range(0, len(missing), 20_000):
        part = list(missing[i : i + 20_000])
        strings = islice(joined, len(part))  # the next len(part) results
        cache.put_token_strings(TOKENS_KEY, zip(part, strings, strict=True))


def cache_vectors(
    cache: EmbeddingCache,
    embedder: Embedder,
    missing: Sequence[str],
    texts: dict[str, str],
    batch: int,
    tick: Callable[[int], None] = lambda _n: None,
) -> None:
    """Encode the texts of the ``missing`` hashes, ``batch`` at a time, committing each
    batch to ``cache`` (an interrupted ingest resumes where it stopped)."""
    model = embedder.identity.fingerprint
    for i in range(0, len(missing), batch):
        part = list(missing[i : i + batch])
        vectors = embedder.encode_documents([search_key(texts[h]) for h in part], progress=False)
        cache.put_vectors(model, part, vectors)
        tick(len(part))
