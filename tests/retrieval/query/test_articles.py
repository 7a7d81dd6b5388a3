"""Questions naming an article (retrieval/query/articles.py): parsing, titles, the article's
span, and the passage put first; on small texts and the law sample, without a model."""

from __future__ import annotations

import pytest

from corpus.loading import load_corpus
from corpus.normalize import search_key
from corpus.structure import clause_at
from retrieval.backends.base import ChunkRow
from retrieval.query import articles
from retrieval.query.articles import (
    ArticleQuestion,
    Titles,
    article_span,
    documents_named,
    fold_title,
    number,
    parse,
    pin_named_article,
    titles_of,
)
from retrieval.query.search import Passage
from tests.support.corpora import LAW_SAMPLE

ZJ_FIRE = "地方性法规/浙江/浙江省消防条例(2021-11-25).md"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("九", 9),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("九十九", 99),
        ("一百", 100),
        ("一百零五", 105),
        ("一百一十", 110),
        ("两百", 200),
        ("一千二百六十", 1260),
        ("一千零一", 1001),
        ("9", 9),
        ("105", 105),
    ],
)
def test_numbers_in_chinese_and_arabic(text, value) -> None:
    assert number(text) == value


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("《浙江省消防条例》第五条规定了什么？", (5, "浙江省消防条例")),
        ("浙江省消防条例第5条", (5, "浙江省消防条例")),
        ("上海市生活垃圾管理条例第10条的内容是什么？", (10, "上海市生活垃圾管理条例")),
        ("反垄断法第十条是怎么规定的？", (10, "反垄断法")),
        ("《中华人民共和国反垄断法》第二十条", (20, "反垄断法")),
        ("《浙江省消防條例》第五條規定了什麼？", (5, "浙江省消防条例")),  # traditional
        ("民法典第一千二百六十条", (1260, "民法典")),
        # a named article is looked up whatever is asked about it
        ("山东省物业管理条例第三十条规定业主委员会由多少人组成？", (30, "山东省物业管理条例")),
        ("浙江省消防条例第七条第二款规定了什么", (7, "浙江省消防条例")),
        # no name: the question must ask what the article says
        ("第九条规定了什么？", (9, None)),
        ("本条例第九条的内容是什么", (9, None)),
        ("第12条是什么", (12, None)),
    ],
)
def test_questions_naming_an_article(question, wanted) -> None:
    assert parse(search_key(question)) == ArticleQuestion(*wanted)


@pytest.mark.parametrize(
    "question",
    [
        "违反本条例第十二条规定的，如何处罚？",  # the penalty stands elsewhere
        "违反《浙江省消防条例》第十二条规定的，如何处罚？",
        "运营单位未按照本条例第九条规定进行车辆安全检查的，怎么处罚？",
        "第十二条、第十三条规定了什么",  # a list of articles
        "消防救援机构依照第十条履行哪些职责？",
        "浙江省消防条例规定了什么？",  # no article
        "What does Article 9 say?",
        "香港的第一条铁路是哪条铁路？",  # a measure word, not an article
        "请问第九条规定了什么",
    ],
)
def test_questions_that_name_no_article_to_look_up(question) -> None:
    assert parse(search_key(question)) is None


def test_titles_are_folded_and_found_inside_a_longer_name() -> None:
    assert fold_title("中华人民共和国票据法（2004修正）") == "票据法"
    assert fold_title("# 山东省物业管理条例(2021-12-03)") == "山东省物业管理条例"
    titles = Titles(
        [
            ("a.md", "中华人民共和国反垄断法", "2007-08-30"),
            ("b.md", "中华人民共和国反垄断法", "2022-06-24"),
            ("c.md", "浙江省消防条例", None),
        ]
    )
    assert {d for d, _ in titles.find("反垄断法")} == {"a.md", "b.md"}
    assert titles.find("根据浙江省消防条例") == [("c.md", "")]
    assert titles.find("天津市消防条例") == []


def _sample(doc_id: str):
    path = LAW_SAMPLE / doc_id
    (doc,) = load_corpus([path]).documents
    return doc


@pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here")
def test_the_span_is_the_whole_article_and_nothing_else() -> None:
    doc = _sample(ZJ_FIRE)
    start, end, label = article_span(doc.text, 7)
    body = doc.text[start:end]
    assert label == "第七条"
    assert body.startswith("第七条 县级以上人民政府应当履行下列消防工作职责：")
    assert body.endswith("（七）其他依法应当履行的消防工作职责。") and "第八条" not in body
    assert {clause_at(doc.text, i).article for i in range(start, end)} == {"第七条"}
    last = article_span(doc.text, 999)
    assert last is None
    # the last article runs to the end of the text
    final = max(n for n in range(1, 200) if article_span(doc.text, n))
    assert article_span(doc.text, final)[1] == len(doc.text.rstrip())


class FakeVersion:
    version = "v1"
    size = 3

    def __init__(self, docs) -> None:
        self.docs = {d.doc_id: d for d in docs}
        self.read = []

    def sources(self):
        return [(d.doc_id, d.title, d.date, None, None, len(d.text)) for d in self.docs.values()]

    def document(self, doc_id):
        self.read.append(doc_id)
        return self.docs.get(doc_id)


def _passage(doc, start: int, end: int, score: float) -> Passage:
    row = ChunkRow(1, 7, doc.doc_id, 0, start, end, "第二章 消防职责", None, "浙文号", "浙江人大")
    return Passage(doc.doc_id, start, end, score, 0.8, [row])


@pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here")
def test_the_named_article_comes_first_and_overlapping_passages_go() -> None:
    articles._titles.clear()
    doc = _sample(ZJ_FIRE)
    version = FakeVersion([doc])
    start, end, _ = article_span(doc.text, 8)
    inside = _passage(doc, start + 10, start + 60, 2.0)
    other = _passage(doc, 0, 50, 1.0)
    docs: dict = {}
    key = search_key("《浙江省消防条例》第八条规定了什么？")
    pinned, *rest = pin_named_article(version, key, [inside, other], version.document, docs)
    assert (pinned.doc_id, pinned.start, pinned.end) == (doc.doc_id, start, end)
    assert pinned.score == 2.0 and rest == [other]  # the passage inside it is dropped
    (row,) = pinned.chunks
    assert (row.start, row.article, row.section) == (start, "第八条", "第二章 消防职责")
    assert (row.doc_number, row.issuer) == ("浙文号", "浙江人大")  # the document's, as stored
    assert docs[doc.doc_id] is doc
    # unnamed: the document search ranked first
    unnamed = search_key("第八条规定了什么")
    assert pin_named_article(version, unnamed, [other], version.document, {})[0].start == start
    # nothing to pin: unchanged (an unknown regulation, an article it lacks, no article)
    for question in ("《天津市消防条例》第八条规定了什么", "浙江省消防条例第九百条", "消防"):
        assert pin_named_article(version, search_key(question), [other], version.document, {}) == [
            other
        ]
    # the title index is built once per version
    assert len(articles._titles) == 1


def test_the_regulations_a_question_names_are_found_by_title() -> None:
    articles._titles.clear()
    version = FakeVersion([])
    version.sources = lambda: [
        ("aml-2007", "中华人民共和国反垄断法", "2007-08-30", None, None, 1),
        ("aml-2022", "中华人民共和国反垄断法", "2022-06-24", None, None, 1),
        ("sd", "山东省物业管理条例", "2021-12-03", None, None, 1),
        ("sh", "上海市住宅物业管理规定", "2020-12-30", None, None, 1),
        ("word", "办法", None, None, None, 1),
    ]

    def named(question: str, allowed=lambda _d: True) -> list[str]:
        return documents_named(version, search_key(question), allowed)

    assert named("山东省物业管理条例规定业主委员会由多少人组成？") == ["sd"]
    assert named("《上海市住宅物业管理規定》中，业主大会怎样作出决定") == ["sh"]
    assert named("2007年的反垄断法规定罚款上限是多少") == ["aml-2007", "aml-2022"]
    assert named("根据山东省物业管理条例和反垄断法") == ["sd", "aml-2007", "aml-2022"]
    assert named("天津市物业管理条例规定了什么") == []  # not in the library
    assert named("有什么办法") == []  # a word, not a title
    assert named("山东省物业管理条例", allowed=lambda d: d != "sd") == []  # filtered out


def test_an_engine_prepares_the_title_dictionary_before_a_question_needs_it(tmp_path) -> None:
    from retrieval.engine import AnswerEngine

    articles._titles.clear()
    engine = AnswerEngine.__new__(AnswerEngine)  # only what prepare() reads
    version = FakeVersion([_sample(ZJ_FIRE)])
    engine._loaded = version
    engine.prepare()
    assert list(articles._titles) == [(version.version, version.size)]
    assert titles_of(version).find("浙江省消防条例")  # built once, found
    version.sources = lambda: (_ for _ in ()).throw(OSError("gone"))  # a failing warm-up
    articles._titles.clear()
    engine.prepare()  # logs, does not raise
    assert not articles._titles
