"""evaluate(): the other ranking modes, a clear error for an unknown one, and the held-out
question set's targets (retrieval/evaluation.py)."""

from __future__ import annotations

import pytest

from retrieval.errors import RetrievalError
from retrieval.evaluation import evaluate, read_queries
from tests.support import DATA


@pytest.mark.parametrize("mode", ["dense", "keyword", "bigram-bm25"])
def test_the_other_eval_modes_rank_the_seed_questions(seed_engine, mode):
    queries = read_queries(DATA / "seed_questions.jsonl")[:25]
    report = evaluate(seed_engine, queries, mode=mode)
    assert report.mode == mode and report.queries == 25
    assert report.recall_at_5 >= 0.8, report.to_json()


def test_an_unknown_eval_mode_is_a_clear_error(seed_engine):
    with pytest.raises(RetrievalError, match="unknown mode 'magic'"):
        evaluate(seed_engine, read_queries(DATA / "seed_questions.jsonl")[:1], mode="magic")


def test_the_held_out_question_set(seed_engine):
    """The held-out set, used by no test before: retrieval meets the targets; abstention is
    guarded against getting worse. With the calibrated confidence model (issue 11, never
    fitted on this file) 27 of its 34 answerable questions are marked confident (0.794; 0.735
    under the first model, 0.559 under the old coverage rule) and 6 of its 6 unanswerable ones
    are not (5 under the first model). It was 28 until 在哪一天 asked for a date (fifth round,
    docs/quality.md): h027's top passage lacks the date it asks for, so it is not confident.
    26 since issue 29: h033, an English question, was confident only because its "the" and
    "of" met the one English phrase of its (right) document; such agreement no longer counts."""
    report = evaluate(seed_engine, read_queries(DATA / "seed_questions_heldout.jsonl"))
    assert report.queries == 40 and report.unanswerable == 6
    assert report.recall_at_5 >= 0.95 and report.answer_in_excerpts >= 0.90
    assert report.unanswerable_not_confident >= 0.8
    assert report.answerable_confident >= 0.76
