"""Loading folders and JSONL files, sidecar metadata, and the HTML/PDF/DOCX readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.document import Document
from corpus.loading import (
    CorpusError,
    _jsonl_document,
    load_corpus,
    normalize_date,
    shipped_corpus_dir,
)
from corpus.sanitize import TITLE_MAX, sanitize_document
from tests.support.strategies import FAST, SHORT

BODY = "京津冀协同发展是一个重大国家战略，要坚持优势互补、互利共赢、扎实推进。"


def write_jsonl(path: Path, records: list[object]) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_seed_corpus_loads_with_provenance() -> None:
    report = load_corpus([shipped_corpus_dir()])
    assert report.skipped == []
    docs = {d.doc_id: d for d in report.documents}
    assert sorted(docs) == sorted(p.name for p in shipped_corpus_dir().glob("*.txt"))
    work_plan = docs["beijing-jjj-work-plan-2019.txt"]
    assert work_plan.title == "北京市推进京津冀协同发展2019年工作要点"
    assert (work_plan.source, work_plan.date) == ("北京市发展和改革委员会", "2019-06-06")
    cppcc = docs["jjj-cppcc-joint-meeting-2020.txt"]
    assert (cppcc.source, cppcc.date) == ("人民政协网", "2020-09-14")
    assert docs["tongwulang-pilot-agreement-2023.txt"].date == "2023-05-31"
    sidecar = json.loads((shipped_corpus_dir() / "sources.json").read_text(encoding="utf-8"))
    for name, meta in sidecar.items():
        assert set(meta) == {"title", "source", "date", "url"}
        assert docs[name].title == meta["title"]


def test_content_hash_ignores_doc_id_but_not_content() -> None:
    a = Document("a.txt", "标题", BODY, "来源", "2020-01-01")
    assert a.content_hash == Document("b.txt", "标题", BODY, "来源", "2020-01-01").content_hash
    assert (
        a.content_hash != Document("a.txt", "标题", BODY + "。", "来源", "2020-01-01").content_hash
    )
    assert a.content_hash != Document("a.txt", "标题", BODY, "来源", "2020-01-02").content_hash
    assert len(a.content_hash) == 64


def test_folder_recursive_with_nested_sidecars_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "plain.txt").write_text("当前位置：首页 > 通知 > 正文\n关于协同发展的通知\n" + BODY)
    (tmp_path / "sub" / "a.md").write_text(BODY, encoding="utf-8")
    (tmp_path / "sub" / "deeper" / "b.txt").write_bytes(("国家战略\n" + BODY).encode("gbk"))
    (tmp_path / "sources.json").write_text(
        json.dumps({"sub/deeper/b.txt": {"title": "来自上层", "date": "2019年6月6日"}}),
        encoding="utf-8",
    )
    (tmp_path / "sub" / "sources.json").write_text(
        json.dumps({"a.md": {"title": "文件A", "source": "某部门", "url": "https://e.x/a"}}),
        encoding="utf-8",
    )
    (tmp_path / ".hidden.txt").write_text(BODY)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text(BODY)

    report = load_corpus([tmp_path])
    docs = {d.doc_id: d for d in report.documents}
    assert sorted(docs) == ["plain.txt", "sub/a.md", "sub/deeper/b.txt"]
    assert report.skipped == []
    plain = docs["plain.txt"]
    assert plain.title == "关于协同发展的通知" and plain.source is None and plain.date is None
    assert "当前位置" not in plain.text
    a = docs["sub/a.md"]
    assert (a.title, a.source, a.url, a.date) == ("文件A", "某部门", "https://e.x/a", None)
    b = docs["sub/deeper/b.txt"]
    assert (b.title, b.date) == ("来自上层", "2019-06-06")
    assert b.text == "国家战略\n" + BODY


def test_title_falls_back_to_stem_for_long_first_line(tmp_path: Path) -> None:
    (tmp_path / "长文.txt").write_text(BODY * 5, encoding="utf-8")
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.title == "长文"


def test_jsonl_bad_lines_reported_rest_loaded(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    write_jsonl(
        path,
        [
            {"doc_id": "policy/1", "title": "一号", "text": BODY, "date": "2021-03-11"},
            "{not json",
            {"doc_id": "policy/2", "title": "二号"},
            {"doc_id": "policy/3", "title": "三号", "text": BODY, "source": "某网", "url": None},
            ["a list"],
            {"doc_id": "policy/1", "title": "重复", "text": BODY},
            {"doc_id": "policy/4", "title": "空", "text": "  "},
            "",
        ],
    )
    report = load_corpus([path])
    assert [d.doc_id for d in report.documents] == ["policy/1", "policy/3"]
    assert report.documents[0].date == "2021-03-11"
    assert report.documents[1].source == "某网" and report.documents[1].text == BODY
    where = [w for w, _ in report.skipped]
    assert where == [f"{path}:{n}" for n in (2, 3, 5, 6, 7)]
    reasons = dict(report.skipped)
    assert reasons[f"{path}:2"].startswith("invalid JSON")
    assert "'text'" in reasons[f"{path}:3"]
    assert "duplicate doc_id 'policy/1'" in reasons[f"{path}:6"]
    assert "empty" in reasons[f"{path}:7"]
    assert all("\n" not in reason for _, reason in report.skipped)


def test_jsonl_inside_folder_and_duplicates_across_paths(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    write_jsonl(folder / "more.jsonl", [{"doc_id": "x.txt", "title": "X", "text": BODY}])
    (folder / "x.txt").write_text(BODY, encoding="utf-8")
    report = load_corpus([folder, shipped_corpus_dir()])
    assert [d.doc_id for d in report.documents][:1] == ["x.txt"]
    assert len(report.documents) == 6
    assert report.skipped == [
        (
            str(folder / "x.txt"),
            f"duplicate doc_id 'x.txt' (already loaded from {folder / 'more.jsonl'}:1)",
        )
    ]


def test_unreadable_and_unsupported_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK not a zip")
    (tmp_path / "binary.txt").write_bytes(bytes(range(128, 256)) * 4)
    (tmp_path / "empty.txt").write_text("版权所有 © 某网\n", encoding="utf-8")
    (tmp_path / "picture.jpg").write_bytes(b"\xff\xd8\xff")
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["ok.txt"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"broken.pdf", "broken.docx", "binary.txt", "empty.txt", "picture.jpg"}
    assert reasons["broken.pdf"].startswith("cannot read PDF")
    assert reasons["broken.docx"].startswith("cannot read DOCX")
    assert reasons["binary.txt"].startswith("cannot decode text")
    assert reasons["empty.txt"].startswith("empty document")
    assert reasons["picture.jpg"] == "unsupported file type .jpg"


def test_a_reader_that_fails_skips_only_its_file(tmp_path: Path, monkeypatch) -> None:
    """A missing library (lxml.html.clean on a fresh install) or any reader bug skips one file."""
    import corpus.readers

    def missing_library(path: Path):
        raise ImportError(
            "lxml.html.clean module is now a separate project lxml_html_clean.\n"
            "Install lxml[html_clean] or lxml_html_clean directly."
        )

    def buggy(path: Path):
        raise RuntimeError("reader bug")

    monkeypatch.setitem(corpus.readers.READERS, ".html", missing_library)
    monkeypatch.setitem(corpus.readers.READERS, ".docx", buggy)
    (tmp_path / "a.txt").write_text("第一篇\n" + BODY, encoding="utf-8")
    (tmp_path / "page.html").write_text("<html><body><p>正文</p></body></html>", encoding="utf-8")
    (tmp_path / "report.docx").write_bytes(b"PK")
    (tmp_path / "z.txt").write_text("第二篇\n" + BODY, encoding="utf-8")
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["a.txt", "z.txt"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"page.html", "report.docx"}
    assert "lxml_html_clean" in reasons["page.html"]
    assert "pip install" in reasons["page.html"]
    assert reasons["report.docx"] == "cannot read .docx file: reader bug"
    assert all("\n" not in reason for reason in reasons.values())


def test_invalid_sidecar_is_reported_and_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("标题行\n" + BODY, encoding="utf-8")
    (tmp_path / "sources.json").write_text("{broken", encoding="utf-8")
    report = load_corpus([tmp_path])
    assert report.documents[0].title == "标题行"
    assert report.skipped[0][0] == str(tmp_path / "sources.json")


def test_unknown_paths_raise_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"^corpus folder not found: .*nowhere$"):
        load_corpus([tmp_path / "nowhere"])
    other = tmp_path / "notes.csv"
    other.write_text("a,b")
    with pytest.raises(CorpusError, match="not a corpus folder or .jsonl file"):
        load_corpus([other])


def test_normalize_date() -> None:
    assert normalize_date("2019-6-6") == "2019-06-06"
    assert normalize_date("2020.10.09") == "2020-10-09"
    assert normalize_date("2023年05月31日 星期三") == "2023-05-31"
    assert normalize_date("2019-13-01") is None
    assert normalize_date(None) is None and normalize_date("soon") is None


HTML = """<!DOCTYPE html>
<html><head><meta charset="{charset}">
<title>关于推进京津冀协同发展的通知_某某网</title>
<meta property="article:published_time" content="2023-05-31">
</head><body>
<div class="nav">当前位置：首页 &gt; 政策 &gt; 正文</div>
<ul class="menu"><li><a href="/">首页</a></li><li><a href="/a">新闻中心</a></li></ul>
<article>
<h1>关于推进京津冀协同发展的通知</h1>
<p>为深入贯彻落实京津冀协同发展战略，推动北京非首都功能疏解，现就有关事项通知如下。</p>
<p>一、加强规划对接，推动交通一体化建设取得新突破，构建快速、便捷、高效、安全的综合交通网络。</p>
<p>二、深化生态环境联防联控，持续推进大气污染治理，加强区域内监测预报和信息共享。</p>
</article>
<div class="footer"><p>版权所有 &copy; 某某网 京ICP备12345678号</p><p>扫描二维码关注我们</p></div>
</body></html>
"""


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_html_main_text_title_and_date(tmp_path: Path, charset: str) -> None:
    (tmp_path / "page.html").write_bytes(HTML.format(charset=charset).encode(charset))
    report = load_corpus([tmp_path])
    assert report.skipped == []
    (doc,) = report.documents
    assert doc.doc_id == "page.html"
    assert doc.title == "关于推进京津冀协同发展的通知"
    assert doc.date == "2023-05-31"
    assert (
        "为深入贯彻落实京津冀协同发展战略，推动北京非首都功能疏解，现就有关事项通知如下。"
        in doc.text
    )
    assert "二、深化生态环境联防联控" in doc.text
    for chrome in ("当前位置", "ICP", "二维码", "新闻中心"):
        assert chrome not in doc.text
    # paragraphs from the page are never merged
    assert "通知如下。\n一、加强规划对接" in doc.text


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "协同发展工作要点"
    document.add_heading("工作要点", level=1)
    document.add_paragraph(BODY)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "任务"
    table.rows[0].cells[1].text = "疏解非首都功能"
    document.add_paragraph("推动交通一体化")
    document.save(str(tmp_path / "plan.docx"))
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.title == "协同发展工作要点"
    assert doc.text == f"工作要点\n{BODY}\n任务 疏解非首都功能\n推动交通一体化"


def test_pdf_text_layer(tmp_path: Path) -> None:
    pytest.importorskip("reportlab", reason="reportlab (dev extra) writes the test PDF")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(tmp_path / "notice.pdf"))
    pdf.setTitle("京津冀协同发展通知")
    pdf.setFont("STSong-Light", 12)
    for y, line in (
        (760, "京津冀协同发展是一个重大国家战略，要坚持"),
        (740, "优势互补、互利共赢、扎实推进。"),
    ):
        pdf.drawString(72, y, line)
    pdf.showPage()
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 760, "第二页内容：推动北京非首都功能疏解。")
    pdf.save()
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.title == "京津冀协同发展通知"
    assert doc.text == BODY + "\n第二页内容：推动北京非首都功能疏解。"


TWO_SENTENCES = "京津冀协同发展是一项重大国家战略。通武廊签署了试点示范合作协议。\n"


ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def test_metadata_is_capped_links_are_http_only_and_controls_are_removed(tmp_path):
    (tmp_path / "a.txt").write_text(TWO_SENTENCES, encoding="utf-8")
    (tmp_path / "b.txt").write_text(TWO_SENTENCES, encoding="utf-8")
    sidecar = {
        "a.txt": {"title": "长" * 5000, "source": f"来源{ESC}", "url": "javascript:alert(1)"},
        "b.txt": {"title": "正常标题", "url": "https://example.org/b?x=1"},
    }
    (tmp_path / "sources.json").write_text(json.dumps(sidecar), encoding="utf-8")
    record = {
        "doc_id": f"j{ESC}1",
        "title": f"标题\u202e反转{ESC}",
        "text": f"{ESC}{TWO_SENTENCES}",
    }
    (tmp_path / "c.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")

    report = load_corpus([tmp_path])
    docs = {d.doc_id: d for d in report.documents}
    # a doc_id keeps its controls escaped (two ids differing by one stay two documents)
    a, b, c = docs["a.txt"], docs["b.txt"], docs["j\\x1b]0;owned\\x07\\x1b[2J\\x1b[31m1"]
    assert len(a.title) == TITLE_MAX and a.title.endswith("…")
    assert a.url is None and a.source == "来源]0;owned[2J[31m"
    assert b.url == "https://example.org/b?x=1" and b.title == "正常标题"
    for doc in report.documents:
        for value in (doc.doc_id, doc.title, doc.text, doc.source or ""):
            assert "\x1b" not in value and "\x07" not in value and "\u202e" not in value
    assert c.text.startswith("]0;owned") and TWO_SENTENCES.strip() in c.text
    reasons = "\n".join(f"{path}: {why}" for path, why in report.warnings)
    assert "title cut to 200 characters (it had 5000)" in reasons
    assert "url dropped (only http:// and https:// links are kept): javascript:" in reasons
    assert "control characters removed from the text" in reasons


def test_a_file_over_the_size_cap_is_skipped_with_a_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")  # about 10 KB
    (tmp_path / "small.txt").write_text(TWO_SENTENCES, encoding="utf-8")
    (tmp_path / "big.txt").write_text(TWO_SENTENCES * 400, encoding="utf-8")
    (tmp_path / "big.jsonl").write_text(
        json.dumps({"doc_id": "x", "title": "t", "text": TWO_SENTENCES * 400}), encoding="utf-8"
    )
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["small.txt"]
    skipped = dict(report.skipped)
    reason = skipped[str(tmp_path / "big.txt")]
    assert reason.startswith("too large (") and "QABOT_MAX_FILE_MB" in reason
    reason = skipped[f"{tmp_path / 'big.jsonl'}:1"]  # JSONL: the cap is a record's
    assert reason.startswith("record too large (") and "QABOT_MAX_FILE_MB" in reason


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["doc_id", "title", "text", "source", "url", "date"]),
        st.one_of(SHORT, st.integers(), st.none(), st.lists(st.integers())),
    )
)
def test_any_jsonl_record_is_a_document_or_a_one_line_reason(record: dict) -> None:
    try:
        doc = _jsonl_document(json.dumps(record))
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    doc, _ = sanitize_document(doc)
    assert "\x1b" not in doc.text + doc.title + doc.doc_id


def test_jsonl_records_and_sidecars_may_state_the_policy_fields(tmp_path: Path) -> None:
    record = {
        "doc_id": "r1",
        "title": "某条例",
        "text": "第一条 正文。",
        "issuer": " 某省人民代表大会常务委员会\n",
        "effective_date": "2022年1月1日",
        "order_number": "第12号令",
        "doc_type": "地方性法规",
        "doc_number": None,
    }
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (doc,) = load_corpus([path]).documents
    assert (doc.issuer, doc.effective_date) == ("某省人民代表大会常务委员会", "2022-01-01")
    assert (doc.order_number, doc.doc_type, doc.doc_number) == ("第12号令", "地方性法规", None)
    bad = dict(record, issuer=3)
    path.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    assert "issuer" in load_corpus([path]).skipped[0][1]
