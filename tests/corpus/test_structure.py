"""Heading paths, articles, document numbers and issuers (corpus/structure.py)."""

from __future__ import annotations

import pytest

from corpus.chunking import chunk_document
from corpus.document import Document
from corpus.loading import load_corpus, shipped_corpus_dir
from corpus.structure import Position, advance, changes, document_info, positions
from tests.support import DATA

REGULATION_DIR = DATA / "regulation"


@pytest.fixture(scope="module")
def regulation() -> Document:
    (doc,) = load_corpus([REGULATION_DIR]).documents
    return doc


@pytest.fixture(scope="module")
def seed() -> dict[str, Document]:
    return {d.doc_id: d for d in load_corpus([shipped_corpus_dir()]).documents}


def at(doc: Document, phrase: str) -> Position:
    offset = doc.text.index(phrase)
    return positions(doc.text, [offset])[0]


def sections(text: str) -> list[str | None]:
    return [pos.section for _, pos in changes(text)]


# -- the synthetic regulation --------------------------------------------------------


def test_regulation_chapters_sections_and_articles(regulation: Document) -> None:
    assert at(regulation, "为了推进京津冀交通一体化") == Position(("第一章 总则",), "第一条")
    assert at(regulation, "跨界道路项目由相邻地区共同出资") == Position(
        ("第二章 规划与建设", "第二节 建设"), "第六条"
    )
    assert at(regulation, "处一万元以上五万元以下罚款") == Position(
        ("第四章 法律责任",), "第十一条"
    )
    # a chapter heading ends the article before it and the sections of the chapter before
    assert at(regulation, "第三章　运营与服务") == Position(("第三章 运营与服务",), None)


def test_items_and_references_inside_articles_are_not_structure(regulation: Document) -> None:
    # （一）… items inside 第四条 are the article's items, not headings
    assert at(regulation, "（三）综合客运枢纽的选址") == Position(
        ("第二章 规划与建设", "第一节 规划"), "第四条"
    )
    # "依照本条例第六条" and "违反本条例第十条规定" refer to articles; they open none
    assert at(regulation, "应当在竣工后六个月内").article == "第七条"
    assert at(regulation, "擅自调整票价").article == "第十二条"
    articles = [pos.article for _, pos in changes(regulation.text) if pos.article]
    assert articles == [f"第{n}条" for n in "一二三四五六七八九十"] + [
        "第十一条",
        "第十二条",
        "第十三条",
    ]


def test_regulation_number_and_issuer(regulation: Document) -> None:
    info = document_info(regulation.text, regulation.title)
    assert info.doc_number == "京津冀协同办发〔2024〕7号"
    assert info.issuer == "京津冀协同发展示范区第一届人民代表大会常务委员会"


# -- the seed documents ----------------------------------------------------------------


def test_beijing_work_plan_heading_tree(seed: dict[str, Document]) -> None:
    plan = seed["beijing-jjj-work-plan-2019.txt"]
    tasks = "二、关于2019年工作要点的主要任务"
    assert at(plan, "生态方面,坚持绿水青山就是金山银山的理念").path == (
        tasks,
        "四是推动生态、交通、产业、公共服务等关键环节取得新突破",
    )
    # 一是…五是 label their own paragraph: the next one is under the heading only
    assert at(plan, "交通方面,将着眼于京津冀城市群空间结构").path == (tasks,)
    assert at(plan, "继续严格执行2018年版新增产业").path == (
        tasks,
        "一是紧抓“牛鼻子”稳妥有序疏解北京非首都功能",
    )
    assert at(plan, "共安排了90项具体任务").path == ("一、主要考虑",)
    assert at(plan, "今年是新中国成立70周年").path == ()  # before the first heading
    assert all(pos.article is None for _, pos in changes(plan.text))


def test_seed_documents_without_numbered_headings_have_none(seed: dict[str, Document]) -> None:
    for doc_id in ("jjj-cppcc-joint-meeting-2020.txt", "tongwulang-pilot-agreement-2023.txt"):
        assert changes(seed[doc_id].text) == []
    measures = seed["jjj-policy-measures-2020-09.txt"]
    # the dated event lines (2020.09.17 …) under (一) are not headings
    assert sections(measures.text) == ["(一)国家层面", "(二)地方层面"]
    assert at(measures, "黄润秋一行来到").path == ("(一)国家层面",)


def test_inline_numbers_dates_and_captions(seed: dict[str, Document]) -> None:
    overview = seed["jjj-coordinated-development-overview.txt"]
    # "…提出7点要求。一是要着力加强顶层设计" is inside a paragraph: no heading
    assert at(overview, "一是要着力加强顶层设计").path == ()
    # a short unnumbered line (a byline, a date, an unnumbered heading) ends a list of
    # numbered items: what follows the 共同倡议 letter is not under its item 4、
    assert at(overview, "天津方案将“提高先进制造研发水平”").path == ()
    assert at(overview, "市政配套项目第一至八标段").path == ()
    assert at(overview, "我们把市行政副中心定位为").path == ("一是搞好功能定位",)
    assert at(overview, "二是做好科学规划").path == ("二是做好科学规划",)
    assert all(pos.article is None for _, pos in changes(overview.text))
    assert document_info(overview.text, overview.title) == document_info("")


def test_seed_documents_state_no_number_or_issuer(seed: dict[str, Document]) -> None:
    for doc in seed.values():
        info = document_info(doc.text, doc.title)
        assert (info.doc_number, info.issuer) == (None, None), doc.doc_id


# -- robustness on small texts -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "依照本法第十二条的规定，应当报批。",
        "主要做法有：1.加强合作；2.推进共建；3.完善机制。",
        "1、2月份全市完成投资12亿元。",
        "一、二季度的任务已经完成。",
        "2019年3月12日",
        "2020.09.17 生态环境部部长赴张家口调研",
        "1.5亿元用于道路建设。",
        "第十二条规定的期限届满后，不再受理。",
        "第十二条、第十三条所列情形除外。",
    ],
)
def test_not_structure(text: str) -> None:
    assert changes(text) == []


def test_headings_standing_alone_and_leading_a_paragraph() -> None:
    text = "\n".join(
        [
            "一、总体要求",
            "（一）指导思想。坚持协同发展，推进一体化。",
            "1.推进交通一体化。加快建设城际铁路。",
            "2.推进生态共建。加强联防联控。",
            "（二）基本原则。坚持问题导向。",
            "二、重点任务",
            "正文。",
        ]
    )
    assert sections(text) == [
        "一、总体要求",
        "一、总体要求 › （一）指导思想",
        "一、总体要求 › （一）指导思想 › 1.推进交通一体化",
        "一、总体要求 › （一）指导思想 › 2.推进生态共建",
        "一、总体要求 › （二）基本原则",
        "二、重点任务",
    ]


def test_long_or_enumerated_items_close_their_siblings_but_open_nothing() -> None:
    long_item = "2.加快推进" + "区域交通基础设施互联互通和公共服务共建共享" * 2 + "。其他内容。"
    text = "\n".join(
        [
            "1.推进交通一体化。加快建设。",
            long_item,
            "3.完善体制机制；",
            "正文。",
        ]
    )
    assert sections(text) == ["1.推进交通一体化", None]
    assert at(Document("d", "t", text), "正文").path == ()


def test_advance_agrees_with_a_whole_document_pass(
    regulation: Document, seed: dict[str, Document]
) -> None:
    """From the stored position where any chunk begins, advancing to any later offset gives
    the same position as reading the document from the top: the engine relies on this."""
    for doc in [regulation, *seed.values()]:
        text = doc.text
        starts = [c.start for c in chunk_document(doc)]
        stored = positions(text, starts)
        for start, position in zip(starts, stored, strict=True):
            targets = list(range(start, min(len(text), start + 700), 7))
            expected = positions(text, targets)
            got = [advance(text, position, start, t) for t in targets]
            assert got == expected, (doc.doc_id, start)


def test_chunks_carry_the_position_where_they_begin(regulation: Document) -> None:
    chunks = chunk_document(regulation, target=80, max_chars=120, min_chars=40)
    assert len(chunks) > 5
    for chunk in chunks:
        position = positions(regulation.text, [chunk.start])[0]
        assert (chunk.section, chunk.article) == (position.section, position.article)
    assert any(c.article == "第十一条" and c.section == "第四章 法律责任" for c in chunks)


@pytest.mark.parametrize(
    ("text", "title", "number", "issuer"),
    [
        (
            "北京市人民政府办公厅文件\n京政办发〔2019〕12号\n北京市人民政府办公厅关于印发某方案的通知\n正文。",
            None,
            "京政办发〔2019〕12号",
            "北京市人民政府办公厅",
        ),
        (
            "各区人民政府：\n现将《方案》印发给你们，请认真贯彻落实。\n北京市发展和改革委员会\n2019年3月12日",
            "北京市发展和改革委员会关于印发《方案》的通知",
            None,
            "北京市发展和改革委员会",
        ),
        (
            "根据《国务院关于某事的通知》（国发〔2015〕12号），制定本办法。\n"
            "第一条　为了规范管理，制定本办法。",
            None,
            None,  # cited in running text: another document's number
            None,
        ),
        (
            "津政发[2020]3号\n天津市人民政府关于某事的意见\n正文。",
            None,
            "津政发[2020]3号",
            "天津市人民政府",
        ),
    ],
)
def test_document_info(
    text: str, title: str | None, number: str | None, issuer: str | None
) -> None:
    info = document_info(text, title)
    assert (info.doc_number, info.issuer) == (number, issuer)
