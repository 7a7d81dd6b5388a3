"""Questions that name an article: ``《X条例》第九条``, ``X条例第9条``, ``第九条规定了什么``.

Such a question is answered by that article, whole, before anything search found:

* :func:`parse` reads the question (its search key: simplified, half-width): the article
  number (Chinese numerals up to 千, or Arabic digits) and the regulation's name, in 《》
  or standing right before 第N条 and ending like one (``山东省消防条例第五条``,
  ``档案法第10条``; not ``香港的第一条铁路``). A named article is looked up whatever the
  rest asks (``…第三十条规定业主委员会由多少人组成``), except one cited as a rule broken
  or followed (``违反…第十二条规定的，如何处罚`` asks for the penalty, found elsewhere) or
  a list of articles. Without a name (``第九条规定了什么``, ``本条例第九条的内容``) the
  question must ask what the article says, and the document is the one search ranked first.
* :class:`Titles` finds a document by its title: one dictionary per loaded version, built
  on the first named-article question from ``Version.sources()`` (titles folded: search
  key, no spaces, no ``中华人民共和国`` prefix, no trailing ``（2021修正）``), so a lookup
  costs a few dictionary probes whatever the library's size. Versions of one regulation
  share a title: the latest (the current version) wins, the one search ranked higher
  among the undated.
* :func:`article_span` finds the article in the document's clean text with
  ``corpus.structure.classify`` (the same reading as the stored citations): from its
  ``第N条`` line to the next article or chapter/section heading.
* :func:`pin_named_article` puts a passage holding that span first (its one chunk row
  states the article and the heading path there, so the engine cites it as any other) and
  drops the passages of that document it overlaps.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus.normalize import search_key
from corpus.structure import classify, positions
from retrieval.backends.base import ChunkRow, Version
from retrieval.query.library import years_named
from retrieval.query.search import Passage

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_DIGITS |= {"七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = "[零〇一二两三四五六七八九十百千]+|\\d{1,4}"
_ARTICLE = re.compile(rf"第\s*({_NUMERAL})\s*条(?:\s*第\s*(?:{_NUMERAL})\s*[款项])*")
_QUOTED = re.compile(r"《([^《》]{2,80})》")
# What may stand between a name and 第N条: 的, 中, 里, spaces.
_GLUE = re.compile(r"(?:\s|的|中|里|之)*$")
# A question asking what an article says (what follows 第N条).
_ASKS = re.compile(
    r"^\s*(?:的|中|里)?\s*(?:"
    r"规定了?(?:什么|哪些|些什么|啥)|有(?:什么|哪些)规定|(?:具体)?(?:内容|原文|条文)"
    r"|规定的?(?:内容|是什么)|(?:讲|说|写)(?:了|的)?(?:什么|啥|些什么)|(?:都)?是(?:什么|啥)"
    r"|是?(?:怎么|怎样|如何)(?:规定|说)"
    r")"
)
_ENDING = re.compile(r"^[\s?？!！。.,，:：]*$")
# The article is cited as a rule broken, followed or referred to: the answer is elsewhere.
_CITED = re.compile(r"(?:违反|依照|依据|按照|参照|适用)")
_THIS = re.compile(r"(?:本|该|这部|这个|此)\s*(?:条例|法规|法律|法|办法|规定|细则|规章|决定)?\s*$")
# How the name of a regulation ends, when it is not in 《》.
_LEGAL = re.compile(
    r"(?:法|法典|条例|规定|办法|细则|规则|决定|解释|章程|准则|规程|规范|公约|协定)$"
)
_PREFIX = "中华人民共和国"
_EDITION = re.compile(r"[(（][^()（）]{0,30}[)）]\s*$")
MIN_NAME_CHARS = 2
_PARTS = {"编", "分编", "章", "节", "部分"}  # headings that end an article


@dataclass(frozen=True)
class ArticleQuestion:
    """An article a question names: its number, and the regulation's name if given."""

    number: int
    name: str | None  # folded (see fold_title); None: the document search ranked first


def number(text: str) -> int | None:
    """``九`` → 9, ``十二`` → 12, ``一百零五`` → 105, ``一千二百六十`` → 1260, ``10`` → 10."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    total = digit = 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (digit or 1) * _UNITS[ch]
            digit = 0
        else:
            return None
    total += digit
    return total or None


def fold_title(title: str) -> str:
    """A title as names in questions are compared with it: search key, no 《》 or spaces,
    no ``中华人民共和国`` prefix, no trailing edition (``（2021修正）``, ``(2021-12-03)``)."""
    key = re.sub(r"[\s《》〈〉]", "", search_key(title)).lstrip("#")
    while True:
        cut = _EDITION.sub("", key)
        if cut == key:
            break
        key = cut
    return key.removeprefix(_PREFIX)


def parse(question_key: str) -> ArticleQuestion | None:
    """The article ``question_key`` (a search key) names, or None (see the module doc)."""
    found = list(_ARTICLE.finditer(question_key))
    if len(found) != 1:
        return None  # none, or a list of articles
    match = found[0]
    wanted = number(match.group(1))
    if wanted is None:
        return None
    before = question_key[: match.start()]
    after = question_key[match.end() :]
    asks = bool(_ASKS.match(after) or _ENDING.match(after))
    quoted = list(_QUOTED.finditer(before))
    name: str | None
    if quoted:
        lead, name = before[: quoted[-1].start()], fold_title(quoted[-1].group(1))
    else:
        name = _GLUE.sub("", before)
        this = _THIS.search(name)
        lead, name = (name[: this.start()], None) if this else ("", name or None)
    if name is not None and not quoted and not _LEGAL.search(name):
        return None  # 香港的第一条铁路: not a regulation's article
    if _CITED.search(lead if quoted or name is None else before) and not asks:
        return None  # 违反/依照…第十二条规定的… asks about something else
    if name is None:
        if not asks or lead.strip(" ，,:：?？"):
            return None  # words before the article: a fact question citing it
        return ArticleQuestion(wanted, None)
    return ArticleQuestion(wanted, fold_title(name) if not quoted else name)


class Titles:
    """Documents by folded title, for one loaded version: built once, on first use."""

    def __init__(self, rows: Sequence[tuple]) -> None:
        self.by_title: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            doc_id, title, date = row[0], row[1], row[2]
            key = fold_title(title or "")
            if len(key) >= MIN_NAME_CHARS:
                self.by_title.setdefault(key, []).append((doc_id, date or ""))
        self.longest = max((len(k) for k in self.by_title), default=0)

    def find(self, name: str) -> list[tuple[str, str]]:
        """(doc_id, date) of the documents titled ``name``; when ``name`` holds more than a
        title (``根据山东省消防条例``), those of the longest title it ends with."""
        if name in self.by_title:
            return self.by_title[name]
        for start in range(max(0, len(name) - self.longest), len(name) - MIN_NAME_CHARS + 1):
            found = self.by_title.get(name[start:])
            if found:
                return found
        return []

    def ending(self, name: str) -> tuple[str, list[tuple[str, str]]]:
        """(the longest title ``name`` ends with, its documents); ("", []) when none."""
        for start in range(max(0, len(name) - self.longest), len(name) - MIN_NAME_CHARS + 1):
            found = self.by_title.get(name[start:])
            if found:
                return name[start:], found
        return "", []


# Where a regulation's name may end in a question: 《》, or a word legal titles end with.
_NAME_END = re.compile(r"》|法典|法|条例|规定|办法|细则|规则|决定|解释|章程|准则|规程|规范")
MIN_UNQUOTED_NAME_CHARS = 3  # 档案法 names a law; 民法 or 办法 is a word


def documents_named(
    version: Version, question_key: str, allowed: Callable[[str], bool] = lambda _d: True
) -> list[str]:
    """The documents whose title the question names (``《上海市集体合同条例》…``,
    ``山东省物业管理条例规定…``, ``妇女权益保障法规定…``), every version of each, in the
    order the question names them; only those ``allowed`` (the question's filters) lets
    through. A few dictionary probes per place a name may end (see :class:`Titles`)."""
    ends = list(_NAME_END.finditer(question_key))
    if not ends:
        return []
    titles = titles_of(version)
    out: dict[str, None] = {}
    for m in ends:
        if m.group() == "》":
            opening = question_key.rfind("《", 0, m.start())
            if opening < 0:
                continue
            found = titles.by_title.get(fold_title(question_key[opening + 1 : m.start()]), [])
        else:
            title, found = titles.ending(question_key[: m.end()].replace(" ", ""))
            if len(title) < MIN_UNQUOTED_NAME_CHARS:
                found = []
        out.update((doc_id, None) for doc_id, _date in found if allowed(doc_id))
    return list(out)


_titles: dict[tuple[str, int], Titles] = {}
_titles_lock = threading.Lock()


def titles_of(version: Version) -> Titles:
    """The title index of ``version``, built on first use (at most two kept: the live
    version and the one before it, while a refresh swaps them)."""
    key = (version.version, version.size)  # a filtered view of it shares the index
    found = _titles.get(key)
    if found is None:
        built = Titles(version.sources())
        with _titles_lock:
            found = _titles.setdefault(key, built)
            while len(_titles) > 2:
                del _titles[next(iter(_titles))]
    return found


def article_span(text: str, wanted: int) -> tuple[int, int, str] | None:
    """``(start, end, label)`` of article ``wanted`` in ``text``: from its first line
    opening with ``第N条`` to the line before the next article or chapter/section heading
    (trailing blank lines left out). None when the text has no such article."""
    start = label = None
    offset = 0
    for line in text.split("\n"):
        found = classify(line)
        if found is not None:
            style, name, heading = found
            opens = style == "条" or (style in _PARTS and heading)
            if start is not None and opens:
                return start, len(text[:offset].rstrip()), label or ""
            if start is None and style == "条" and number(name[1:-1]) == wanted:
                start, label = offset + len(line) - len(line.lstrip()), name
        offset += len(line) + 1
    if start is None:
        return None
    return start, len(text.rstrip()), label or ""


def pin_named_article(
    version: Version,
    question_key: str,
    passages: list[Passage],
    read: Callable[[str], object],
    docs: dict,
    allowed: Callable[[str], bool] = lambda _doc_id: True,
) -> list[Passage]:
    """``passages`` with the article the question names first, whole (see the module doc);
    unchanged when it names none or the document or article is not found, or when
    ``allowed`` (the question's filters) refuses the document. ``read(doc_id)`` gives a
    Document (``version.document``); documents read are added to ``docs``."""
    asked = parse(question_key)
    if asked is None:
        return passages
    ranked = list(dict.fromkeys(p.doc_id for p in passages))
    if asked.name is None:
        if not ranked:
            return passages
        doc_id = ranked[0]
    else:
        found = [f for f in titles_of(version).find(asked.name) if allowed(f[0])]
        if not found:
            return passages
        rank = {d: i for i, d in enumerate(ranked)}
        # 2007年反垄断法第十条: the version of the year named, else the newest
        years = years_named(question_key)
        doc_id = min(
            found,
            key=lambda f: (f[1][:4] not in years, _newest_first(f[1]), rank.get(f[0], len(rank))),
        )[0]
    doc = docs.get(doc_id)
    if doc is None:
        doc = read(doc_id)
        if doc is None:
            return passages
        docs[doc_id] = doc
    span = article_span(doc.text, asked.number)
    if span is None:
        return passages
    start, end, label = span
    section = positions(doc.text, [start])[0].section
    same = [p for p in passages if p.doc_id == doc_id]
    template = same[0].chunks[0] if same and same[0].chunks else None
    row = ChunkRow(
        id=-1,
        doc_key=template.doc_key if template else -1,
        doc_id=doc_id,
        index=-1,
        start=start,
        end=end,
        section=section,
        article=label,
        doc_number=template.doc_number if template else None,
        issuer=template.issuer if template else None,
    )
    score = max((p.score for p in passages), default=0.0)
    dense = max((p.dense for p in same), default=-1.0)
    pinned = Passage(doc_id, start, end, score, dense, [row])
    rest = [p for p in passages if not (p.doc_id == doc_id and p.start < end and p.end > start)]
    return [pinned, *rest]


def _newest_first(date: str) -> tuple[int, str]:
    """Sort key: dated documents newest first, undated ones after them."""
    return (0, "".join(chr(0x10FFFF - ord(c)) for c in date)) if date else (1, "")
