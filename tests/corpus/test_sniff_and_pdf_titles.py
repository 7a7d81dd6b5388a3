"""A file is read by what it is, not by its name, and a PDF's title is one that reads as a
title (issue 29): corpus/sniff.py, corpus/pdf_title.py and the readers that use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.loading import load_corpus
from corpus.pdf_title import first_heading, looks_like_title, pdf_title
from corpus.sniff import sniff_bytes

NOTICE = "北京市人民政府关于推进京津冀协同发展的通知"
BODY = "京津冀协同发展是一个重大国家战略，要坚持优势互补、互利共赢、扎实推进。"


def write_pdf(path: Path, lines: list[str], title: str | None) -> Path:
    pytest.importorskip("reportlab", reason="reportlab (dev extra) writes the test PDF")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    if title is not None:
        pdf.setTitle(title)
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(lines):
        pdf.drawString(72, 760 - 20 * i, line)
    pdf.save()
    return path


@pytest.mark.parametrize(
    "metadata", ["untitled", "Microsoft Word - 附件2.docx", "附件2.pdf", "", "附件2", None]
)
def test_a_pdf_metadata_title_that_is_no_title_gives_way_to_the_first_heading(tmp_path, metadata):
    write_pdf(tmp_path / "a.pdf", ["附件2", "— 1 —", NOTICE, BODY], metadata)
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.title == NOTICE


def test_a_pdf_metadata_title_that_reads_as_a_title_is_kept(tmp_path):
    write_pdf(tmp_path / "a.pdf", ["附件2", NOTICE, BODY], "京津冀协同发展规划纲要")
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.title == "京津冀协同发展规划纲要"


def test_title_rules():
    assert looks_like_title("关于印发《北京市推进京津冀协同发展2019年工作要点》的通知")
    for bad in ("untitled", "Untitled Document", "Microsoft Word - 附件2.docx", "WPS文字 - 通知",
                "附件2.docx", "scan_0001.pdf", "附件 3", "abc", "  "):  # fmt: skip
        assert not looks_like_title(bad), bad
    assert not looks_like_title("notice2019", stem="notice2019")  # the file's own name
    lines = "附件1\n2019年3月5日\n京政发〔2019〕12号\n第 2 页\n这是一个句子，以句号结尾。\n"
    assert first_heading(lines + NOTICE) == NOTICE
    assert pdf_title(None, "1\n2\n") is None  # nothing heading-like: the loader's default


def test_a_pdf_renamed_txt_is_read_as_a_pdf(tmp_path):
    write_pdf(tmp_path / "notice.txt", [NOTICE, BODY], "untitled")
    (doc,) = load_corpus([tmp_path]).documents
    assert "%PDF" not in doc.text and BODY in doc.text
    assert doc.title == NOTICE


def test_a_docx_renamed_md_is_read_as_a_docx(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph(NOTICE)
    document.add_paragraph(BODY)
    document.save(str(tmp_path / "notice.md"))
    (doc,) = load_corpus([tmp_path]).documents
    assert doc.text.splitlines()[:2] == [NOTICE, BODY]


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "a PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "a JPEG image"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "an executable (ELF)"),
        (b"PK\x03\x04" + b"\x00" * 40, "a zip archive"),
        (b"abc\x00\x01\x02" * 10, "a binary file"),
    ],
)
def test_other_binaries_under_a_text_name_are_skipped_with_one_line(tmp_path, head, what):
    (tmp_path / "ok.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "picture.txt").write_bytes(head)
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["ok.txt"]
    (reason,) = [r for path, r in report.skipped if path.endswith("picture.txt")]
    assert reason.startswith(f"not a text file: it is {what}")


def test_text_in_the_encodings_read_here_is_not_mistaken_for_binary():
    for text in (BODY, "Beijing-Tianjin-Hebei", "# 标题\n\n正文"):
        for encoding in ("utf-8", "utf-8-sig", "gb18030", "big5"):
            try:
                data = text.encode(encoding)
            except UnicodeEncodeError:
                continue
            assert sniff_bytes(data) is None, (text, encoding)
    assert sniff_bytes(BODY.encode("utf-16")) is None  # a BOM: the text reader decides
