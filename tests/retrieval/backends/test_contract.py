"""The backend contract (retrieval/backends/base.py): one set of cases run against every
backend: the local index folder, a Milvus Lite file and a ``milvus-lite server`` (the URI a
cluster would have), each built once per module from the shipped corpus by its own ingest
(with the seed index's embedding cache: nothing to embed).

What the answer core relies on: a version is published only by an ingest and named by
``current_version()``; candidates come best first as float32 scores and int64 ids; keyword
weights score as a keyword search does; rows locate spans of the clean text the ingest was
given; documents come back byte for byte, sources in corpus order; an ingest that changes
nothing publishes nothing; a changed document replaces the old one; another model is refused.
And both backends give the same top hits, so the same answers.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from corpus.document import Document
from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.normalize import search_key
from qabot_settings import BackendSettings
from retrieval.backends import open_backend
from retrieval.backends.base import Backend, Candidates, ChunkRow, Version, model_info
from retrieval.engine import AnswerEngine
from retrieval.errors import IndexMismatchError, IndexNotFoundError
from retrieval.ingest.embedding_cache import CACHE
from retrieval.ingest.plan import IngestResult
from retrieval.tokens import tokenize
from tests.support.corpora import BASE_DOCS, HYDROGEN

pytestmark = pytest.mark.slow  # the real model, real ingests

BACKENDS = [
    pytest.param("local", id="local"),
    pytest.param("milvus", id="milvus", marks=pytest.mark.milvus),
    pytest.param("milvus-server", id="milvus-server", marks=pytest.mark.milvus),
]
MILVUS = BACKENDS[1:]
QUESTIONS = {  # question -> the document that answers it
    "通武廊在政务服务方面要全面实现什么？": "tongwulang-pilot-agreement-2023.txt",
    "京津冀政协主席联席会议第六次会议在哪里召开？": "jjj-cppcc-joint-meeting-2020.txt",
    "北京大兴国际机场计划什么时候通航？": "beijing-jjj-work-plan-2019.txt",
    "通武廊签署了什么协议？": "tongwulang-pilot-agreement-2023.txt",
}
K = 20


def _quiet(_message: str) -> None:
    pass


def settings_for(name: str, folder: Path, request: pytest.FixtureRequest) -> BackendSettings:
    """The local backend; or a new collection in Milvus Lite (``folder/milvus.db``) or in the
    session's ``milvus-lite server``."""
    if name == "local":
        return BackendSettings(backend="local")
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    if name == "milvus":
        uri = str(folder / "milvus.db")
    else:
        uri = request.getfixturevalue("milvus_server")
    collection = f"c{uuid.uuid4().hex[:10]}"
    return BackendSettings(backend="milvus", milvus_uri=uri, collection=collection)


@dataclass
class Built:
    """A backend after one ingest of the shipped corpus, and the version it published."""

    name: str
    index_dir: Path
    backend: Backend
    documents: list[Document]
    corpus: list[str]
    result: IngestResult
    version: Version


def _build(name: str, root: Path, seed_index: Path, embedder, request) -> Built:
    index_dir = root / "index"
    index_dir.mkdir(parents=True)
    shutil.copy(seed_index / CACHE, index_dir / CACHE)  # vectors by chunk text: none to embed
    backend = open_backend(index_dir, settings_for(name, root, request))
    documents = load_corpus([shipped_corpus_dir()]).documents
    corpus = [str(shipped_corpus_dir())]
    result = backend.ingest(documents, embedder, progress=False, log=_quiet, corpus=corpus)
    version = backend.load(model_info(embedder.identity))
    return Built(name, index_dir, backend, documents, corpus, result, version)


@pytest.fixture(scope="module")
def build(request, tmp_path_factory, seed_index, embedder):
    """``build(name)``: that backend, ingested once for the whole module."""
    made: dict[str, Built] = {}

    def get(name: str) -> Built:
        if name not in made:
            root = tmp_path_factory.mktemp(f"contract-{name}")
            made[name] = _build(name, root, seed_index, embedder, request)
        return made[name]

    return get


@pytest.fixture(params=BACKENDS)
def name(request) -> str:
    return request.param


@pytest.fixture
def built(name, build) -> Built:
    return build(name)


def _query(embedder, question: str) -> np.ndarray:
    return embedder.encode_queries([search_key(question)])[0]


def _tokens(question: str) -> list[str]:
    return tokenize(search_key(question))


def _assert_best_first(found: Candidates, k: int) -> None:
    assert isinstance(found, Candidates)
    assert found.scores.dtype == np.float32 and found.ids.dtype == np.int64
    assert len(found.scores) == len(found.ids) and 0 < len(found.ids) <= k
    assert np.all(np.diff(found.scores) <= 0), found.scores  # best first
    assert len(set(found.ids.tolist())) == len(found.ids)  # each chunk once


# -- before and after an ingest ---------------------------------------------------------


def test_no_version_before_an_ingest(name, tmp_path, request):
    backend = open_backend(tmp_path / "index", settings_for(name, tmp_path, request))
    assert backend.current_version() is None
    with pytest.raises(IndexNotFoundError):
        backend.load()
    assert backend.previous_corpus() == []


def test_the_live_version_is_the_one_the_ingest_published(built):
    assert built.result.version is not None
    assert built.backend.current_version() == built.version.version == built.result.version


def test_size_counts_the_live_chunks(built):
    assert built.version.size == built.result.chunks == built.version.manifest.chunks > 0
    assert built.version.total == built.version.size  # nothing deleted yet


def test_previous_corpus_is_what_the_ingest_was_given(built):
    assert built.backend.previous_corpus() == built.corpus


def test_another_model_is_refused(built, embedder):
    other = {"name": "another-model", "fingerprint": "0" * 16, "dimension": 384}
    with pytest.raises(IndexMismatchError, match="another-model"):
        built.backend.load(other)
    assert built.backend.load(model_info(embedder.identity)).version == built.version.version


# -- candidates ---------------------------------------------------------------------------


def test_dense_candidates_are_float32_scores_best_first(built, embedder):
    for question in QUESTIONS:
        found = built.version.dense_candidates(_query(embedder, question), K)
        _assert_best_first(found, K)
        assert len(found.ids) == min(K, built.version.size)
        assert -1.0 <= found.scores[-1] <= found.scores[0] <= 1.0001  # cosine


def test_keyword_candidates_are_float32_scores_best_first(built):
    for question in QUESTIONS:
        found = built.version.keyword_candidates(_tokens(question), K)
        _assert_best_first(found, K)
        assert np.all(found.scores > 0)
    assert len(built.version.keyword_candidates([], K).ids) == 0
    assert len(built.version.keyword_candidates(["完全没有的词语甲乙丙"], K).ids) == 0


def test_keyword_weights_score_the_chunks_as_a_keyword_search_does(built):
    tokens = _tokens("2019年工作要点 疏解非首都功能 医疗卫生")
    scores, ids = built.version.keyword_candidates(tokens, 100)
    expected = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    picked = ids[::3].tolist()
    absent = max(expected) + 10_000  # an id no chunk has
    got = built.version.keyword_weights(tokens, [*picked, absent])
    assert len(picked) > 5 and got == pytest.approx({i: expected[i] for i in picked}, rel=1e-5)
    assert built.version.keyword_weights(tokens, []) == {}


def test_rows_locate_spans_of_the_documents_text(built, embedder):
    version = built.version
    for question in QUESTIONS:
        dense = version.dense_candidates(_query(embedder, question), K).ids.tolist()
        keyword = version.keyword_candidates(_tokens(question), K).ids.tolist()
        ids = list(dict.fromkeys(dense + keyword))
        rows = version.rows([*ids, max(ids) + 10_000])  # an id no chunk has is left out
        assert set(rows) == set(ids)
        for chunk_id, row in rows.items():
            assert isinstance(row, ChunkRow) and row.id == chunk_id
            assert 0 <= row.start < row.end
            assert version.document(row.doc_id).text[row.start : row.end].strip()


# -- documents --------------------------------------------------------------------------


def test_documents_come_back_as_the_ingest_was_given_them(built):
    for doc in built.documents:
        stored = built.version.document(doc.doc_id)
        assert stored is not None and stored.text == doc.text  # byte for byte
        assert (stored.title, stored.date, stored.source, stored.url) == (
            doc.title,
            doc.date,
            doc.source,
            doc.url,
        )
    assert built.version.document("no-such-document.txt") is None


def test_sources_list_the_documents_in_corpus_order(built):
    sources = built.version.sources()
    assert [s[0] for s in sources] == [d.doc_id for d in built.documents]
    assert [s[1] for s in sources] == [d.title for d in built.documents]


def test_chunk_texts_are_every_live_chunk(built):
    chunks = list(built.version.chunk_texts())
    assert len(chunks) == built.version.size
    assert len({chunk_id for chunk_id, _, _ in chunks}) == len(chunks)
    rows = built.version.rows([chunk_id for chunk_id, _, _ in chunks])
    for chunk_id, doc_id, text in chunks:
        row = rows[chunk_id]
        assert row.doc_id == doc_id and text.strip()
        assert built.version.document(doc_id).text[row.start : row.end] == text


# -- the same hits and answers on every backend -------------------------------------------


def _top_row(version: Version, found: Candidates) -> tuple[str, int, int]:
    row = version.rows([int(found.ids[0])])[int(found.ids[0])]
    return row.doc_id, row.start, row.end


@pytest.mark.parametrize("other", MILVUS)
def test_the_backends_find_the_same_top_hits(build, embedder, other):
    local, milvus = build("local"), build(other)
    for question in QUESTIONS:
        query, tokens = _query(embedder, question), _tokens(question)
        ours = local.version.dense_candidates(query, K)
        theirs = milvus.version.dense_candidates(query, K)
        assert _top_row(local.version, ours) == _top_row(milvus.version, theirs), question
        assert theirs.scores[0] == pytest.approx(ours.scores[0], abs=1e-4)
        ours = local.version.keyword_candidates(tokens, K)
        theirs = milvus.version.keyword_candidates(tokens, K)
        assert _top_row(local.version, ours) == _top_row(milvus.version, theirs), question
        assert theirs.scores[0] == pytest.approx(ours.scores[0], rel=1e-4)


def _engine(built: Built, embedder) -> AnswerEngine:
    return AnswerEngine(
        built.index_dir, embedder, backend=built.backend, loaded=built.backend.load()
    )


def test_the_engine_answers_from_the_backend(built, embedder):
    engine = _engine(built, embedder)
    for question, doc_id in QUESTIONS.items():
        assert engine.ask(question, top_k=3).results[0].doc_id == doc_id, question


@pytest.mark.parametrize("other", MILVUS)
def test_the_engine_answers_alike_on_every_backend(build, embedder, other):
    local, milvus = _engine(build("local"), embedder), _engine(build(other), embedder)
    for question in QUESTIONS:
        ours, theirs = local.ask(question, top_k=3), milvus.ask(question, top_k=3)
        assert [r.doc_id for r in theirs.results] == [r.doc_id for r in ours.results]


# -- ingests that change nothing, and one that changes a document -------------------------


def test_an_ingest_of_unchanged_documents_publishes_no_version(built, embedder):
    result = built.backend.ingest(
        built.documents, embedder, progress=False, log=_quiet, corpus=built.corpus
    )
    assert result.version == built.version.version == built.backend.current_version()
    assert result.embedded == 0 and result.plan.changes_nothing()
    assert result.plan.unchanged == [d.doc_id for d in built.documents]


def test_a_changed_document_replaces_the_old_one(name, tmp_path, embedder, request):
    backend = open_backend(tmp_path / "index", settings_for(name, tmp_path, request))
    docs = {name: Document(name, text.split("\n")[0], text) for name, text in BASE_DOCS.items()}
    first = backend.ingest(list(docs.values()), embedder, progress=False, log=_quiet)
    old = "京张高铁建成通车。"
    assert old in docs["transport.txt"].text
    changed = docs["transport.txt"].text.replace(old, HYDROGEN)
    docs["transport.txt"] = Document("transport.txt", docs["transport.txt"].title, changed)

    second = backend.ingest(list(docs.values()), embedder, progress=False, log=_quiet)
    assert second.plan.changed == ["transport.txt"] and second.version != first.version
    assert sorted(second.plan.unchanged) == ["ecology.txt", "industry.txt"]
    version = backend.load(model_info(embedder.identity))
    assert version.version == second.version
    assert version.document("transport.txt").text == changed

    found = version.keyword_candidates(_tokens("临港氢能示范园区"), 5)
    top = version.rows([int(found.ids[0])])[int(found.ids[0])]
    assert top.doc_id == "transport.txt"
    assert "氢能" in version.document("transport.txt").text[top.start : top.end]
    assert all(old not in text for _, _, text in version.chunk_texts())  # the old is gone
    for found in (
        version.keyword_candidates(_tokens(old), 5),
        version.dense_candidates(_query(embedder, old), 5),
    ):
        for row in version.rows(found.ids.tolist()).values():
            assert old not in version.document(row.doc_id).text[row.start : row.end]


# --- filters (issue 26): pushed down, and exact --------------------------------------------
def _filter_cases(version: Version):
    from retrieval.filters import Filters

    metas = version.document_meta()
    dates = sorted(m.date for m in metas.values() if m.date)
    regions = sorted({m.region for m in metas.values() if m.region})
    cases = [Filters.of(since=dates[len(dates) // 2]), Filters.of(until=dates[len(dates) // 3])]
    cases += [Filters.of(region=r) for r in regions[:2]]
    cases.append(Filters.of(since="2999"))  # selects nothing
    return cases


def test_filtered_search_equals_deep_search_filtered_afterwards(built: Built, embedder) -> None:
    version = built.version
    for question in QUESTIONS:
        key = search_key(question)
        vector = embedder.encode_queries([key])[0]
        tokens = tokenize(key)
        dense_all = version.dense_candidates(vector, version.size)
        keyword_all = version.keyword_candidates(tokens, version.size)
        rows = version.rows([int(i) for i in set(dense_all.ids) | set(keyword_all.ids)])
        for filters in _filter_cases(version):
            chosen = filters.select(version.document_meta())
            view = version.restricted(filters)
            for found, full in (
                (view.dense_candidates(vector, K), dense_all),
                (view.keyword_candidates(tokens, K), keyword_all),
            ):
                expected = [int(i) for i in full.ids if rows[int(i)].doc_id in chosen][:K]
                assert len(found.ids) == len(expected), filters
                # the same chunks (ties may swap places), with the same scores
                assert sorted(found.ids.tolist()) == sorted(expected), filters
                scores = dict(zip(full.ids.tolist(), full.scores.tolist(), strict=True))
                np.testing.assert_allclose(
                    found.scores, [scores[int(i)] for i in found.ids], rtol=1e-4, atol=1e-5
                )


def test_manifest_holds_document_metadata(built: Built) -> None:
    metas = built.version.document_meta()
    assert set(metas) == {d.doc_id for d in built.documents}
    assert all(m.date == d.date for d, m in ((d, metas[d.doc_id]) for d in built.documents))
    assert built.version.manifest.meta_version >= 1
