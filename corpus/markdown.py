"""Markdown policy files: the head becomes metadata, the body plain paragraphs.

The head is whatever a file states about itself before its text: YAML front matter
(``---`` … ``---``), an info block ending at an HTML comment ``<!-- INFO END -->`` (as in
LawRefBook/Laws: ``# 标题``, dated history lines such as ``2021年11月1日 施行``, a 文号
line), or a leading ``# 标题`` followed by a metadata list (``- 发布机关：…``,
``公布日期：…``). It is read into fields (:data:`corpus.metadata.FIELDS`) and never reaches
the text. The body is parsed by markdown-it-py (CommonMark plus tables): headings become
lines of their own (``## 第一章 总则`` → ``第一章 总则``, read as a chapter by
:mod:`corpus.structure`), emphasis, links, images, code fences, block quotes, HTML
comments and bullet markers are removed, an ordered list keeps its numbers (``1.``, which
are the document's own numbering), and each table row becomes its cells separated by a space.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from corpus import metadata
from corpus.structure import style_of

_INFO_END = re.compile(r"<!--\s*INFO\s+END\s*-->", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # an unclosed one runs to the end
_COMMENT_MARK = re.compile(r"<!--|-->")
_TAG = re.compile(r"<[^>]*>")
_BREAK_TAG = re.compile(r"<br\s*/?>|</p>|</div>|</tr>|</li>", re.IGNORECASE)
# Emphasis CommonMark leaves as literal text (its flanking rules and CJK punctuation).
_STRAY_EMPHASIS = re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1")
_HEAD_SCAN_LINES = 80  # an info block marker further down is part of the text
# A history line in a leading block (no marker): the event is an act, not running text.
_ACT = re.compile(r"(?:通过|公布|发布|印发|修正|修订|施行|生效|实施|废止)[。.]?$")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def is_markdown(text: str) -> bool:
    """Whether a .txt file is clearly Markdown: an info block, front matter, or at least
    two ATX headings (``# …``)."""
    head = "\n".join(text.split("\n", _HEAD_SCAN_LINES)[:_HEAD_SCAN_LINES])
    if _INFO_END.search(head) or _front_matter(text) is not None:
        return True
    headings = 0
    for line in text.split("\n"):
        if _ATX.match(line):
            headings += 1
            if headings >= 2:
                return True
    return False


def _front_matter(text: str) -> re.Match[str] | None:
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None
    lines = [line for line in match.group(1).split("\n") if line.strip()]
    # a thematic break followed by prose is not front matter: every line must be YAML-like
    # ("key: value", a list or continuation line) and one key must be a known one
    yaml_like = all(re.match(r"^\s*(?:[^\s:：][^:：]*[:：]|-\s|#|\s)", line) for line in lines)
    known = any(metadata.key_value(line) is not None for line in lines)
    return match if yaml_like and known else None


def split_head(source: str) -> tuple[list[str], str]:
    """(the head's lines, the body): front matter, then an info block or a leading title
    and metadata list."""
    text = source.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    head: list[str] = []
    front = _front_matter(text)
    if front is not None:
        head.extend(front.group(1).split("\n"))
        text = text[front.end() :]
    lines = text.split("\n")
    for i, line in enumerate(lines[:_HEAD_SCAN_LINES]):
        if _INFO_END.search(line):
            head.extend(lines[:i])
            return head, "\n".join(lines[i + 1 :])
    taken = _leading_block(lines)
    return head + lines[:taken], "\n".join(lines[taken:])


def _leading_block(lines: list[str]) -> int:
    """How many lines open the body as title and metadata: a ``# 标题`` line, then
    ``键：值`` lines and dated acts (``2021年1月1日 施行``), blank lines between."""
    taken, i, titled = 0, 0, False
    while i < len(lines):
        line = _COMMENT.sub("", lines[i]).strip()
        heading = _ATX.match(line)
        if not line:
            pass
        elif heading and len(heading.group(1)) == 1 and not titled and taken == i:
            if style_of(heading.group(2)) is not None:
                break  # "# 第一章 总则" opens the text; it is no title
            titled = True
        elif not _is_metadata_line(line):
            break
        i += 1
        if line:
            taken = i
    return taken


def _is_metadata_line(line: str) -> bool:
    if metadata.key_value(line) is not None:
        return True
    event = metadata.history(line)
    return event is not None and bool(_ACT.search(event[1]))


def read_head(lines: list[str]) -> dict[str, str]:
    """The fields a head states (keys of :data:`corpus.metadata.FIELDS`)."""
    fields: dict[str, str] = {}
    titles: list[str] = []
    events: list[tuple[str, str]] = []
    for raw in lines:
        line = _COMMENT.sub("", raw).strip()
        if not line or line in ("---", "..."):
            continue
        heading = _ATX.match(line)
        if heading:
            titles.append(_plain_inline(heading.group(2)))
            continue
        pair = metadata.key_value(line)
        if pair is not None:
            name, value = pair
            if name and value:
                fields.setdefault(name, _plain_inline(value))
            continue
        found = metadata.history_events(line)
        if found:  # one line may hold several acts: "…修正  2006年3月31日…修订  2010年…"
            events.extend(found)
            continue
        if len(line) <= 40:
            for name, found in (
                ("order_number", metadata.order_number(line)),
                ("doc_number", metadata.doc_number(line)),
            ):
                if found:
                    fields.setdefault(name, found)
    if titles and "title" not in fields:
        fields["title"] = " ".join(t for t in titles if t)
    _read_history(fields, events)
    for name in ("date", "effective_date"):
        if name in fields:
            date = metadata.normalize_date(fields[name])
            if date:
                fields[name] = date
            else:
                del fields[name]
    return {name: value for name, value in fields.items() if value}


def _read_history(fields: dict[str, str], events: list[tuple[str, str]]) -> None:
    """Dates, issuer and numbers from dated history lines: the latest act is the date, the
    施行 line the effective date, the first act naming a body the issuer."""
    acts = [(date, event) for date, event in events if not metadata.is_effective(event)]
    effective = [date for date, event in events if metadata.is_effective(event)]
    if acts and "date" not in fields:
        fields["date"] = max(date for date, _ in acts)
    if effective and "effective_date" not in fields:
        fields["effective_date"] = max(effective)
    for _, event in events:
        if "effective_date" not in fields and (found := metadata.effective_from(event)):
            fields["effective_date"] = found
        if "issuer" not in fields and (issuer := metadata.event_issuer(event)):
            fields["issuer"] = issuer
        if "order_number" not in fields and (order := metadata.order_number(event)):
            fields["order_number"] = order
        if "doc_number" not in fields and (number := metadata.doc_number(event)):
            fields["doc_number"] = number


def _plain_inline(text: str) -> str:
    """One line of Markdown as plain text (emphasis, links, code marks removed)."""
    tokens = _parser().parseInline(text)
    return _inline(tokens[0].children or []).strip() if tokens else text.strip()


def _inline(children: list[Token]) -> str:
    out: list[str] = []
    for token in children:
        kind = token.type
        if kind == "text":
            out.append(_unmarked(token.content))  # a stray "<!--" is debris
        elif kind == "code_inline":
            out.append(token.content)
        elif kind in ("softbreak", "hardbreak") or _is_break_tag(token):
            out.append("\n")
        # images, emphasis/link/strikethrough marks and other inline HTML add no text
    return _STRAY_EMPHASIS.sub(r"\2", "".join(out))


def _unmarked(text: str) -> str:
    """``text`` without comment marks, also those that removing one would form."""
    while True:
        stripped = _COMMENT_MARK.sub("", text)
        if stripped == text:
            return text
        text = stripped


def _is_break_tag(token: Token) -> bool:
    return token.type == "html_inline" and bool(_BREAK_TAG.fullmatch(token.content.strip()))


def _html_text(html: str) -> str:
    """Text of an HTML block: comments dropped, tags removed, entities decoded."""
    import html as html_lib

    html = _COMMENT.sub("", html)
    html = _BREAK_TAG.sub("\n", html)
    return html_lib.unescape(_TAG.sub("", html))


def body_text(body: str) -> str:
    """The body's paragraphs as plain text, one block a paragraph, blank lines between."""
    blocks: list[str] = []
    marker = ""  # an ordered list item's number, for its first paragraph
    cells: list[str] | None = None
    for token in _parser().parse(body):
        kind = token.type
        if kind == "list_item_open" and token.markup in (".", ")"):
            marker = f"{token.info}{token.markup}"
        elif kind == "tr_open":
            cells = []
        elif kind == "tr_close" and cells is not None:
            blocks.append(" ".join(cell for cell in cells if cell))
            cells = None
        elif kind == "inline":
            text = _inline(token.children or []).strip()
            if cells is not None:
                cells.append(" ".join(text.split()))
            elif text:
                blocks.append(_numbered(marker, text))
                marker = ""
        elif kind in ("fence", "code_block"):  # kept as text: mostly indented paragraphs
            blocks.append(_COMMENT.sub("", token.content))
        elif kind == "html_block":
            blocks.append(_html_text(token.content))
    blocks = [_unmarked(block).strip("\n") for block in blocks]
    return "\n\n".join(block for block in blocks if block.strip())


def _numbered(marker: str, text: str) -> str:
    if not marker:
        return text
    joiner = " " if text[0].isascii() else ""
    return marker + joiner + text


def read_markdown_text(source: str) -> tuple[str, dict[str, str]]:
    """(plain body text, fields) of a Markdown file's text; the text is not yet cleaned."""
    head, body = split_head(source)
    return body_text(body), read_head(head)
