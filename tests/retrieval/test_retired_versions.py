"""A reader whose version was retired under it answers from the live one (issue 28): never
an empty answer because another process published (retrieval/engine.py, local backend)."""

from __future__ import annotations

import pytest

import retrieval.backends.local.folder as folder
from corpus.loading import load_corpus
from retrieval.backends.local.ingest import ingest
from retrieval.backends.local.version import LocalVersion
from retrieval.engine import AnswerEngine
from retrieval.errors import VersionRetiredError
from tests.support.corpora import write_corpus

QUESTION = "雄安新区规划什么时候发布"


def _ingest(index, corpus, embedder) -> str:
    docs = load_corpus([corpus]).documents
    return ingest(index, docs, embedder, progress=False, log=lambda _m: None).version


def _edition(corpus, n: int) -> None:
    write_corpus(
        corpus,
        {
            "a.txt": f"规划（第{n}版）\n雄安新区规划于2018年4月发布，这是第{n}版。",
            "b.txt": f"协议（第{n}版）\n通武廊三地签署合作协议，这是第{n}版。",
        },
    )


@pytest.fixture
def no_grace(monkeypatch):
    monkeypatch.setattr(folder, "RETIRE_AFTER_S", 0.0)  # retire at once, as after a long wait


def test_a_reader_on_a_retired_version_answers_from_the_live_one(tmp_path, embedder, no_grace):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _edition(corpus, 1)
    _ingest(index, corpus, embedder)
    engine = AnswerEngine(index, embedder)  # loaded, and never refreshed below
    for n in (2, 3):  # two publishes: the engine's version is pruned, its rows collected
        _edition(corpus, n)
        live = _ingest(index, corpus, embedder)
    answer = engine.ask(QUESTION)
    assert answer.results, "an empty answer because of a publish"
    assert answer.version == live and engine.version == live
    assert "第3版" in answer.results[0].excerpt
    assert {s.doc_id for s in engine.sources()} == {"a.txt", "b.txt"}
    assert "第3版" in engine.context("a.txt", 0, 5)[0]


def test_a_retired_version_says_so_instead_of_returning_nothing(tmp_path, embedder, no_grace):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    _edition(corpus, 1)
    _ingest(index, corpus, embedder)
    old = folder.load_version(index)
    ids = [int(i) for i in old.segments[0].ids]
    for n in (2, 3):
        _edition(corpus, n)
        _ingest(index, corpus, embedder)
    assert isinstance(old, LocalVersion)
    with pytest.raises(VersionRetiredError):
        old.rows(ids)
    with pytest.raises(VersionRetiredError):
        old.document("a.txt")
