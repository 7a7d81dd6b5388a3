"""The answer core: ``question -> Answer``, shared by Telegram and the console."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np

import qabot_settings
from corpus.document import Document
from corpus.normalize import search_key
from corpus.structure import Position, advance
from embeddings.model import Embedder, load_embedder
from qabot_settings import AnswerSettings
from retrieval import threads
from retrieval.answer import Answer, Result, Source
from retrieval.backends import open_backend
from retrieval.backends.base import Backend, ChunkRow, Version, model_info
from retrieval.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    QueryError,
    RetrievalError,
    VersionRetiredError,
)
from retrieval.filters import DocMeta, Filters
from retrieval.query.articles import documents_named, pin_named_article, titles_of
from retrieval.query.confidence import (
    AbstentionPolicy,
    answer_features,
    asked_types,
    content_words,
    library_features,
    question_features,
    topic_uncovered,
)
from retrieval.query.library import (
    asked_places,
    current_first,
    is_rule,
    mismatch,
    named_first,
    past_first,
    place_first,
    typed_first,
    verbatim_first,
    version_info,
)
from retrieval.query.marking import Idf, Similarity, answer_mark, mark_sentences, off_topic
from retrieval.query.search import Passage, SearchSettings, search_with_signals
from retrieval.tokens import has_chinese, lucene_idf, tokenize, warm_up

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
MIN_DEPTH = 10
_SEARCHABLE = re.compile(r"\w")
_RETRIES = 3  # versions tried when the loaded one turns out retired
T = TypeVar("T")


@lru_cache(maxsize=4)
def shared_embedder(ref: str | None = None) -> Embedder:
    """One embedder per process and model setting (loading takes seconds)."""
    return load_embedder(ref)


class AnswerEngine:
    """Answers questions from one backend (default: the index folder), switching to newer
    versions on refresh().

    Questions are answered from whichever version is loaded; a refresh loads the
    next one in the calling thread while other threads keep answering from the
    old one, then swaps it in. A version that cannot be loaded is logged once
    and not tried again.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        policy: AbstentionPolicy | None = None,
        loaded: Version | None = None,
        backend: Backend | None = None,
        answers: AnswerSettings | None = None,
    ) -> None:
        answers = answers or AnswerSettings.from_env()
        self.index_dir = index_dir
        self.backend = backend or open_backend(index_dir)
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self.policy = policy or AbstentionPolicy.from_file(answers.confidence_model)
        self._swap = threading.Lock()
        self._failed: dict[str, str] = {}  # version -> why it could not be loaded
        self.refresh_error: str | None = None  # the last refusal, for a console to show
        self.semantic_marks = answers.semantic_marks  # opt-in: adds query time
        wanted = model_info(embedder.identity)
        where = self.backend.where
        problem = loaded.manifest.mismatch(wanted, where) if loaded is not None else None
        if problem:
            raise IndexMismatchError(problem)
        self._loaded = loaded or self.backend.load(wanted)
        threads.for_serving()

    @classmethod
    def open(
        cls,
        index_dir: Path | None = None,
        embedder: Embedder | None = None,
        backend: Backend | None = None,
        answers: AnswerSettings | None = None,
    ) -> AnswerEngine:
        """Open the configured backend for an index folder (see retrieval.backends).

        Only answers: with no index there, IndexNotFoundError says how to build one.
        """
        index_dir = Path(index_dir) if index_dir else qabot_settings.index_dir()
        backend = backend or open_backend(index_dir)
        if backend.current_version() is None:
            raise IndexNotFoundError(
                f"no index in {backend.where} (build one: python -m bot ingest --index {index_dir})"
            )
        # Cold start: the index, the segmenters' dictionaries and the model load side by side.
        with ThreadPoolExecutor(2, thread_name_prefix="open") as pool:
            segmenters = pool.submit(warm_up)
            index = pool.submit(backend.load)
            embedder = embedder or shared_embedder()
            segmenters.result()
            return cls(index_dir, embedder, loaded=index.result(), backend=backend, answers=answers)

    def prepare(self) -> None:
        """Build what answering otherwise builds on a version's first question that needs it
        (the title dictionary behind named regulations: ~0.6 s at 63k documents, linear):
        long-running servers call it after a load or a switch, so no question waits. Never
        raises: what fails here is built again, and reported, by the question needing it."""
        try:
            titles_of(self._loaded)
        except Exception as exc:  # noqa: BLE001 - a warm-up; the question path reports it
            log.warning("preparing index version %s: %s", self.version, exc)

    @property
    def index(self) -> Version:
        return self._loaded

    @property
    def version(self) -> str:
        return self._loaded.version

    @property
    def chunks(self) -> int:
        """Live chunks in the loaded version."""
        return self._loaded.size

    def refresh(self) -> bool:
        """Switch to a newer index version if one was published; True if it switched.

        Never waits for another thread's load: while one thread loads, the others
        return at once and go on answering from the old version.
        """
        latest = self.backend.current_version()
        if latest is None or latest == self.version or latest in self._failed:
            return False
        if not self._swap.acquire(blocking=False):
            return False
        try:
            latest = self.backend.current_version()
            if latest is None or latest == self.version or latest in self._failed:
                return False
            old = self.version
            try:
                loaded = self.backend.load(model_info(self.embedder.identity), reuse=self._loaded)
            except (RetrievalError, OSError, ValueError, KeyError, RuntimeError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._failed[latest] = reason
                self.refresh_error = (
                    f"index version {latest} not loaded ({reason}); still using {old}"
                )
                log.warning(self.refresh_error)
                return False
            self._loaded = loaded
        finally:
            self._swap.release()
        log.info("switched index %s → %s", old, self.version)
        return True

    def ask(
        self, question: str, top_k: int = 5, offset: int = 0, filters: Filters | None = None
    ) -> Answer:
        """Ranked, cited excerpts for ``question``; ``offset`` skips results already shown;
        ``filters`` (retrieval/filters.py): only from the documents they select, pushed down
        into the backend's search."""
        question = (question or "").strip()
        if not _SEARCHABLE.search(question):
            raise QueryError("the question is empty: type a question in Chinese or English")
        if top_k < 1 or offset < 0:
            raise QueryError("top-k must be at least 1 and offset at least 0")
        key = search_key(question[:MAX_QUESTION_CHARS])
        tokens = tokenize(key)
        vector = self.embedder.encode_queries([key])[0]
        return self._on_live(
            lambda index: self._answer(
                index.restricted(filters) if filters else index,
                question,
                key,
                tokens,
                vector,
                top_k,
                offset,
                filters,
            )
        )

    def _on_live(self, work: Callable[[Version], T]) -> T:
        """``work(version)``; if that version was retired meanwhile (a later ingest collected
        its rows), load the live one and do it again: never an empty answer for a publish."""
        for attempt in range(_RETRIES):
            index = self._loaded
            try:
                return work(index)
            except VersionRetiredError as exc:
                if attempt == _RETRIES - 1:
                    raise
                self._replace_retired(index, exc)
        raise AssertionError("unreachable")

    def _replace_retired(self, retired: Version, why: VersionRetiredError) -> None:
        """Load the live version in place of ``retired`` (waiting for another thread that
        is already doing it, unlike refresh())."""
        with self._swap:
            if self._loaded is not retired:
                return  # another thread replaced it while we waited
            loaded = self.backend.load(model_info(self.embedder.identity), reuse=retired)
            self._loaded = loaded
        log.info("%s; now answering from %s", why, loaded.version)

    def _answer(
        self, index: Version, question, key, tokens, vector, top_k, offset, filters=None
    ) -> Answer:
        """The answer from ``index`` (one version) for a question already encoded."""
        # Ranking at a fixed depth keeps each result's merged span the same for any top_k.
        depth = max(offset + top_k, MIN_DEPTH)
        passages, signals = search_with_signals(index, vector, tokens, depth, self.settings)
        # Each document is read once per question, then shared by every step below.
        docs = {d: index.document(d) for d in dict.fromkeys(p.doc_id for p in passages)}
        passages = [p for p in passages if docs[p.doc_id] is not None]
        idf = lru_cache(maxsize=None)(index.idf)  # one question's tokens, looked up once each
        metas, groups = _library(index)
        allowed = _allowed(filters, metas)
        # issue 26 (retrieval/query/library.py): a regulation the question names by title
        # first, then a place it names ahead of other places' rules; a named article
        # (《X条例》第九条) first, whole; the current version ahead of older ones
        named = documents_named(index, key, allowed) if passages else []
        if named and not any(p.doc_id in named for p in passages):
            # the regulation named ranked below the depth searched: search it alone
            inside, _ = search_with_signals(
                index.restricted(Filters.of(doc_ids=named)), vector, tokens, depth, self.settings
            )
            docs.update({d: index.document(d) for d in {p.doc_id for p in inside} - docs.keys()})
            passages = [p for p in inside if docs[p.doc_id] is not None] + passages
        places = asked_places(key, filters)
        passages = place_first(named_first(passages, named), places, metas)
        keys: dict[tuple[str, int, int], str] = {}

        def key_of(p: Passage) -> str:  # a passage's search key, folded once per question
            span = (p.doc_id, p.start, p.end)
            if span not in keys:
                keys[span] = search_key(docs[p.doc_id].text[p.start : p.end])
            return keys[span]

        passages = verbatim_first(passages, key, key_of, metas)
        unmoved = passages[0] if passages else None  # what confidence was fitted on reading
        if asked_types(key):
            weights = {w: idf(w) for w in content_words(key)}
            passages = typed_first(
                passages,
                lambda p: answer_features(key, key_of(p), weights)["type_missing"] > 0,
                metas,
            )
        searched_top = passages[0] if passages else None
        passages = pin_named_article(index, key, passages, index.document, docs, allowed)
        pinned = passages[0] if passages and passages[0] is not searched_top else None
        passages = past_first(current_first(passages, groups, metas, key), groups, metas, key)
        features, probability = None, 0.0
        if passages:
            top = passages[0]
            if top is searched_top and top is not unmoved:
                top = unmoved  # typed_first shows the figure; confidence judges search's pick
            fused = signals.fused_first
            if top is not pinned and fused is not None and fused.doc_id == top.doc_id:
                top = fused  # confidence reads what it was fitted on
            top_key = key_of(top)
            rarest = float(lucene_idf(1, index.total))
            features = question_features(key, tokens, top, top_key, signals, idf, rarest)
            top_meta = metas.get(top.doc_id) or DocMeta()
            features |= library_features(
                named=top.doc_id in named,
                place_match=bool(places) and top_meta.region in places and is_rule(top_meta),
                article=top is pinned,
                type_missing=features["type_missing"],
                uncovered=topic_uncovered(  # in any passage search found of the document
                    key,
                    search_key(docs[top.doc_id].title or ""),
                    "\n".join(key_of(p) for p in passages if p.doc_id == top.doc_id),
                    idf,
                ),
            )
            probability = self.policy.probability(features)
        confident = bool(passages) and self.policy.confident(probability)
        page = passages[offset : offset + top_k]
        cites = _cites(index)
        # English words cannot match Chinese sentences: mark those questions by meaning
        meaning = (
            self._similarity(vector) if self.semantic_marks or not has_chinese(tokens) else None
        )
        results = [
            self._result(docs[p.doc_id], rank, p, key, idf, cites, meaning if rank == 1 else None)
            for rank, p in enumerate(page, start=offset + 1)
        ]
        unrelated = not confident and off_topic(
            content_words(key),
            (key_of(p) for p in passages),
            idf,
        )
        # issue 26: versions marked; a place or time no cited document matches is said so
        results = version_info(results, groups, metas)
        note, trusted = mismatch(key, results, metas, filters)
        return Answer(
            question,
            confident and trusted,
            results,
            off_topic=unrelated,
            probability=round(probability, 4),
            features=features,
            version=index.version,
            note=note,
            filters=filters.to_json() if filters else None,
        )

    def _similarity(self, vector: np.ndarray) -> Similarity:
        """Cosine of a few sentences to the question (its vector already computed)."""

        def similarity(texts):
            return (self.embedder.encode_sentences(texts) @ vector).tolist()

        return similarity

    def _result(
        self,
        doc: Document,
        rank: int,
        p: Passage,
        key: str,
        idf: Idf,
        cites: bool,
        similarity: Similarity | None = None,
    ) -> Result:
        excerpt = doc.text[p.start : p.end]
        marks = mark_sentences(excerpt, key, idf, doc.title, similarity)
        lead = marks[answer_mark(excerpt, marks, key, idf, doc.title)] if marks else None
        where, row = _where(doc.text, p, lead) if cites else (Position(), None)
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
            marks=marks,
            section=where.section,
            article=where.article,
            doc_number=row.doc_number if row else None,
            issuer=row.issuer if row else None,
        )

    def sources(self) -> list[Source]:
        """The indexed documents, in corpus order."""
        return self._on_live(lambda index: [Source(*row) for row in index.sources()])

    def document(self, doc_id: str) -> Document | None:
        """The document as the live version has it, or None if it has no such document."""
        return self._on_live(lambda index: index.document(doc_id))

    def context(self, doc_id: str, start: int, end: int, margin: int = 300) -> tuple[str, int, int]:
        """The excerpt with up to ``margin`` characters around it, cut at line/sentence ends."""
        doc = self.document(doc_id)
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


def _where(
    text: str, passage: Passage, lead: tuple[int, int] | None
) -> tuple[Position, ChunkRow | None]:
    """The heading path and article at the answer sentence (``lead``, the mark holding most
    of the question's matched words, relative to the excerpt; else the passage's start): from
    the stored position of the last of its chunks that begins at or before that point,
    advanced over the headings between the two. Also that chunk's row."""
    anchor = passage.start + (lead[0] if lead else 0)
    found = passage.chunks
    before = [r for r in found if r.start <= anchor]
    if not before:
        return Position(), found[0] if found else None
    row = max(before, key=lambda r: r.start)
    return advance(text, Position.of(row.section, row.article), row.start, anchor), row


def _library(index: Version) -> tuple[dict[str, DocMeta], list[list[str]]]:
    """(document metadata, version groups) of a version (issue 26; empty for an index
    ingested before it, or a Version without them)."""
    meta = getattr(index, "document_meta", None)
    return (meta() if meta else {}), list(getattr(index.manifest, "versions", None) or [])


def _allowed(filters: Filters | None, metas: dict[str, DocMeta]) -> Callable[[str], bool]:
    """Whether a document may be cited under ``filters`` (every one without filters; under
    filters, one whose metadata is unknown is not)."""
    if not filters:
        return lambda _doc_id: True
    return lambda doc_id: doc_id in metas and filters.matches(metas[doc_id])


def _cites(index: Version) -> bool:
    """Whether the version's chunk rows carry citation fields (chunker 2 on); an older
    index shows none until the next ingest re-chunks it."""
    return index.manifest.chunker_version.isdigit() and int(index.manifest.chunker_version) >= 2
