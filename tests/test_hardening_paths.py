"""Paths that mattered but had no test: pruning, a version pruned mid-load, a no-op ingest,
the other eval modes, RRF fusion, the merged-excerpt cap, the held-out question set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import retrieval.backends.local.folder as index_module
from corpus.loading import load_corpus
from retrieval.backends.base import ChunkRow
from retrieval.backends.local.folder import (
    CURRENT,
    VERSIONS,
    current_version,
    load_version,
    prune_versions,
    publish,
    version_dir,
)
from retrieval.backends.local.ingest import ingest
from retrieval.engine import AnswerEngine
from retrieval.errors import RetrievalError
from retrieval.evaluation import evaluate, read_queries
from retrieval.query.search import SearchSettings, _merge, fuse
from tests.support import DATA
from tests.support.corpora import write_corpus


def _versions(index: Path) -> list[str]:
    return sorted(p.name for p in (index / VERSIONS).iterdir() if not p.name.startswith("."))


def _ingest(index: Path, corpus: Path, embedder) -> str:
    docs = load_corpus([corpus]).documents
    return ingest(index, docs, embedder, progress=False, log=lambda _m: None).version


def test_pruning_keeps_the_newest_two_and_always_the_live_one(tmp_path, embedder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    made = []
    for i in range(4):
        write_corpus(corpus, {"a.txt": f"第{i}版\n雄安新区第{i}版规划于2018年发布。"})
        made.append(_ingest(index, corpus, embedder))
    assert _versions(index) == made[-2:]  # each ingest prunes to two

    publish(index, made[-2])  # an operator rolled back to the older one
    kept = prune_versions(index, keep=1)
    assert _versions(index) == made[-2:]  # the newest, and the live one although older
    assert {m.version for m in kept} == set(made[-2:])


def test_a_version_pruned_while_loading_is_read_again(tmp_path, embedder, monkeypatch):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, {"a.txt": "甲\n雄安新区规划于2018年发布。"})
    first = _ingest(index, corpus, embedder)
    write_corpus(corpus, {"a.txt": "甲\n雄安新区规划于2018年4月发布。"})
    second = _ingest(index, corpus, embedder)
    stale = version_dir(index, first)
    assert stale.is_dir()
    answers = iter([first])  # the first read of CURRENT still names the old version …

    def racing_current(index_dir: Path) -> str | None:
        name = next(answers, None)
        if name is not None:
            index_module.shutil.rmtree(stale)  # … which an ingest prunes right then
            return name
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()

    monkeypatch.setattr(index_module, "current_version", racing_current)
    loaded = load_version(index)
    assert loaded.version == second


def test_an_ingest_with_nothing_new_publishes_nothing(tmp_path, embedder):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_corpus(
        corpus, {"a.txt": "甲\n雄安新区规划于2018年发布。", "b.txt": "乙\n通武廊签署协议。"}
    )
    version = _ingest(index, corpus, embedder)
    stamp = os.stat(index / CURRENT).st_mtime_ns
    assert _ingest(index, corpus, embedder) == version
    assert current_version(index) == version and _versions(index) == [version]
    assert os.stat(index / CURRENT).st_mtime_ns == stamp


@pytest.mark.parametrize("mode", ["dense", "keyword", "bigram-bm25"])
def test_the_other_eval_modes_rank_the_seed_questions(seed_engine, mode):
    queries = read_queries(DATA / "seed_questions.jsonl")[:25]
    report = evaluate(seed_engine, queries, mode=mode)
    assert report.mode == mode and report.queries == 25
    assert report.recall_at_5 >= 0.8, report.to_json()


def test_an_unknown_eval_mode_is_a_clear_error(seed_engine):
    with pytest.raises(RetrievalError, match="unknown mode 'magic'"):
        evaluate(seed_engine, read_queries(DATA / "seed_questions.jsonl")[:1], mode="magic")


def test_rrf_fusion_adds_reciprocal_ranks():
    settings = SearchSettings(fusion="rrf", rrf_k=60)
    fused = fuse(
        np.array([7, 8, 9]),
        np.array([0.9, 0.5, 0.7], np.float32),  # dense order by score: 7, 9, 8
        np.array([9, 7]),
        np.array([3.0, 1.0], np.float32),
        settings,
    )
    assert fused[7] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[9] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[8] == pytest.approx(1 / 63)
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse(np.array([1]), np.array([1.0]), np.array([1]), np.array([1.0]), SearchSettings("x"))


def test_a_chunk_too_long_to_merge_shows_only_what_is_not_shown_yet():
    first = ChunkRow(1, 1, "d.txt", 0, 0, 400)
    second = ChunkRow(2, 1, "d.txt", 1, 350, 750)  # shares its first sentence with the first
    inside = ChunkRow(3, 1, "d.txt", 2, 420, 700)  # inside the second's rest: merged there
    rows = {1: first, 2: second, 3: inside}
    passages = _merge(rows, [(1, 1.0), (2, 0.9), (3, 0.8)], {}, limit=5, max_chars=600)
    assert [(p.start, p.end, p.chunk_ids) for p in passages] == [(0, 400, [1]), (400, 750, [2, 3])]
    long, tail = ChunkRow(4, 2, "e.txt", 0, 0, 580), ChunkRow(5, 2, "e.txt", 1, 560, 620)
    passages = _merge({4: long, 5: tail}, [(4, 1.0), (5, 0.9)], {}, limit=5, max_chars=600)
    assert [(p.start, p.end) for p in passages] == [(0, 580)]  # 40 new characters: not a result


def test_rrf_search_finds_the_gold_document(seed_index, embedder):
    rrf = AnswerEngine(seed_index, embedder, settings=SearchSettings(fusion="rrf"))
    answer = rrf.ask("通武廊签署了什么协议？", top_k=3)
    assert answer.results[0].doc_id == "tongwulang-pilot-agreement-2023.txt"


def test_merged_excerpts_stop_growing_at_the_cap():
    rows = {i: ChunkRow(i, 0, "d.txt", i, i * 250, i * 250 + 300) for i in range(5)}
    ranked = [(i, 1.0 - i / 10) for i in range(5)]  # neighbours, each overlapping the next
    passages = _merge(rows, ranked, {}, limit=5, max_chars=600)
    assert all(p.end - p.start <= 600 for p in passages)
    assert passages[0].start == 0 and passages[0].end == 550 and passages[0].chunk_ids == [0, 1]
    merged = _merge(rows, ranked, {}, limit=5, max_chars=10_000)
    assert len(merged) == 1 and merged[0].end == 1300


def test_seed_answers_respect_the_merge_cap(seed_engine):
    cap = seed_engine.settings.max_merged_chars
    for query in read_queries(DATA / "seed_questions.jsonl")[:15]:
        for r in seed_engine.ask(query.question, top_k=5).results:
            assert r.end - r.start <= cap


def test_the_held_out_question_set(seed_engine):
    """The held-out set, used by no test before: retrieval meets the targets; abstention is
    guarded against getting worse. With the calibrated confidence model (issue 11, never
    fitted on this file) 27 of its 34 answerable questions are marked confident (0.794; 0.735
    under the first model, 0.559 under the old coverage rule) and 6 of its 6 unanswerable ones
    are not (5 under the first model). It was 28 until 在哪一天 asked for a date (fifth round,
    docs/quality.md): h027's top passage lacks the date it asks for, so it is not confident."""
    report = evaluate(seed_engine, read_queries(DATA / "seed_questions_heldout.jsonl"))
    assert report.queries == 40 and report.unanswerable == 6
    assert report.recall_at_5 >= 0.95 and report.answer_in_excerpts >= 0.90
    assert report.unanswerable_not_confident >= 0.8
    assert report.answerable_confident >= 0.79
