"""Issue 26: jurisdictions, version groups and their order, filters, the mismatch note
(pure functions; the backends' push-down is in backends/test_contract.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from corpus.metadata import places_named, region_of, version_title
from retrieval.answer import Result
from retrieval.filters import DocMeta, Filters, parse_date, version_groups
from retrieval.query.library import (
    asked_period,
    current_first,
    mismatch,
    named_first,
    past_first,
    place_first,
    typed_first,
    verbatim_first,
    version_info,
)


def test_region_of_national_bodies_places_and_traditional() -> None:
    assert region_of("第十届全国人民代表大会常务委员会", "反垄断法") == "国家"
    assert region_of("国家市场监督管理总局", "家用汽车产品修理更换退货责任规定") == "国家"
    assert region_of("國務院", None) == "国家"
    assert region_of(None, "中华人民共和国行政复议法") == "国家"
    assert region_of("天津市第十七届人民代表大会常务委员会", "天津市消防条例") == "天津"
    assert region_of(None, "上海市消防條例") == "上海"
    assert region_of("河北省人民政府", "关于…的通知") == "河北"
    assert region_of(None, "京津冀交通一体化促进条例") is None  # no one jurisdiction
    assert places_named("天津和河北省的規定，石家庄呢") == ["天津", "河北", "石家庄"]


def test_version_title_strips_revision_brackets() -> None:
    assert version_title("《上海市消防條例（2019年修正）》") == "上海市消防条例"
    assert version_title("反垄断法 (2022年修正)") == "反垄断法"


def _meta(date, issuer=None, effective=None, region=None, kind="条例"):
    return DocMeta(date, effective, issuer, region, kind)


def test_versions_grouped_by_title_and_issuer_oldest_first() -> None:
    docs = [
        ("a-2022", "某市消防条例（2022年修正）", _meta("2022-05-25", "某市第十届人大常委会")),
        ("a-2016", "某市消防条例", _meta("2016-01-01", "某市第九届人大常委会")),
        ("a-undated", "某市消防条例", _meta(None, None, effective="2001-09-01")),
        ("b", "另一市消防条例", _meta("2020-01-01", "另一市人大常委会")),
        ("c-1", "同名办法", _meta("2019-01-01", "甲部")),
        ("c-2", "同名办法", _meta("2020-01-01", "乙部")),  # another issuer: not a version
    ]
    assert version_groups(docs) == [["a-undated", "a-2016", "a-2022"]]


@dataclass
class P:
    doc_id: str


def test_older_version_moves_below_the_current_one_unless_the_past_is_asked() -> None:
    groups = [["old", "new"]]
    metas = {"old": _meta("2016-03-01"), "new": _meta("2022-05-25"), "x": _meta("2020-01-01")}
    ranked = [P("old"), P("x"), P("new"), P("old")]
    order = [p.doc_id for p in current_first(ranked, groups, metas, "某条例规定了什么")]
    assert order == ["x", "new", "old", "old"]
    for past in ("修订前的规定是什么", "原来的罚款是多少", "2016年的规定是什么"):
        assert [p.doc_id for p in current_first(ranked, groups, metas, past)][0] == "old"


def _result(doc_id: str, rank: int = 1) -> Result:
    return Result(rank, doc_id, doc_id, None, None, 1.0, "x", 0, 1)


def test_older_versions_carry_superseded_by() -> None:
    metas = {"old": _meta("2016-03-01"), "new": _meta("2022-05-25", effective="2022-07-01")}
    found = version_info([_result("new"), _result("old", 2)], [["old", "new"]], metas)
    assert found[0].superseded_by is None
    assert (found[1].superseded_by, found[1].superseded_date) == ("new", "2022-07-01")


def test_a_place_no_cited_document_matches_is_said_and_not_confident() -> None:
    metas = {
        "bj": _meta("2020-01-01", region="北京"),
        "tj": _meta("2020-01-01", region="天津"),
        "cn": _meta("2020-01-01", region="国家", kind="法"),
    }
    note, trusted = mismatch("天津市的消防条例怎么规定的", [_result("bj")], metas)
    assert note == "收录的文件中没有天津市的相关规定；以下是北京市的规定" and not trusted
    assert mismatch("天津市的消防条例怎么规定的", [_result("tj")], metas) == (None, True)
    note, trusted = mismatch("天津市对此怎么规定", [_result("cn")], metas)
    assert "国家层面" in note and trusted  # a national law applies there too
    assert mismatch("天津", [_result("bj")], metas, Filters.of(region="北京"))[0] is None
    note, trusted = mismatch("2023年以后出台的消防条例", [_result("bj")], metas)
    assert "2023年以后" in note and not trusted
    assert asked_period("2019年工作要点提到了什么") is None  # a data year, not a document's
    # a regulation's name between the time and the word for it
    note, trusted = mismatch("2010年以前的北京市消防条例规定了什么", [_result("bj")], metas)
    assert note == "收录的文件中没有2010年以前出台的相关规定；以下是2020年的规定" and not trusted
    assert mismatch("2020年的北京市消防条例规定了什么", [_result("bj")], metas) == (None, True)
    assert asked_period("2020年以前的做法是什么") is None  # no document asked for


def test_filters_read_what_users_type() -> None:
    assert parse_date("2020") == "2020-01-01" and parse_date("2020", end=True) == "2020-12-31"
    assert parse_date("2020年5月") == "2020-05-01"
    with pytest.raises(ValueError):
        parse_date("last year")
    f = Filters.of(since="2020", region="天津市", issuer="天津市第十七届人民代表大会常务委员会")
    assert f.region == "天津"
    assert f.matches(_meta("2021-01-01", "天津市第十六届人民代表大会常务委员会", region="天津"))
    assert not f.matches(_meta("2019-01-01", "天津市人民代表大会常务委员会", region="天津"))
    assert not f.matches(_meta(None, "天津市人民代表大会常务委员会", region="天津"))
    assert Filters.of(region="全国").region == "国家"
    assert Filters.of(region="Tianjin").region == "天津"  # as an English user types it
    assert not Filters() and Filters.of(doc_ids=[])


def test_english_place_names_are_read() -> None:
    assert places_named("What day is the fire safety activity day in chongqing?") == ["重庆"]
    assert places_named("under shandong's regulation, and shaanxi's") == ["山东", "陕西"]
    assert places_named("the shanghaiist") == []  # a whole word only


def test_the_documents_a_question_names_come_first() -> None:
    ranked = [P("henan"), P("shandong"), P("law"), P("shandong")]
    order = [p.doc_id for p in named_first(ranked, ["shandong"])]
    assert order == ["shandong", "shandong", "henan", "law"]
    assert named_first(ranked, []) == ranked


def test_the_named_place_goes_before_other_places_rules_only() -> None:
    metas = {
        "henan": _meta("2021-01-01", region="河南"),
        "shandong": _meta("2016-01-01", region="山东"),
        "law": _meta("2020-01-01", region="国家", kind="法"),
        "news": _meta("2020-01-01", region="北京", kind=None),  # a page, not a rule
    }
    ranked = [P("law"), P("henan"), P("news"), P("shandong"), P("henan")]
    order = [p.doc_id for p in place_first(ranked, ["山东"], metas)]
    # the national law and the page keep their ranks; 山东's takes 河南's first rank
    assert order == ["law", "shandong", "news", "henan", "henan"]
    assert place_first(ranked, ["天津"], metas) == ranked  # no document of that place
    assert place_first(ranked, [], metas) == ranked


def test_paragraphs_sharing_a_title_are_not_versions() -> None:
    # a JSONL of encyclopedia paragraphs (DRCD): one title, no dates; copies of one date
    undated = [(f"p{i}", "梵文", _meta(None, kind=None)) for i in range(3)]
    same_day = [(f"c{i}", "某市消防条例", _meta("2020-01-01")) for i in range(2)]
    assert version_groups(undated + same_day) == []
    assert version_groups([*same_day, ("c-2022", "某市消防条例", _meta("2022-01-01"))]) == [
        ["c0", "c1", "c-2022"]
    ]
    # each 宪法修正案 adds to the constitution: the 2018 one does not replace the 1988 one
    amendments = [(f"a{y}", "中华人民共和国宪法修正案", _meta(f"{y}-03-11")) for y in (1988, 2018)]
    assert version_groups(amendments) == []


def test_a_question_about_the_past_gets_the_version_it_asks_for() -> None:
    groups = [["v2007", "v2022"]]
    # the 2007 law took effect in 2008: either year names it
    metas = {"v2007": _meta("2007-08-30", effective="2008-08-01"), "v2022": _meta("2022-06-24")}
    ranked = [P("x"), P("v2022"), P("v2007"), P("v2022")]
    for question in ("2007年的反垄断法规定的罚款", "2008年施行的反垄断法", "修订前的反垄断法"):
        order = [p.doc_id for p in past_first(ranked, groups, metas, question)]
        assert order == ["x", "v2007", "v2022", "v2022"], question
    for question in ("反垄断法规定的罚款", "2022年的反垄断法"):
        assert past_first(ranked, groups, metas, question) == ranked


@dataclass
class T:
    doc_id: str
    text: str


def test_a_rules_passage_repeating_the_question_verbatim_comes_first() -> None:
    metas = {"law": _meta("2023-12-29", kind="法"), "page": _meta("2023-01-01", kind=None)}
    question = "公司法规定有限责任公司董事会成员为多少人"
    art75 = T("law", "第七十五条 规模较小的有限责任公司，可以不设董事会，设一名董事")
    art68 = T("law", "第六十八条 有限责任公司董事会成员为三人以上")
    other = T("page", "董事会")
    ranked = [art75, other, art68]
    order = verbatim_first(ranked, question, lambda p: p.text, metas)
    assert order == [art68, art75, other]  # the run 有限责任公司董事会成员为 (12) against 6
    # a page, not a rule: unchanged; so is a run too short or no longer than the first's
    pages = [T("page", art75.text), T("page", art68.text)]
    assert verbatim_first(pages, question, lambda p: p.text, metas) == pages
    short = [art75, T("law", "董事会成员三人")]
    assert verbatim_first(short, question, lambda p: p.text, metas) == short


def test_a_rules_passage_holding_what_is_asked_comes_first() -> None:
    from corpus.normalize import search_key
    from retrieval.query.confidence import answer_features

    metas = {"law": _meta("2018-12-29", kind="法"), "page": _meta("2023-01-01", kind=None)}
    question = search_key("义务教育法规定儿童年满多少岁应当入学接受义务教育？")

    def lacks(p: T) -> bool:
        return answer_features(question, search_key(p.text), {"入学": 5.0})["type_missing"] > 0

    rights = T("law", "第四条 适龄儿童、少年依法享有平等接受义务教育的权利。")
    age = T("law", "第十一条 凡年满六周岁的儿童，其父母应当送其入学接受并完成义务教育。")
    other = T("page", "义务教育")
    assert typed_first([rights, other, age], lacks, metas) == [age, rights, other]
    # the first passage holds an age already, a page is no rule, or no passage holds one
    assert typed_first([age, rights], lacks, metas) == [age, rights]
    pages = [T("page", rights.text), T("page", age.text)]
    assert typed_first(pages, lacks, metas) == pages
    assert typed_first([rights, other], lacks, metas) == [rights, other]
