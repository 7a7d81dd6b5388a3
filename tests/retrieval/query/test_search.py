"""Search: reciprocal-rank fusion of the dense and keyword candidates, and neighbouring chunks
merged into excerpts under the cap (retrieval/query/search.py)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.backends.base import ChunkRow
from retrieval.engine import AnswerEngine
from retrieval.evaluation import read_queries
from retrieval.query.search import SearchSettings, _merge, fuse
from tests.support import DATA


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


def test_rrf_search_finds_the_gold_document(seed_index, embedder):
    rrf = AnswerEngine(seed_index, embedder, settings=SearchSettings(fusion="rrf"))
    answer = rrf.ask("通武廊签署了什么协议？", top_k=3)
    assert answer.results[0].doc_id == "tongwulang-pilot-agreement-2023.txt"


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
