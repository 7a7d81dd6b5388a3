"""The answer core: ``question -> Answer``, shared by Telegram and the console."""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable
from functools import cached_property, lru_cache
from pathlib import Path

from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.normalize import search_key
from embeddings.model import Embedder, load_embedder
from retrieval.answer import Answer, Result, Source
from retrieval.confidence import AbstentionPolicy, content_words, word_coverage
from retrieval.errors import IndexMismatchError, IndexNotFoundError, QueryError, RetrievalError
from retrieval.index import LoadedIndex, current_version, default_index_dir, load_index
from retrieval.ingest import ingest, model_info
from retrieval.keywords import tokenize
from retrieval.marking import Idf, inverse_document_frequency, mark_sentences, off_topic
from retrieval.search import Passage, SearchSettings, search

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
MIN_DEPTH = 10
_SEARCHABLE = re.compile(r"\w")


@lru_cache(maxsize=4)
def shared_embedder(ref: str | None = None) -> Embedder:
    """One embedder per process and model setting (loading takes seconds)."""
    return load_embedder(ref)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Loaded:
    """An index version plus what is derived from it once."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index

    @cached_property
    def idf(self) -> Idf:
        return inverse_document_frequency(c.tokens for c in self.index.chunks)


class AnswerEngine:
    """Answers questions from one index folder, switching to newer versions on refresh()."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        policy: AbstentionPolicy | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self.policy = policy or AbstentionPolicy()
        self._swap = threading.Lock()
        self._loaded = _Loaded(self._load_checked())

    @classmethod
    def open(
        cls,
        index_dir: Path | None = None,
        embedder: Embedder | None = None,
        build_if_missing: bool = True,
        progress: Callable[[str], None] = _stderr,
    ) -> AnswerEngine:
        """Open an index folder; with none there yet, build one from the shipped corpus."""
        index_dir = Path(index_dir) if index_dir else default_index_dir()
        if current_version(index_dir) is None and not build_if_missing:
            raise IndexNotFoundError(
                f"no index in {index_dir} (build one: python -m bot ingest --index {index_dir})"
            )
        embedder = embedder or shared_embedder()
        if current_version(index_dir) is None:
            progress(f"No index in {index_dir} yet: building one from the shipped corpus …")
            seed = shipped_corpus_dir()
            report = load_corpus([seed])
            result = ingest(index_dir, report.documents, embedder, log=progress, corpus=[str(seed)])
            progress(result.summary())
        return cls(index_dir, embedder)

    def _load_checked(self) -> LoadedIndex:
        index = load_index(self.index_dir)
        wanted = model_info(self.embedder.identity)
        if index.manifest.model.get("fingerprint") != wanted["fingerprint"]:
            raise IndexMismatchError(
                f"the index in {self.index_dir} was built with {index.manifest.model.get('name')}, "
                f"not the configured {wanted['name']}; run: python -m bot ingest --rebuild"
            )
        return index

    @property
    def index(self) -> LoadedIndex:
        return self._loaded.index

    @property
    def version(self) -> str:
        return self.index.version

    def refresh(self) -> bool:
        """Switch to a newer index version if one was published; True if it switched."""
        latest = current_version(self.index_dir)
        if latest is None or latest == self.version:
            return False
        with self._swap:
            if current_version(self.index_dir) == self.version:
                return False
            old = self.version
            self._loaded = _Loaded(self._load_checked())
        log.info("switched index %s → %s", old, self.version)
        return True

    def ask(self, question: str, top_k: int = 5, offset: int = 0) -> Answer:
        """Ranked, cited excerpts for ``question``; ``offset`` skips results already shown."""
        question = (question or "").strip()
        if not _SEARCHABLE.search(question):
            raise QueryError("the question is empty: type a question in Chinese or English")
        if top_k < 1 or offset < 0:
            raise QueryError("top-k must be at least 1 and offset at least 0")
        loaded = self._loaded
        key = search_key(question[:MAX_QUESTION_CHARS])
        tokens = tokenize(key)
        vector = self.embedder.encode_queries([key])[0]
        # Ranking at a fixed depth keeps each result's merged span the same for any top_k.
        depth = max(offset + top_k, MIN_DEPTH)
        passages = search(loaded.index, vector, tokens, depth, self.settings)
        coverage = self._coverage(loaded, key, passages[0]) if passages else 0.0
        confident = bool(passages) and self.policy.confident(coverage)
        results = [
            self._result(loaded, rank, p, key)
            for rank, p in enumerate(passages[offset : offset + top_k], start=offset + 1)
        ]
        docs = loaded.index.documents
        keys = [search_key(docs[p.doc_id].text[p.start : p.end]) for p in passages]
        unrelated = not confident and off_topic(content_words(key), keys, loaded.idf)
        return Answer(question, confident, results, off_topic=unrelated)

    def _coverage(self, loaded: _Loaded, key: str, passage: Passage) -> float:
        doc = loaded.index.documents[passage.doc_id]
        return word_coverage(key, search_key(doc.text[passage.start : passage.end]), loaded.idf)

    def _result(self, loaded: _Loaded, rank: int, p: Passage, key: str) -> Result:
        doc = loaded.index.documents[p.doc_id]
        excerpt = doc.text[p.start : p.end]
        return Result(
            rank=rank,
            doc_id=doc.doc_id,
            title=doc.title,
            date=doc.date,
            source=doc.source,
            score=round(float(p.score), 6),
            excerpt=excerpt,
            start=p.start,
            end=p.end,
            marks=mark_sentences(excerpt, key, loaded.idf),
        )

    def sources(self) -> list[Source]:
        """The indexed documents, in corpus order."""
        return [
            Source(d.doc_id, d.title, d.date, d.source, d.url, len(d.text))
            for d in self.index.documents.values()
        ]

    def context(self, doc_id: str, start: int, end: int, margin: int = 300) -> tuple[str, int, int]:
        """The excerpt with up to ``margin`` characters around it, cut at line/sentence ends."""
        doc = self.index.documents.get(doc_id)
        if doc is None:
            raise RetrievalError(f"document not in the index: {doc_id}")
        text = doc.text
        lo = max(0, min(start, len(text)) - margin)
        hi = min(len(text), max(end, 0) + margin)
        ends = "\n。！？；"
        if lo > 0:  # start at the first sentence that begins inside the margin
            cuts = [i for i in (text.find(ch, lo, start) for ch in ends) if i >= 0]
            lo = min(cuts) + 1 if cuts else lo
        if hi < len(text):  # stop at the last sentence that ends inside the margin
            cut = max(text.rfind(ch, end, hi) for ch in ends)
            hi = cut + 1 if cut >= 0 else hi
        return text[lo:hi], lo, hi
