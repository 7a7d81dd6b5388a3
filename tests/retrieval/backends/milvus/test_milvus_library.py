"""Issue 26 on Milvus: a library's named regulation, place and filters answer as on the
local backend, including the named regulation searched alone when it ranks below the
depth searched (``restricted(doc_ids)``, a Milvus filter expression there)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

from retrieval.backends import open_backend  # noqa: E402
from retrieval.engine import AnswerEngine  # noqa: E402
from retrieval.filters import Filters  # noqa: E402
from retrieval.ingest.embedding_cache import CACHE  # noqa: E402
from tests.support.corpora import LAW_SAMPLE, law_sample_engine  # noqa: E402

pytestmark = [
    pytest.mark.milvus,
    pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here"),
]

BIRTH = "地方性法规/{0}/{0}{1}人口与计划生育条例({2}).md"
LAW = "法律/反垄断法(2022-06-24).md"
FILES = (
    BIRTH.format("山东", "省", "2016-01-22"),
    BIRTH.format("河南", "省", "2021-11-27"),
    BIRTH.format("上海", "市", "2021-11-25"),
    LAW,
)


@pytest.fixture(scope="module")
def local(tmp_path_factory, embedder) -> AnswerEngine:
    return law_sample_engine(tmp_path_factory, embedder, FILES)


@pytest.fixture
def milvus(milvus_env, local, embedder, tmp_path) -> AnswerEngine:
    """The same library on Milvus, embedded from the local index's cache (nothing new)."""
    folder = tmp_path / "index"
    folder.mkdir()
    source = sqlite3.connect(f"file:{Path(local.index_dir) / CACHE}?mode=ro", uri=True)
    target = sqlite3.connect(folder / CACHE)
    source.backup(target)
    target.close()
    source.close()
    backend = open_backend(folder)
    documents = [local.index.document(d) for d in local.index.doc_ids()]
    result = backend.ingest(documents, embedder, progress=False)
    assert result.embedded == 0 and result.chunks == local.chunks
    return AnswerEngine(folder, embedder, backend=backend)


def _key(answer) -> list[tuple]:
    return [
        (r.doc_id, r.start, r.end, r.article, r.region, r.superseded_by) for r in answer.results
    ]


def test_a_named_regulation_below_the_depth_is_searched_alone_on_milvus(
    local, milvus, monkeypatch
) -> None:
    # two passages deep, the five birth-rule chunks win and 反垄断法 is not among them
    monkeypatch.setattr("retrieval.engine.MIN_DEPTH", 2)
    question = "《反垄断法》对男方护理假和婚假有什么规定？"
    monkeypatch.setattr("retrieval.engine.documents_named", lambda *a, **k: [])
    unnamed = milvus.ask(question, top_k=2)
    assert LAW not in [r.doc_id for r in unnamed.results]  # what a plain search gives
    monkeypatch.undo()
    monkeypatch.setattr("retrieval.engine.MIN_DEPTH", 2)
    answer = milvus.ask(question, top_k=2)
    assert answer.results[0].doc_id == LAW
    assert _key(answer) == _key(local.ask(question, top_k=2))


@pytest.mark.parametrize(
    ("question", "filters"),
    [
        ("《河南省人口与计划生育条例》规定男方护理假是多长时间？", None),
        ("在山东，夫妻结婚可以增加多少天婚假？", None),
        ("男方可以享受多少天护理假？", Filters.of(region="上海")),
    ],
)
def test_named_places_and_filters_answer_as_the_local_backend(
    local, milvus, question, filters
) -> None:
    mine, theirs = milvus.ask(question, filters=filters), local.ask(question, filters=filters)
    assert _key(mine) == _key(theirs)
    assert (mine.confident, mine.note) == (theirs.confident, theirs.note)
