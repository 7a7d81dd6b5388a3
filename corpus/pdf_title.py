"""A PDF's title: its metadata title only when that looks like a title (issue 29).

Real PDFs carry ``untitled``, ``Microsoft Word - 附件2.docx``, a file name, or nothing in
their ``/Title``; those used to become the citation (``《untitled》``). Such a title is
dropped, and the first heading-like line of the text is the title instead: not an
attachment label (``附件2``), a page number, a date, a document number or a sentence.
"""

from __future__ import annotations

import re

TITLE_MAX = 80  # a heading longer than this is a sentence, not a title
_SCAN_LINES = 15

_PLACEHOLDERS = {
    "untitled", "untitled document", "无标题", "无标题文档", "新建文档", "title", "document",
    "microsoft word", "word", "pdf", "none", "null", "unknown", "未命名", "default",
}  # fmt: skip
_CREATOR_PREFIX = re.compile(
    r"^(microsoft\s+(word|excel|powerpoint)|wps\s*(文字|表格|演示)?|word|excel)\s*[-–—:：]\s*",
    re.IGNORECASE,
)
_FILE_NAME = re.compile(
    r"\.(docx?|pdf|wps|txt|xlsx?|pptx?|rtf|odt|html?|png|jpe?g|tiff?|ceb|ofd)$", re.IGNORECASE
)
_LETTER = re.compile(r"[^\W\d_]")
_ATTACHMENT = re.compile(r"^附\s*件\s*[0-9０-９一二三四五六七八九十]*\s*[:：]?$")
_PAGE = re.compile(r"^[-—–\s]*(第\s*)?[0-9０-９]+\s*(页|/\s*[0-9]+)?[-—–\s]*$")
_DATE = re.compile(
    r"^[0-9０-９〇零一二三四五六七八九十]{2,4}\s*年[0-9０-９〇零一二三四五六七八九十]{1,2}\s*月"
    r"([0-9０-９〇零一二三四五六七八九十]{1,3}\s*日)?$"
)
_DOC_NUMBER = re.compile(r"^\S{1,12}[〔\[［(（][0-9]{4}[〕\]］)）]\s*[0-9]+\s*号$")
_SENTENCE_END = ("。", "；", "，", "：", ":", ";", ",")


def looks_like_title(value: str | None, stem: str | None = None) -> bool:
    """Whether a metadata title can stand as the document's title."""
    if value is None:
        return False
    title = value.strip()
    if _CREATOR_PREFIX.match(title) or _FILE_NAME.search(title):
        return False  # "Microsoft Word - 附件2.docx", "京政发12号.pdf"
    if title.lower() in _PLACEHOLDERS or _ATTACHMENT.match(title):
        return False
    if len(_LETTER.findall(title)) < 4 or len(title) > TITLE_MAX * 2:
        return False
    return not (stem and title == stem)


def _heading_like(line: str) -> bool:
    if not line or len(line) > TITLE_MAX or line.endswith(_SENTENCE_END):
        return False
    if _ATTACHMENT.match(line) or _PAGE.match(line) or _DATE.match(line):
        return False
    if _DOC_NUMBER.match(line):
        return False
    return len(_LETTER.findall(line)) >= 4


def first_heading(text: str) -> str | None:
    """The first heading-like line among the text's first lines, or None."""
    lines = [line.strip() for line in text.split("\n")[:_SCAN_LINES]]
    for line in lines:
        if _heading_like(line):
            return line
    return None


def pdf_title(metadata_title: str | None, text: str, stem: str | None = None) -> str | None:
    """The metadata title if it looks like one, else the first heading-like line, else None
    (the loader then falls back to its own default)."""
    if looks_like_title(metadata_title, stem):
        return " ".join(str(metadata_title).split())
    return first_heading(text)
