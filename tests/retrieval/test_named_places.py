"""Issue 26: one rule in several provinces. A question naming the regulation or the place
gets that place's rule first, in Chinese and in English; the real model and index."""

from __future__ import annotations

import pytest

from tests.support.corpora import LAW_SAMPLE, law_sample_engine

BIRTH = "地方性法规/{0}/{0}{1}人口与计划生育条例({2}).md"
SHANDONG = BIRTH.format("山东", "省", "2016-01-22")
HENAN = BIRTH.format("河南", "省", "2021-11-27")
GUANGDONG = BIRTH.format("广东", "省", "2021-12-01")
ZHEJIANG = BIRTH.format("浙江", "省", "2021-11-25")
SHANGHAI = BIRTH.format("上海", "市", "2021-11-25")
FILES = (SHANDONG, HENAN, GUANGDONG, ZHEJIANG, SHANGHAI, "法律/反垄断法(2022-06-24).md")


@pytest.fixture(scope="module")
def provinces(tmp_path_factory, embedder):
    """Five provinces' 人口与计划生育条例 (they say much the same) and a national law."""
    return law_sample_engine(tmp_path_factory, embedder, FILES)


@pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here")
@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        # each came with another province's rule first before (上海's, 浙江's, 山东's)
        ("《河南省人口与计划生育条例》规定男方护理假是多长时间？", HENAN),  # named by title
        ("山东省符合规定生育的女方可以增加多少天产假？", SHANDONG),
        ("河南省独生子女父母光荣证怎么申请？", HENAN),
        ("在山东，夫妻结婚可以增加多少天婚假？", SHANDONG),
        ("在廣東，男方可以享受幾天護理假？", GUANGDONG),
        ("In Zhejiang, how many days of nursing leave does a new father get?", ZHEJIANG),
    ],
)
def test_the_named_province_comes_first(provinces, question, doc_id) -> None:
    answer = provinces.ask(question)
    assert answer.results[0].doc_id == doc_id
    assert answer.note is None  # the place asked for is the one cited


@pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here")
def test_a_province_the_library_lacks_is_said_in_english_too(provinces) -> None:
    answer = provinces.ask("In Tianjin, how many days of nursing leave does the husband get?")
    assert not answer.confident
    assert answer.note and "天津" in answer.note


@pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here")
def test_a_named_regulation_below_the_search_depth_is_searched_alone(
    provinces, monkeypatch
) -> None:
    # searched two passages deep, the law named is not among them: it is searched alone
    monkeypatch.setattr("retrieval.engine.MIN_DEPTH", 2)
    answer = provinces.ask("《反垄断法》对男方护理假和婚假有什么规定？", top_k=2)
    assert answer.results[0].doc_id == FILES[-1]
