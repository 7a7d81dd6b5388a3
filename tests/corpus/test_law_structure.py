"""Law structure in every format: one rule as .txt, .md, .html, .docx and .pdf reads to the
same chapters, sections, articles, 款/项, 令号 and effective date (corpus/structure.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.chunking import chunk_document
from corpus.document import Document
from corpus.loading import load_corpus
from corpus.metadata import event_issuer, issuer_key, order_number, title_type
from corpus.structure import Position, changes, clause_at, document_info, info_of, positions

TITLE = "某省电动自行车管理规定"
HEAD = [
    TITLE,
    "某省人民政府令第12号",
    "（2021年3月1日某省人民政府第80次常务会议通过　2021年3月15日公布　自2021年5月1日起施行）",
]
BODY = [
    "第一章　总　则",
    "第一条　为了加强电动自行车管理，保障道路交通安全，制定本规定。",
    "第二条　本规定适用于本省行政区域内电动自行车的销售、登记和通行。",
    "第二章　登记与通行",
    "第一节　登记",
    "第三条　电动自行车应当登记后方可上道路行驶。",
    "申请登记应当提交下列材料：",
    "（一）所有人的身份证明；",
    "（二）购车发票；",
    "（三）产品合格证明。",
    "第二节　通行",
    "第四条　驾驶电动自行车应当佩戴安全头盔。",
    "第三章　法律责任",
    "第五条　违反本规定第四条的，处五十元罚款。",
    "附　则",
    "第六条　本规定自2021年5月1日起施行。",
]
LINES = HEAD + BODY


def _txt(folder: Path) -> None:
    (folder / "rule.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")


def _md(folder: Path) -> None:
    head = f"# {TITLE}\n\n2021年3月15日 某省人民政府令第12号公布\n\n2021年5月1日 施行\n\n"
    levels = {"第一章": 2, "第二章": 2, "第三章": 2, "附　则": 2, "第一节": 3, "第二节": 3}

    def marked(line: str) -> str:
        level = next((n for key, n in levels.items() if line.startswith(key)), 0)
        return "#" * level + " " * bool(level) + line

    lines = [marked(line) for line in BODY]
    body = "\n\n".join(lines)
    (folder / "rule.md").write_text(f"{head}<!-- INFO END -->\n\n{body}\n", encoding="utf-8")


def _html(folder: Path) -> None:
    paragraphs = "\n".join(f"<p>{line}</p>" for line in LINES)
    page = (
        f"<html><head><meta charset='utf-8'><title>{TITLE}</title></head><body>"
        f"<article><h1>{TITLE}</h1>{paragraphs}</article></body></html>"
    )
    (folder / "rule.html").write_text(page, encoding="utf-8")


def _docx(folder: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = TITLE
    for line in LINES:
        document.add_paragraph(line)
    document.save(str(folder / "rule.docx"))


def _pdf(folder: Path) -> None:
    pytest.importorskip("reportlab", reason="reportlab (dev extra) writes the test PDF")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(folder / "rule.pdf"))
    pdf.setTitle(TITLE)
    pdf.setFont("STSong-Light", 10)
    y = 800
    for line in LINES:
        pdf.drawString(40, y, line)
        y -= 18
    pdf.save()


WRITERS = {"txt": _txt, "md": _md, "html": _html, "docx": _docx, "pdf": _pdf}


@pytest.fixture(params=sorted(WRITERS))
def rule(request: pytest.FixtureRequest, tmp_path: Path) -> Document:
    WRITERS[request.param](tmp_path)
    report = load_corpus([tmp_path])
    assert report.skipped == []
    (doc,) = report.documents
    return doc


def at(doc: Document, phrase: str) -> Position:
    return positions(doc.text, [doc.text.index(phrase)])[0]


def test_chapters_sections_articles_and_the_annex_chapter(rule: Document) -> None:
    assert at(rule, "为了加强电动自行车管理") == Position(("第一章 总则",), "第一条")
    assert at(rule, "购车发票") == Position(("第二章 登记与通行", "第一节 登记"), "第三条")
    assert at(rule, "佩戴安全头盔") == Position(("第二章 登记与通行", "第二节 通行"), "第四条")
    assert at(rule, "处五十元罚款") == Position(("第三章 法律责任",), "第五条")
    # 附则 standing alone is a chapter: it ends 第三章 and holds the last article
    assert at(rule, "本规定自2021年5月1日起施行") == Position(("附则",), "第六条")
    chunks = chunk_document(rule, target=40, max_chars=60, min_chars=20)
    starts = positions(rule.text, [c.start for c in chunks])
    assert [(c.section, c.article) for c in chunks] == [(p.section, p.article) for p in starts]
    assert all(c.section for c in chunks if c.start >= rule.text.index("第一章"))


def test_clauses_and_items(rule: Document) -> None:
    assert clause_at(rule.text, rule.text.index("购车发票")).label == "第三条第二款第二项"
    assert clause_at(rule.text, rule.text.index("应当登记后方可")).label == "第三条第一款"
    assert clause_at(rule.text, rule.text.index("佩戴安全头盔")).label == "第四条"
    assert clause_at(rule.text, rule.text.index("第一章")) is None


def test_order_number_and_effective_date(rule: Document) -> None:
    info = info_of(rule)
    assert info.order_number == "某省人民政府令第12号"
    assert info.effective_date == "2021-05-01"
    assert info.doc_type == "规定"


def test_the_head_note_names_the_issuer_in_plain_formats(tmp_path: Path) -> None:
    _txt(tmp_path)
    (doc,) = load_corpus([tmp_path]).documents
    info = document_info(doc.text, doc.title)
    assert info.issuer == "某省人民政府"
    assert info.doc_number is None  # 令第12号 is an order number, not a 文号


# -- small texts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("公安部令第149号", "公安部令第149号"),
        ("第12号令", "第12号令"),
        ("〔2020〕第3号令", "〔2020〕第3号令"),
        ("食品药品监管局、海关总署第 5 号令", "食品药品监管局、海关总署第5号令"),
        ("中华人民共和国国家安全部令第 46 号", "中华人民共和国国家安全部令第46号"),
        ("京政办发〔2019〕12号", None),
        ("依照第十二条规定", None),
    ],
)
def test_order_numbers(line: str, expected: str | None) -> None:
    assert order_number(line) == expected


def test_numbers_cited_in_running_text_are_not_the_documents() -> None:
    text = (
        "某市停车管理办法\n"
        "根据《全国年节及纪念日放假办法》（国务院令第513号）的规定，结合本市实际，"
        "制定本办法，请各单位认真贯彻执行，自2020年1月1日起施行的旧办法同时废止。\n"
        "第一条 正文。"
    )
    info = document_info(text, "某市停车管理办法")
    assert (info.order_number, info.doc_number) == (None, None)


@pytest.mark.parametrize(
    ("text", "effective"),
    [
        ("第三十条 本条例自2022年1月1日起施行。", "2022-01-01"),
        ("本办法自２０１９年１月１日起实施。", "2019-01-01"),
        ("2021年11月1日 施行\n第一条 正文。", "2021-11-01"),
        ("第一条 正文。", None),
    ],
)
def test_effective_dates(text: str, effective: str | None) -> None:
    assert document_info(text).effective_date == effective


def test_effective_on_publication_takes_the_publication_date() -> None:
    text = "第一条 正文。\n第二条 本办法自公布之日起施行。"
    doc = Document("d", "某办法", text, date="2020-06-01")
    assert info_of(doc).effective_date == "2020-06-01"
    assert info_of(Document("d", "某办法", doc.text)).effective_date is None


def test_stated_fields_win_over_the_text() -> None:
    doc = Document(
        "d", "某办法", "某部令第3号\n第一条 正文。", issuer="某部", order_number="某部令第4号"
    )
    info = info_of(doc)
    assert (info.issuer, info.order_number, info.doc_type) == ("某部", "某部令第4号", "办法")


def test_issuers_of_history_events_and_their_keys() -> None:
    cases = {
        "第十届全国人民代表大会常务委员会第二十八次会议通过": "全国人民代表大会常务委员会",
        "上海市第十三届人民代表大会常务委员会第三十次会议通过": "上海市人民代表大会常务委员会",
        "最高人民法院审判委员会第1823次会议通过": "最高人民法院审判委员会",
        "国家市场监督管理总局令第56号公布": "国家市场监督管理总局",
        "最高人民法院、最高人民检察院公告公布": "最高人民法院、最高人民检察院",
    }
    for event, key in cases.items():
        assert issuer_key(event_issuer(event)) == key, event
    assert event_issuer("施行") is None


def test_part_subpart_and_articles_past_a_thousand() -> None:
    text = "\n".join(
        [
            "第三编 合同",
            "第一分编 通则",
            "第一章 一般规定",
            "第一千零三十六条 正文。",
            "（一）第一项；",
            "第二分编 典型合同",
            "正文。",
        ]
    )
    assert [pos for _, pos in changes(text)] == [
        Position(("第三编 合同",)),
        Position(("第三编 合同", "第一分编 通则")),
        Position(("第三编 合同", "第一分编 通则", "第一章 一般规定")),
        Position(("第三编 合同", "第一分编 通则", "第一章 一般规定"), "第一千零三十六条"),
        Position(("第三编 合同", "第二分编 典型合同")),
    ]


def test_title_types() -> None:
    assert title_type("某省电动自行车管理规定") == "规定"
    assert title_type("处方药与非处方药分类管理办法（试行）") == "办法"
    assert title_type("中华人民共和国劳动合同法（2012年修正）") == "法"
    assert title_type("关于职工全年月平均工作时间和工资折算问题的通知") == "通知"
    assert title_type("2019年工作要点") is None
