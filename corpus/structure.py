"""Where a passage sits in its document: heading path, article, document number, issuer.

Chinese policy documents number their parts: 第X编/分编/章/节 and 第X条 in regulations
(附则 and 总则 standing alone are chapters too; 款 and 项 inside an article are found by
:func:`clause_at`),
一、 （一） 1. （1） and 一是 in plans and notices. A paragraph (one line of the clean
text) opens a part when it *starts* with such a number and is a heading: a short line
on its own (``二、重点任务``), or a paragraph whose short first sentence is its heading
(``（三）推动交通一体化。加快……``). Numbers inside running text, dates and references
such as 依照本法第十二条 never open a part. Everything here is pure and line-local, so
the position at any offset can be found again from a known earlier position
(:func:`advance`), which is how answers are cited at their marked sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corpus import metadata

if TYPE_CHECKING:
    from corpus.document import Document

SEPARATOR = " › "  # between the labels of a heading path
HEADING_MAX_CHARS = 60  # a stand-alone heading line
LEAD_MAX_CHARS = 40  # a heading that is the first sentence of its paragraph
NUMBER_LINE_MAX_CHARS = 40  # a line stating the document number (文号)
ISSUER_LINE_MAX_CHARS = 120  # a line stating the issuer (title, red head, signature, 通过)

_CN = "一二三四五六七八九十"
_NUM = f"[{_CN}百千零〇两\\d]+"
# (style, marker) in no particular order; the style decides nesting (see _Stack.open).
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("编", re.compile(rf"^第{_NUM}编")),
    ("分编", re.compile(rf"^第{_NUM}分编")),
    ("章", re.compile(rf"^第{_NUM}章")),
    ("章", re.compile(r"^(?:附\s*则|总\s*则)$")),  # 附则 alone is a chapter
    ("节", re.compile(rf"^第{_NUM}节")),
    ("部分", re.compile(rf"^第{_NUM}部分")),
    ("一、", re.compile(f"^[{_CN}]{{1,3}}(?:[、．]|\\.(?!\\d))(?![{_CN}、])")),
    ("（一）", re.compile(f"^[（(][{_CN}]{{1,3}}[）)]")),
    ("一是", re.compile(f"^[{_CN}]{{1,3}}是")),
    ("1.", re.compile(r"^\d{1,2}(?:[、．]|\.(?!\d))(?!\d)")),
    ("（1）", re.compile(r"^[（(]\d{1,2}[）)]")),
    ("①", re.compile("^[①-⑳]")),
)
# Regulations' chapters rank by these, outermost first; other styles nest as they come.
_RANK = {"编": 0, "部分": 0, "分编": 1, "章": 2, "节": 3}
# Item styles: a short unnumbered line (a caption, a byline, a date, an unnumbered
# heading) after them shows their list has ended.
_ITEMS = {"一是", "1.", "（1）", "①"}
BREAK_MAX_CHARS = 25
# 一是/二是 enumerate points in prose: the paragraph they open is the whole item (what
# follows may be the next topic of a speech or report, not a part of the point).
_PARAGRAPH_ONLY = {"一是"}
# 第十二条 opening a paragraph; not 第十二条规定的/第十二条、第十三条 (references).
_ARTICLE = re.compile(rf"^(第{_NUM}条)(?![规的所中之、和至或及第款项])")
_SENTENCE_END = re.compile(r"[。！？!?]")
_CLAUSE_END = "，,、；;"  # a heading never ends like this
_TRAILING = "。：:．.！!？? "
_SPACES = re.compile(r"\s+")

_ORG_SUFFIX = (
    r"(?:人民政府|政府|办公厅|办公室|委员会|常委会|局|厅|部|署|院|办|委|中心|协会|联合会|领导小组)"
)
_ORG = re.compile(rf"^[\u4e00-\u9fff（）()]{{2,30}}?{_ORG_SUFFIX}$")
_DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,10}\s*[〔\[［【(（]\s*(?:19|20)\d\d\s*[〕\]］】)）]\s*\d{1,4}\s*号"
)
_PASSED_BY = re.compile(
    r"[（(]\s*\d{4}年\d{1,2}月\d{1,2}日\s*([\u4e00-\u9fff]{4,40}?)第[一二三四五六七八九十百\d]+次会议(?:通过|修订|修正)"
)
_TITLE_ISSUER = re.compile(
    rf"^([\u4e00-\u9fff]{{2,30}}?{_ORG_SUFFIX})(?:、[\u4e00-\u9fff]{{2,30}}?{_ORG_SUFFIX})*关于"
)
_RED_HEAD = re.compile(rf"^([\u4e00-\u9fff]{{2,30}}?{_ORG_SUFFIX})\s*文件$")
_RANKED_LABEL = re.compile(rf"^(第{_NUM}(?:分编|编|章|节|部分))\s*(.*)$")
_UNNUMBERED_CHAPTER = re.compile(r"^(?:附\s*则|总\s*则)$")
_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_ON_PUBLICATION = re.compile(r"自(?:公布|发布|印发|颁布)之日起(?:施行|生效|实施|执行)")
_DATE_LINE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")


@dataclass(frozen=True)
class Position:
    """The structure in force at a point of a document: heading path and article."""

    path: tuple[str, ...] = ()
    article: str | None = None

    @property
    def section(self) -> str | None:
        """The heading path as stored and shown, e.g. ``二、重点任务 › （三）推动交通一体化``."""
        return SEPARATOR.join(self.path) or None

    @classmethod
    def of(cls, section: str | None, article: str | None) -> Position:
        """The position a stored (section, article) pair describes."""
        return cls(tuple(section.split(SEPARATOR)) if section else (), article)


@dataclass(frozen=True)
class DocumentInfo:
    """What a document says about itself: its number (文号), issuing body (发布机关),
    order number (令号, ``公安部令第149号``), effective date (施行日期, YYYY-MM-DD) and
    kind (``条例``, ``办法``, or what its file states)."""

    doc_number: str | None = None
    issuer: str | None = None
    order_number: str | None = None
    effective_date: str | None = None
    doc_type: str | None = None


def style_of(label: str) -> str | None:
    """The numbering style a heading label starts with (``"一、"``, ``"章"``, …), or None."""
    for style, marker in _MARKERS:
        if marker.match(label):
            return style
    return None


def marker_of(label: str) -> str:
    """The number a heading label opens with (``二、``, ``（三）``, ``第二章``, ``四是``), or ''."""
    for _, marker in _MARKERS:
        match = marker.match(label)
        if match:
            return match.group()
    return ""


def _tidy(label: str) -> str:
    label = _SPACES.sub(" ", label.replace(SEPARATOR.strip(), ">")).strip().rstrip(_TRAILING)
    ranked = _RANKED_LABEL.match(label)
    if ranked:  # "第一章总  则" -> "第一章 总则"
        name = _CJK_SPACE.sub("", ranked.group(2))
        label = f"{ranked.group(1)} {name}" if name else ranked.group(1)
    elif _UNNUMBERED_CHAPTER.match(label):  # "附　则" -> "附则"
        label = _CJK_SPACE.sub("", label)
    return label


def classify(line: str) -> tuple[str, str, bool] | None:
    """``(style, label, is_heading)`` for a paragraph that opens with a number, else None.

    ``is_heading`` is False for a numbered item whose first sentence is too long to be a
    heading: it ends its siblings' parts but opens none. ``style`` is ``"条"`` for an
    article, whose label is just ``第X条``.
    """
    line = line.strip()
    article = _ARTICLE.match(line)
    if article:
        return "条", article.group(1), True
    style = style_of(line)
    if style is None:
        return None
    if style not in _RANK and len(line) > 1 and line[-1] in _CLAUSE_END:
        return style, _tidy(line), False  # an enumerated clause: "1.加强合作；"
    end = _SENTENCE_END.search(line)
    if end is None or end.end() == len(line):  # one sentence: a stand-alone line
        heading = len(line) <= HEADING_MAX_CHARS and not re.search("[；;]", line)
        return style, _tidy(line), heading
    lead = line[: end.start()]
    heading = len(lead) <= LEAD_MAX_CHARS and not re.search("[；;]", lead)
    return style, _tidy(lead), heading


class _Stack:
    """Open headings, outermost first, and the article in force."""

    def __init__(self, position: Position) -> None:
        self.items = [(style_of(label) or "", label) for label in position.path]
        self.article = position.article

    def position(self) -> Position:
        return Position(tuple(label for _, label in self.items), self.article)

    def _close(self, style: str) -> None:
        """Close the open part of ``style`` and everything inside it."""
        rank = _RANK.get(style)
        for i, (open_style, _) in enumerate(self.items):
            inner = rank is not None and _RANK.get(open_style, 99) >= rank
            if open_style == style or inner:
                del self.items[i:]
                return

    def _close_items(self) -> None:
        for i, (open_style, _) in enumerate(self.items):
            if open_style in _ITEMS:
                del self.items[i:]
                return

    def apply(self, line: str) -> None:
        if self.items and self.items[-1][0] in _PARAGRAPH_ONLY:
            self.items.pop()  # 一是… labels its own paragraph only
        found = classify(line)
        if found is None:
            if _is_break(line):
                self._close_items()
            return
        style, label, heading = found
        if style == "条":
            self.article = label
            return
        if self.article is not None and style not in _RANK:
            return  # （一）, 1. inside an article are its items, not headings
        self._close(style)
        if style in _RANK:
            self.article = None
        if heading:
            self.items.append((style, label))


def _is_break(line: str) -> bool:
    """A short unnumbered line with no clause in it: a heading, caption, byline or date."""
    body = line.strip().rstrip(_TRAILING)
    return 0 < len(body) <= BREAK_MAX_CHARS and not re.search("[。！？!?；;，,]", body)


def _lines(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """(offset, line) of every line of ``text`` that begins in ``[start, end]``."""
    pos = start
    if start > 0 and text[start - 1] != "\n":
        newline = text.find("\n", start)
        if newline < 0:
            return
        pos = newline + 1
    while pos <= end and pos < len(text):
        stop = text.find("\n", pos)
        stop = len(text) if stop < 0 else stop
        yield pos, text[pos:stop]
        pos = stop + 1


def advance(text: str, position: Position, start: int, end: int) -> Position:
    """The position at ``end``, given ``position`` at ``start``: applies the headings and
    articles of the lines beginning after ``start`` and at or before ``end``."""
    stack = _Stack(position)
    for offset, line in _lines(text, start, end):
        if offset > start:
            stack.apply(line)
    return stack.position()


def changes(text: str) -> list[tuple[int, Position]]:
    """Every point where the position changes: (line offset, position from there on)."""
    stack = _Stack(Position())
    out: list[tuple[int, Position]] = []
    current = Position()
    for offset, line in _lines(text, 0, len(text)):
        stack.apply(line)
        now = stack.position()
        if now != current:
            out.append((offset, now))
            current = now
    return out


def positions(text: str, offsets: Sequence[int]) -> list[Position]:
    """The position in force at each offset (a heading starting there included)."""
    points = changes(text)
    keys = [offset for offset, _ in points]
    found = []
    for offset in offsets:
        i = bisect_right(keys, offset)
        found.append(points[i - 1][1] if i else Position())
    return found


def document_info(text: str, title: str | None = None) -> DocumentInfo:
    """The document number, issuing body, order number, effective date and kind where the
    text (or its title) states them.

    A number (文号 or 令号) counts only on a line of its own (or a line it nearly fills, or
    a bracketed head note ``（2018年11月25日公安部令第149号公布）``) among the first or
    last ten lines: numbers cited in running text are other documents'. The effective date
    is ``自X年X月X日起施行`` in those lines (a final article, a head note) or a dated
    ``X年X月X日 施行`` line at the top.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    ends = lines[:10] + lines[-10:] if len(lines) > 20 else lines
    doc_number = order = effective = None
    for line in ends:
        note = line[0] in "（(" and len(line) <= ISSUER_LINE_MAX_CHARS
        if len(line) > NUMBER_LINE_MAX_CHARS and not note:
            continue
        match = _DOC_NUMBER.search(line)
        if doc_number is None and match and (note or len(line) - len(match.group()) <= 6):
            doc_number = _SPACES.sub("", match.group())
        found = metadata.ORDER_NUMBER.search(line)
        if order is None and found and (note or len(line) - len(found.group()) <= 8):
            order = metadata.order_number(found.group())
    for line in ends:
        effective = metadata.effective_from(line)
        if effective is None and (event := metadata.history(line)):
            effective = event[0] if metadata.is_effective(event[1]) else None
        if effective:
            break
    kind = metadata.title_type(title)
    return DocumentInfo(doc_number, _issuer(lines, title), order, effective, kind)


def info_of(doc: Document) -> DocumentInfo:
    """What ``doc`` states about itself: the fields its file states (Document.issuer,
    doc_number, order_number, effective_date, doc_type), else what its text states
    (:func:`document_info`); ``自公布之日起施行`` makes the effective date the publication
    date."""
    found = document_info(doc.text, doc.title)
    effective = doc.effective_date or found.effective_date
    if effective is None and doc.date and _ON_PUBLICATION.search("\n".join(_tail(doc.text))):
        effective = doc.date
    return DocumentInfo(
        doc_number=doc.doc_number or found.doc_number,
        issuer=doc.issuer or found.issuer,
        order_number=doc.order_number or found.order_number,
        effective_date=effective,
        doc_type=doc.doc_type or found.doc_type,
    )


def _tail(text: str, count: int = 10) -> list[str]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return lines[:count] + lines[-count:]


def _issuer(lines: list[str], title: str | None) -> str | None:
    head = [line for line in lines[:8] if len(line) <= ISSUER_LINE_MAX_CHARS]
    for line in head:
        match = _PASSED_BY.search(line)
        if match:
            return metadata.tidy_issuer(match.group(1))
        event = metadata.history(line)
        if event and (issuer := metadata.event_issuer(event[1])):
            return issuer
    for line in head:
        match = _RED_HEAD.match(line)
        if match:
            return match.group(1)
    for line in ([title] if title else []) + head[:3]:
        match = _TITLE_ISSUER.match(line.strip())
        if match:
            return match.group(1)
    # a signature: an organisation on its own line, then the date, at the end
    tail = lines[-8:]
    for line, after in zip(tail, tail[1:], strict=False):
        if len(line) <= ISSUER_LINE_MAX_CHARS and _DATE_LINE.match(after) and _ORG.match(line):
            return line
    return None


# -- 款 and 项 ------------------------------------------------------------------------

_ITEM = re.compile(f"^[（(]([{_CN}]{{1,3}})[）)]")


@dataclass(frozen=True)
class Clause:
    """Where an offset stands inside an article: 第X条, its 款 (paragraph, from 1) and 项
    (the item ``（三）`` in force, or None); ``paragraphs`` is how many 款 the article has."""

    article: str
    paragraph: int
    paragraphs: int
    item: str | None = None

    @property
    def label(self) -> str:
        """``第十二条第二款第三项``; 第一款 is left out of an article of one paragraph."""
        label = self.article
        if self.paragraphs > 1:
            label += f"第{_chinese(self.paragraph)}款"
        return label + (f"第{self.item}项" if self.item else "")


def clause_at(text: str, offset: int) -> Clause | None:
    """The article, 款 and 项 at ``offset`` of ``text``, or None outside any article.

    Each line of an article is a 款, except the lines that open with an item number
    （一）, （二）…, which are 项 of the 款 before them. Reads from the article's first line
    to its last, nothing else.
    """
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    here = bisect_right(starts, max(0, min(offset, len(text)))) - 1
    first = here
    while first >= 0:
        found = classify(_line(text, starts, first))
        if found and found[0] == "条":
            break
        if found and found[0] in _RANK and found[2]:
            return None
        first -= 1
    if first < 0:
        return None
    article = classify(_line(text, starts, first))
    assert article is not None
    paragraph = paragraphs = 0
    item = None
    for number in range(first, len(starts)):
        line = _line(text, starts, number)
        if number > first:
            found = classify(line)
            if found and (found[0] == "条" or (found[0] in _RANK and found[2])):
                break
        if not line.strip():
            continue
        marked = _ITEM.match(line.strip())
        if marked is None:
            paragraphs += 1
            if number <= here:
                paragraph, item = paragraphs, None
        elif number <= here:
            item = marked.group(1)
    return Clause(article[1], max(paragraph, 1), max(paragraphs, 1), item)


def _line(text: str, starts: list[int], number: int) -> str:
    end = starts[number + 1] - 1 if number + 1 < len(starts) else len(text)
    return text[starts[number] : end]


def _chinese(number: int) -> str:
    """1 → 一, 12 → 十二, 21 → 二十一 (up to 99)."""
    digits = "零" + _CN[:-1]
    tens, ones = divmod(number, 10)
    if number < 10:
        return digits[number]
    return (digits[tens] if tens > 1 else "") + "十" + (digits[ones] if ones else "")
