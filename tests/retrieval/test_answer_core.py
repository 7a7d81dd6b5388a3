"""The answer core on the shipped corpus: real model, real FAISS, real SQLite."""

from __future__ import annotations

import pytest

from retrieval.errors import QueryError, RetrievalError
from retrieval.evaluation import evaluate, read_queries
from tests.support import DATA

QUESTIONS = DATA / "seed_questions.jsonl"
TONGWULANG = "tongwulang-pilot-agreement-2023.txt"
CPPCC = "jjj-cppcc-joint-meeting-2020.txt"


def test_json_contract_excerpt_is_verbatim_clean_text(seed_engine):
    answer = seed_engine.ask("通武廊签署了什么协议？", top_k=3)
    data = answer.to_json()
    # note (issue 26) and off_topic (issue 29) are additive; filters only when asked under some
    assert set(data) == {"question", "confident", "results", "off_topic", "note"}
    assert data["question"] == "通武廊签署了什么协议？" and data["confident"] is True
    assert data["off_topic"] is False and data["note"] is None
    assert [r["rank"] for r in data["results"]] == [1, 2, 3]
    for r in data["results"]:
        assert set(r) == {
            "rank",
            "doc_id",
            "title",
            "date",
            "source",
            "score",
            "excerpt",
            "start",
            "end",
            "marks",
            "section",  # citations down to the article (issue 11): null where absent
            "article",
            "doc_number",
            "issuer",
            "effective_date",  # issue 26: versions and jurisdictions
            "region",
            "superseded_by",
            "superseded_date",
        }
        text = seed_engine.index.document(r["doc_id"]).text
        assert r["excerpt"] == text[r["start"] : r["end"]]
        assert all(0 <= a < b <= len(r["excerpt"]) for a, b in r["marks"])
        assert isinstance(r["score"], float)
    assert data["results"][0]["doc_id"] == TONGWULANG
    assert data["results"][0]["title"] == "“通武廊”签署试点示范合作协议"
    assert data["results"][0]["date"] == "2023-05-31"


def test_best_sentence_is_marked_inside_the_excerpt(seed_engine):
    result = seed_engine.ask("京津冀政协主席联席会议第七次会议在哪里召开？").results[0]
    assert result.doc_id == CPPCC
    assert 1 <= len(result.marks) <= 2
    assert all(0 <= start < end <= len(result.excerpt) for start, end in result.marks)
    assert any("第七次會議" in result.excerpt[start:end] for start, end in result.marks)


def test_traditional_question_finds_simplified_passage(seed_engine):
    answer = seed_engine.ask("北京大興國際機場計劃什麼時候建成通航？")
    assert answer.results[0].doc_id == "beijing-jjj-work-plan-2019.txt"
    assert "9月底前建成通航" in answer.results[0].excerpt


def test_simplified_question_finds_traditional_passage(seed_engine):
    answer = seed_engine.ask("国家发改委地区经济司司长郭兰峰讲解了什么？")
    assert answer.results[0].doc_id == CPPCC
    assert "郭蘭峰" in answer.results[0].excerpt


def test_english_question_is_ranked_by_the_cross_lingual_model(seed_engine):
    """In these Chinese documents an English question's words match only the overview's
    bracketed English name (Beijing-Tianjin-Hebei), which BM25 put first when English
    questions were fused like Chinese ones."""
    answer = seed_engine.ask(
        "How many projects did Beijing sign with the three northern counties of Langfang "
        "in September 2020?",
        top_k=1,
    )
    assert answer.results[0].doc_id == "jjj-policy-measures-2020-09.txt"
    assert "33个项目" in answer.results[0].excerpt


def test_a_neighbour_too_long_to_merge_shows_its_own_new_text(seed_engine):
    """The chunk naming the universities shares a sentence with a better-ranked one and is
    too long to merge with it; it used to be dropped, now its rest is a result."""
    answer = seed_engine.ask("2019年工作要点提到要继续推进哪些高校的疏解项目建设?")
    assert any("北京工商大学、北京电影学院" in r.excerpt for r in answer.results)


HEALTH_AID = "北京2019年工作要点中对雄安新区医疗卫生方面有什么帮扶安排?"
WORK_PLAN = "beijing-jjj-work-plan-2019.txt"


def test_the_top_documents_passages_are_ordered_by_words_outside_its_title(seed_engine):
    """北京, 2019, 工作要点 are the work plan's title: its summary paragraphs repeat them
    and ranked above the one on the five hospitals (rank 2 before)."""
    result = seed_engine.ask(HEALTH_AID, top_k=1).results[0]
    assert result.doc_id == WORK_PLAN
    assert "5所医疗卫生机构对口帮扶工作" in result.excerpt


def test_subject_order_moves_only_the_top_documents_chunks(seed_engine):
    from corpus.normalize import search_key
    from retrieval.query.search import SearchSettings, fuse, subject_order
    from retrieval.tokens import tokenize

    key = search_key(HEALTH_AID)
    tokens, vector = tokenize(key), seed_engine.embedder.encode_queries([key])[0]
    index, settings = seed_engine.index, SearchSettings()
    dense_scores, dense_ids = index.dense_candidates(vector, settings.candidates)
    kw_scores, kw_ids = index.keyword_candidates(tokens, settings.candidates)
    fused = fuse(dense_ids, dense_scores, kw_ids, kw_scores, settings)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    rows = index.rows([cid for cid, _ in ranked])
    keyword_of = dict(zip(kw_ids.tolist(), kw_scores.tolist(), strict=True))
    ordered = subject_order(index, ranked, rows, tokens, keyword_of, settings)
    assert sorted(c for c, _ in ordered) == sorted(fused)
    assert [s for _, s in ordered] == [s for _, s in ranked]  # each rank keeps its score
    moved = [i for i, (a, b) in enumerate(zip(ordered, ranked, strict=True)) if a != b]
    assert moved and max(moved) < settings.subject_depth
    assert {rows[ordered[i][0]].doc_id for i in moved} == {WORK_PLAN}
    assert {rows[ranked[i][0]].doc_id for i in moved} == {WORK_PLAN}
    unchanged = SearchSettings(subject_weight=1.0)
    assert subject_order(index, ranked, rows, tokens, keyword_of, unchanged) == ranked


def test_unanswerable_question_is_not_confident(seed_engine):
    assert not seed_engine.ask("2022年卡塔尔世界杯的冠军是哪支球队？").confident
    assert not seed_engine.ask("北京明天会下雨吗？").confident
    # 深圳市2023年的地区生产总值 is marked confident since the calibrated model (p ≈ 0.89): it
    # shares GDP words with the overview's 2023 figures; see docs/quality.md.


def test_english_off_topic_questions_are_not_confident(seed_engine):
    """Issue 29: "What is the capital of France?" was answered with confidence (its "the"
    and "of" matched one chunk's English phrase). The written set (tests/data)."""
    questions = [q.question for q in read_queries(DATA / "english_offtopic.jsonl")]
    confident = [q for q in questions if seed_engine.ask(q).confident]
    assert confident == []


def test_off_topic_only_when_the_words_occur_nowhere(seed_engine):
    off = seed_engine.ask("2022年卡塔尔世界杯的冠军是哪支球队？")
    assert off.off_topic and off.results  # scripts still get the (unrelated) results
    assert not seed_engine.ask("深圳市2023年的地区生产总值是多少？").off_topic  # near the topic
    assert not seed_engine.ask("What did Tongwulang sign?").off_topic  # dense-only match
    assert not seed_engine.ask("通武廊签署了什么协议？").off_topic


def test_marked_sentence_prefers_the_asked_for_type(seed_engine):
    result = seed_engine.ask("北京大兴国际机场计划什么时候建成通航？").results[0]
    marked = "".join(result.excerpt[a:b] for a, b in result.marks)
    assert "9月底前建成通航" in marked


@pytest.mark.parametrize("question", ["", "   ", "？？！", "\n"])
def test_empty_question_is_refused(seed_engine, question):
    with pytest.raises(QueryError, match="empty"):
        seed_engine.ask(question)


def test_offset_pages_through_results_without_repeats(seed_engine):
    first = seed_engine.ask("京津冀协同发展", top_k=3)
    second = seed_engine.ask("京津冀协同发展", top_k=3, offset=3)
    assert [r.rank for r in second.results] == [4, 5, 6]
    spans = {(r.doc_id, r.start, r.end) for r in first.results}
    for r in second.results:
        assert (r.doc_id, r.start, r.end) not in spans
        assert all(not (r.doc_id == d and r.start < e and s < r.end) for d, s, e in spans)


def test_one_result_per_passage(seed_engine):
    results = seed_engine.ask("通武廊合作协议", top_k=8).results
    for i, a in enumerate(results):
        for b in results[i + 1 :]:
            assert not (a.doc_id == b.doc_id and a.start < b.end and b.start < a.end)


def test_context_surrounds_the_excerpt(seed_engine):
    r = seed_engine.ask("通武廊签署了什么协议？").results[1]
    text, start, end = seed_engine.context(r.doc_id, r.start, r.end)
    assert start <= r.start and end >= r.end and len(text) > len(r.excerpt)
    assert text == seed_engine.index.document(r.doc_id).text[start:end]
    with pytest.raises(RetrievalError, match="not in the index"):
        seed_engine.context("no-such-doc.txt", 0, 10)


def test_sources_list_the_seed_documents(seed_engine):
    sources = {s.doc_id: s for s in seed_engine.sources()}
    assert len(sources) == 5
    assert sources[CPPCC].date == "2020-09-14" and sources[CPPCC].source == "人民政协网"


def test_seed_question_set_meets_quality_targets(seed_engine):
    """Issue targets: gold document in the top 5 for >= 95 %, answer shown for >= 90 %.
    Confidence (calibrated model, docs/quality.md): 90 % of the answerable questions are
    confident (73 % under the old coverage rule, 86 % before issue 26's refit) and 8 of the
    12 unanswerable ones are not (12 of 12 under the old rule, 10 under the first model, 9
    before issue 26's refit, which lets s067 through at p 0.64)."""
    report = evaluate(seed_engine, read_queries(QUESTIONS))
    assert report.queries >= 60 and report.unanswerable >= 10
    assert report.recall_at_5 >= 0.95
    assert report.answer_in_excerpts >= 0.90
    assert report.unanswerable_not_confident >= 0.66
    assert report.answerable_confident >= 0.90
    assert report.answer_in_marked >= 0.70  # 0.68 before the marking rules of issue 14
