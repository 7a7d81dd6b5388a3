"""Markdown policy files (corpus/markdown.py): the head becomes metadata, the syntax goes,
the headings make the heading path, and every chunk still quotes the clean text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.chunking import chunk_document
from corpus.document import Document
from corpus.loading import load_corpus
from corpus.markdown import is_markdown, read_markdown_text
from corpus.readers import markdown_extracted
from corpus.sanitize import sanitize_document
from corpus.structure import advance, changes, info_of, positions
from tests.support.corpora import LAW_SAMPLE
from tests.support.strategies import ALPHABET, FAST

# Real files of LawRefBook/Laws (commit 2f4c5c2), public-domain laws and rules (Copyright
# Law art. 5): a Shanghai and a Zhejiang local regulation, two departmental documents, a law.
SAMPLE = Path(__file__).parent / "data" / "markdown"
SYNTAX = ("# ", "<!--", "-->", "**", "](", "INFO END", "| ---", "```")


@pytest.fixture(scope="module")
def sample() -> dict[str, Document]:
    report = load_corpus([SAMPLE])
    assert report.skipped == [] and report.warnings == []
    return {doc.doc_id: doc for doc in report.documents}


def at(doc: Document, phrase: str):
    return positions(doc.text, [doc.text.index(phrase)])[0]


def test_no_chunk_holds_markdown_syntax_or_the_info_block(sample: dict[str, Document]) -> None:
    assert len(sample) == 5
    for doc in sample.values():
        chunks = chunk_document(doc)
        assert chunks, doc.doc_id
        for chunk in chunks:
            assert chunk.text == doc.text[chunk.start : chunk.end]
            assert not any(mark in chunk.text for mark in SYNTAX), (doc.doc_id, chunk.text)
        # the info block's title and history lines are metadata, not text
        assert not doc.text.startswith(doc.title), doc.doc_id
        assert "会议通过" not in doc.text.split("\n")[0]


def test_chapters_sections_and_articles_from_markdown_headings(
    sample: dict[str, Document],
) -> None:
    doc = sample["上海市外商投资企业审批条例.md"]
    assert at(doc, "为了扩大对外开放和经济技术合作") == at(doc, "第一条 为了扩大")
    assert at(doc, "为了扩大对外开放和经济技术合作").path == ("第一章 总则",)
    assert at(doc, "为了扩大对外开放和经济技术合作").article == "第一条"
    # "## 第一章　总则" then "### 第一节 …": the section nests in its chapter
    paths = {pos.section for _, pos in changes(doc.text)}
    assert "第二章 外商投资企业的设立 › 第一节 中外合资经营企业" in paths
    assert "第五章 附则" in paths
    # every chunk after the first heading has a section; each article chunk an article
    chunks = chunk_document(doc)
    assert all(c.section for c in chunks)
    assert sum(c.article is not None for c in chunks) >= len(chunks) - 1
    notice = sample["关于职工全年月平均工作时间和工资折算问题的通知(2009-03-29).md"]
    assert at(notice, "年工作日：365天").path == ("一、制度工作时间的计算",)
    assert at(notice, "日工资：月工资收入").path == ("二、日工资、小时工资的折算",)


def test_the_info_block_is_read_into_metadata(sample: dict[str, Document]) -> None:
    law = sample["城市维护建设税法(2020-08-11).md"]
    assert (law.title, law.date) == ("中华人民共和国城市维护建设税法", "2020-08-11")
    assert law.issuer == "第十三届全国人民代表大会常务委员会"
    info = info_of(law)
    assert info.effective_date == "2021-09-01"  # 本法自2021年9月1日起施行 in the last article
    assert info.doc_type == "法"

    rule = sample["市场监督管理行政处罚信息公示规定(2021-07-30).md"]
    assert rule.order_number == "国家市场监督管理总局令第45号"
    assert (rule.date, rule.effective_date) == ("2021-07-30", "2021-09-01")
    assert rule.issuer == "国家市场监督管理总局"

    # two history lines: the latest act is the date, the first names the issuer
    zhejiang = sample["浙江省企业商号管理和保护规定(2021-07-30).md"]
    assert zhejiang.date == "2021-07-30"
    assert zhejiang.issuer == "浙江省第十届人民代表大会常务委员会"

    notice = sample["关于职工全年月平均工作时间和工资折算问题的通知(2009-03-29).md"]
    assert notice.doc_number == "劳社部发[2008]3号"
    assert notice.text.startswith("各省、自治区、直辖市劳动和社会保障厅（局）：")


def test_yaml_front_matter_and_comments() -> None:
    source = (
        "---\n"
        "title: 某市促进科技创新条例\n"
        "发布机关: 某市人民代表大会常务委员会\n"
        'date: "2022-05-25"\n'
        "施行日期: 2022年7月1日\n"
        "文号: 某人大常发〔2022〕3号\n"
        "tags: [科技, 创新]\n"
        "---\n"
        "# 某市促进科技创新条例\n\n"
        "<!-- 整理者注：本文依据公报版本 -->\n"
        "## 第一章 总则\n\n"
        "**第一条** 为了促进*科技创新*，制定本条例。\n"
    )
    body, fields = read_markdown_text(source)
    assert fields == {
        "title": "某市促进科技创新条例",
        "issuer": "某市人民代表大会常务委员会",
        "date": "2022-05-25",
        "effective_date": "2022-07-01",
        "doc_number": "某人大常发〔2022〕3号",
    }
    assert body == "第一章 总则\n\n第一条 为了促进科技创新，制定本条例。"


def test_a_leading_metadata_list_is_metadata() -> None:
    source = (
        "# 某省数据条例\n\n"
        "- 发布机关：某省人民代表大会常务委员会\n"
        "- 公布日期：2021-11-25\n"
        "- 施行日期：2022年1月1日\n"
        "- 令号：第12号令\n"
        "- 时效性：现行有效\n\n"
        "## 第一章 总则\n\n"
        "第一条 为了规范数据处理活动，制定本条例。\n\n"
        "联系电话：12345\n"
    )
    body, fields = read_markdown_text(source)
    assert fields == {
        "title": "某省数据条例",
        "issuer": "某省人民代表大会常务委员会",
        "date": "2021-11-25",
        "effective_date": "2022-01-01",
        "order_number": "第12号令",
    }
    # only the list that opens the file is metadata: a key-value line in the text stays
    assert body == "第一章 总则\n\n第一条 为了规范数据处理活动，制定本条例。\n\n联系电话：12345"


def test_markdown_syntax_becomes_plain_text() -> None:
    source = (
        "# 关于印发实施方案的通知\n\n"
        "## 一、总体要求\n\n"
        "坚持**“协同发展”**，详见[附件](http://example.gov.cn/a.pdf)。![图片](a.png)\n"
        "下一行接续。\n\n"
        "1. 推进交通一体化。加快建设城际铁路。\n"
        "2. 推进生态共建。\n\n"
        "- 无序条目\n\n"
        "> 引用的*原文*。\n\n"
        "| 项目 | 金额 |\n|---|---|\n| 道路 | 5亿元 |\n\n"
        "```\n代码块里的文字\n```\n\n"
        "### 背景 ###\n\n"
        "正文<br>换行 &amp; 实体。\n"
    )
    body, fields = read_markdown_text(source)
    assert fields == {"title": "关于印发实施方案的通知"}
    assert body.split("\n\n") == [
        "一、总体要求",
        "坚持“协同发展”，详见附件。\n下一行接续。",
        "1.推进交通一体化。加快建设城际铁路。",
        "2.推进生态共建。",
        "无序条目",
        "引用的原文。",
        "项目 金额",
        "道路 5亿元",
        "代码块里的文字",
        "背景",
        "正文\n换行 & 实体。",
    ]
    text = markdown_extracted(source).text
    assert changes(text)[0][1].section == "一、总体要求"
    assert positions(text, [text.index("加快建设城际铁路")])[0].path == (
        "一、总体要求",
        "1.推进交通一体化",
    )


def test_a_chapter_is_no_title_and_a_txt_file_is_markdown_only_when_clearly() -> None:
    body, fields = read_markdown_text("# 第一章 总则\n\n第一条 正文。\n")
    assert fields == {} and body == "第一章 总则\n\n第一条 正文。"
    assert is_markdown("# 标题\n\n<!-- INFO END -->\n\n正文")
    assert is_markdown("---\ntitle: 标题\n---\n正文")
    assert is_markdown("# 标题\n\n## 一、总体要求\n\n正文")
    assert not is_markdown("一、总体要求\n#1 号文件\n正文。")
    assert not is_markdown("---\n\n正文：一段话，没有键。\n---\n")


def test_txt_and_md_files_load_through_load_corpus(tmp_path: Path) -> None:
    law = (
        "# 某省条例\n\n2020年1月1日 施行\n\n<!-- INFO END -->\n\n## 第一章 总则\n\n第一条 正文。\n"
    )
    (tmp_path / "law.txt").write_text(law, encoding="utf-8")
    (tmp_path / "law.md").write_text(law, encoding="utf-8")
    (tmp_path / "plain.txt").write_text("# 不是标题的一行\n正文。\n", encoding="utf-8")
    docs = {d.doc_id: d for d in load_corpus([tmp_path]).documents}
    for name in ("law.txt", "law.md"):
        assert docs[name].text == "第一章 总则\n第一条 正文。"
        assert (docs[name].title, docs[name].effective_date) == ("某省条例", "2020-01-01")
    assert docs["plain.txt"].text.startswith("# 不是标题的一行")  # one "#" line: plain text


def test_sidecar_fields_win_over_the_head(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# 标题\n\n- 发布机关：甲局\n\n正文。\n", encoding="utf-8")
    (tmp_path / "sources.json").write_text(
        '{"a.md": {"issuer": "乙局", "effective_date": "2020/3/1", "doc_type": "部门规章"}}',
        encoding="utf-8",
    )
    (doc,) = load_corpus([tmp_path]).documents
    assert (doc.issuer, doc.effective_date, doc.doc_type) == ("乙局", "2020-03-01", "部门规章")


# -- any Markdown ---------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        "# ",
        "## ",
        "### 第一章 ",
        "\n",
        "\n\n",
        "**",
        "*",
        "_",
        "__",
        "~~",
        "`",
        "```\n",
        "[",
        "](http://x.cn/a)",
        "![",
        "<!--",
        "-->",
        "<!-- INFO END -->\n",
        "---\n",
        "> ",
        "- ",
        "1. ",
        "| a | b |\n|---|---|\n",
        "<br>",
        "&amp;",
        "\\",
        "    ",
        "发布机关：",
        "2021年1月1日 施行\n",
        "第一条 ",
        "（一）",
        "一、",
        "附则\n",
    ]
)
MARKDOWN = st.lists(st.one_of(PIECES, st.text(ALPHABET, max_size=30)), max_size=60).map("".join)


@FAST
@given(MARKDOWN)
def test_any_markdown_reads_to_chunks_that_quote_the_clean_text(source: str) -> None:
    extracted = markdown_extracted(source)
    fields = {
        name: getattr(extracted, name)
        for name in ("issuer", "doc_number", "order_number", "effective_date", "doc_type")
    }
    doc, _ = sanitize_document(
        Document("d.md", extracted.title or "t", extracted.text, date=extracted.date, **fields)
    )
    for chunk in chunk_document(doc, target=60, max_chars=90, min_chars=30):
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text and chunk.text
        assert "<!--" not in chunk.text
    info_of(doc)  # never raises


def test_advance_agrees_with_a_whole_document_pass(sample: dict[str, Document]) -> None:
    """The engine cites at the answer by advancing a chunk's stored position: on Markdown
    documents too this equals reading from the top."""
    for doc in sample.values():
        starts = [c.start for c in chunk_document(doc)]
        for start, position in zip(starts, positions(doc.text, starts), strict=True):
            targets = list(range(start, min(len(doc.text), start + 700), 11))
            assert [advance(doc.text, position, start, t) for t in targets] == positions(
                doc.text, targets
            ), (doc.doc_id, start)


def test_content_hash_is_unchanged_for_documents_without_stated_fields() -> None:
    import hashlib
    import json

    doc = Document("d", "标题", "正文。", "来源", "2020-01-01", "https://x.cn")
    before = json.dumps(
        [doc.title, doc.text, doc.source, doc.date, doc.url],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert doc.content_hash == hashlib.sha256(before.encode("utf-8")).hexdigest()
    stated = Document("d", "标题", "正文。", "来源", "2020-01-01", "https://x.cn", issuer="某局")
    assert stated.content_hash != doc.content_hash
    assert (
        Document("e", "标题", "正文。", effective_date="2021-01-01").content_hash
        != Document("e", "标题", "正文。", date="2021-01-01").content_hash
    )


def test_a_date_closing_the_file_name_is_the_date_when_none_is_stated(tmp_path: Path) -> None:
    (tmp_path / "某办法(2021-12-17).md").write_text("# 某办法\n\n第一条 正文。\n", "utf-8")
    (tmp_path / "某规定(2021-12-17).md").write_text(
        "# 某规定\n\n2020年1月2日 公布\n\n<!-- INFO END -->\n\n第一条 正文。\n", "utf-8"
    )
    dates = {d.title: d.date for d in load_corpus([tmp_path]).documents}
    assert dates == {"某办法": "2021-12-17", "某规定": "2020-01-02"}


def test_several_acts_on_one_history_line_each_count(tmp_path: Path) -> None:
    # as LawRefBook's 重庆 files write their history: the date is the latest act, not the first
    (tmp_path / "某条例.md").write_text(
        "# 某条例\n\n1998年3月28日 某市人大常委会第八次会议通过\n\n"
        "1999年7月29日 某市人大常委会第十八次会议修正  2006年3月31日某市人大常委会"
        "第二十三次会议修订  2019年5月31日某市人大常委会第十次会议第二次修订）\n\n"
        "<!-- INFO END -->\n\n第一条 正文。\n",
        "utf-8",
    )
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.date == "2019-05-31"
    assert doc.text == "第一条 正文。"


@pytest.mark.skipif(not LAW_SAMPLE.is_dir(), reason="tests/data/law_sample is not here")
def test_the_law_sample_reads_clean_with_sections_and_metadata() -> None:
    docs = [d for d in load_corpus([LAW_SAMPLE]).documents if d.doc_id.endswith(".md")]
    assert len(docs) >= 20
    for doc in docs:
        has_chapters = "\n第一章" in "\n" + doc.text
        for chunk in chunk_document(doc):
            assert chunk.text == doc.text[chunk.start : chunk.end]
            assert not any(mark in chunk.text for mark in SYNTAX), (doc.doc_id, chunk.text)
            if has_chapters and chunk.start >= doc.text.index("第一章"):
                assert chunk.section, (doc.doc_id, chunk.text)
        assert doc.date or "(" not in doc.doc_id, doc.doc_id  # dated file names have a date
    stated = [d for d in docs if d.issuer]
    assert len(stated) >= len(docs) * 2 // 3
    assert sum(info_of(d).effective_date is not None for d in docs) >= len(docs) * 2 // 3
