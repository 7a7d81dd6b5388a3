"""Answers as Telegram HTML: the answer line first, its context folded, verbatim and
escaped, and never more than one message's worth of text per message."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from bot import answer_layout as layout
from corpus.sanitize import safe_url, shown
from retrieval.answer import Answer, Result, Source

MESSAGE_LIMIT = 4096
FIRST_MESSAGE_CHARS = 1500  # visible characters: an answer's first message reads on a phone
ECHO_CHARS = 60  # a question quoted back inside a note

ELLIPSIS = "…"
SOURCES_PER_PAGE = 12  # 12 blocks of at most ~300 visible characters fit one message
META_CHARS = 120  # a title or source longer than this is cut in a message
_MIN_WINDOW = 40
_TAG = re.compile(r"<[^>]+>")

Span = tuple[int, int]


def tg_len(text: str) -> int:
    """Conservative length of an HTML message: UTF-16 units of the *raw* markup.

    Telegram counts the text after entity parsing, which is never longer.
    """
    return len(text.encode("utf-16-le")) // 2


def visible_len(message: str) -> int:
    """Characters a reader sees: the message with its tags stripped and entities decoded."""
    return len(html.unescape(_TAG.sub("", message)))


def mark_html(text: str, marks: Iterable[Span] = ()) -> str:
    """Escape ``text`` and wrap the ``marks`` spans in ``<b>…</b>``."""
    out: list[str] = []
    pos = 0
    for a, b in layout.merge(marks, len(text)):
        out.append(html.escape(text[pos:a]))
        out.append(f"<b>{html.escape(text[a:b])}</b>")
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _cut(body: str, cut_left: bool, cut_right: bool) -> str:
    return f"{ELLIPSIS if cut_left else ''}{body}{ELLIPSIS if cut_right else ''}"


def quote_html(
    text: str, marks: Sequence[Span], size: int | None = None, expandable: bool = False
) -> str:
    """A ``<blockquote>`` of the verbatim text (optionally cut to ``size`` chars around
    its marks); ``expandable`` ones show a few lines until tapped (Bot API 7.4+)."""
    lead = len(text) - len(text.lstrip())
    text, marks = text.strip(), [(a - lead, b - lead) for a, b in marks]
    cut_left = cut_right = False
    if size is not None:
        text, marks, cut_left, cut_right = layout.window(text, marks, size)
    tag = "blockquote expandable" if expandable else "blockquote"
    return f"<{tag}>{_cut(mark_html(text, marks), cut_left, cut_right)}</blockquote>"


def meta_line(
    title: str, date: str | None, source: str | None, url: str | None = None, *extra: str | None
) -> str:
    """``title · date · source`` (escaped), then any ``extra`` parts, with a link when
    there is a URL."""
    parts = [html.escape(_short(shown(p))) for p in (title, date, source, *extra) if p]
    line = " · ".join(parts)
    url = safe_url(url)
    if url:
        line += f' · <a href="{html.escape(url, quote=True)}">链接</a>'
    return f"<i>—— {line}</i>"


def _short(text: str | None, size: int = META_CHARS) -> str:
    """Metadata cut to ``size`` characters, so no title can crowd out the answer."""
    text = text or ""
    return text if len(text) <= size else text[: size - 1] + ELLIPSIS


def fit_block(head: str, text: str, marks: Sequence[Span], tail: str, budget: int) -> str:
    """``head + quote + tail`` within ``budget``, cutting the quote around its marks if needed."""
    block = head + quote_html(text, marks) + tail
    size = len(text)
    while tg_len(block) > budget and size > _MIN_WINDOW:
        size = max(_MIN_WINDOW, size - (tg_len(block) - budget) - 8)
        block = head + quote_html(text, marks, size) + tail
    return block


def _cited_title(result: Result, size: int) -> str:
    """``《title》（文号） · 二、… › （三）… › 第X条``, the path shortened to ``size``."""
    place = layout.where(result, size)
    return f"{layout.titled(result)} · {place}" if place else layout.titled(result)


def citation(result: Result, size: int = layout.WHERE_CHARS, full: bool = True) -> str:
    """``《title》（文号） · 二、… › （三）… · 第X条 · date`` (escaped, italic), plus the source
    and issuing body when ``full``; the heading path is shortened to ``size`` characters."""
    title = _cited_title(result, size)
    label = layout.version_label(result)
    tail = f"\n<b>{html.escape(label)}</b>" if label else ""
    if not full:
        return meta_line(title, result.date, None) + tail
    return meta_line(title, result.date, result.source, None, layout.issuer(result)) + tail


def _line(result: Result, size: int) -> str:
    text, cut_left, cut_right = layout.lead_text(result, size)
    return _cut(html.escape(text), cut_left, cut_right)


def compact_block(result: Result) -> str:
    """A further result in two lines: its marked sentence, then title · date."""
    line = _line(result, layout.LINE_CHARS)
    return f"<b>{result.rank}.</b> {line}\n" + citation(result, layout.WHERE_SHORT_CHARS, False)


def lead_block(result: Result, context_chars: int = layout.CONTEXT_CHARS) -> str:
    """The answer line (bold), its full citation, then the context, folded."""
    line = _line(result, layout.LEAD_CHARS)
    if result.marks:
        line = f"<b>{line}</b>"
    block = f"<b>{result.rank}.</b> {line}\n" + citation(result)
    if context_chars >= _MIN_WINDOW:
        text, marks, cut_left, cut_right = layout.context(result, context_chars)
        body = _cut(mark_html(text, marks), cut_left, cut_right)
        block += f"\n<blockquote expandable>{body}</blockquote>"
    return block


def pack(
    header: str, blocks: Sequence[str], limit: int = MESSAGE_LIMIT, first: int | None = None
) -> list[str]:
    """Join ``header`` and ``blocks`` into as few messages as possible, splitting only
    between blocks; the first message also stays within ``first`` visible characters.
    Each block must already fit in ``limit``."""
    messages: list[str] = []
    current = header
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        fits = tg_len(candidate) <= limit
        if fits and first is not None and not messages:
            fits = visible_len(candidate) <= first
        if fits:
            current = candidate
        else:
            if current:
                messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def _echo(question: str) -> str:
    short = question if len(question) <= ECHO_CHARS else question[:ECHO_CHARS] + ELLIPSIS
    return html.escape(short)


def render_answer(answer: Answer, note: str = "", limit: int = MESSAGE_LIMIT) -> list[str]:
    """The reply to a question, answer first (see :mod:`bot.answer_layout`): the top result's
    marked sentence and citation, its context folded, then the other results compactly.
    Not confident: a kind note and at most two short candidates. Off-topic: only the note."""
    kind = layout.kind(answer)
    extra = f"\n<i>{html.escape(note)}</i>" if note else ""
    if said := layout.note_line(answer):  # a place or time no cited document matches
        extra += f"\n<b>{html.escape(said)}</b>"
    if kind is layout.Kind.OFF_TOPIC:
        return [off_topic(answer.question) + extra]
    results = layout.shown(answer)
    if kind is layout.Kind.WEAK:  # the candidates before the advice: they may still answer
        header = not_found(answer.question) + extra
        blocks = [*(compact_block(r) for r in results), REPHRASE]
        return pack(header, blocks, limit, FIRST_MESSAGE_CHARS)
    header = f"<b>问：</b>{html.escape(answer.question)}" + extra
    others = "\n\n<b>其他结果：</b>" if len(results) > 1 else ""
    room = FIRST_MESSAGE_CHARS - visible_len(header) - 2
    size = layout.CONTEXT_CHARS
    lead = lead_block(results[0], size) + others
    while visible_len(lead) > room and size >= _MIN_WINDOW:
        size -= max(visible_len(lead) - room, 10)
        lead = lead_block(results[0], size) + others
    blocks = [lead, *(compact_block(r) for r in results[1:])]
    return pack(header, blocks, limit, FIRST_MESSAGE_CHARS)


def render_more(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A further page of results for the same question, compactly."""
    first, last = answer.results[0].rank, answer.results[-1].rank
    header = f"<b>更多结果（第 {first}–{last} 条）：</b>{html.escape(answer.question)}"
    if not answer.confident:
        header += "\n<i>以下段落与问题的相关度较低，仅供参考。</i>"
    return pack(header, [compact_block(r) for r in answer.results], limit)


def not_found(question: str) -> str:
    """The kind note for a question the documents do not clearly answer (short: the
    closest passages follow it, then :data:`REPHRASE`)."""
    return (
        f"抱歉，没有找到能明确回答“{_echo(question)}”的段落。"
        "<b>最接近的段落（相关度较低，仅供参考）：</b>"
    )


REPHRASE = (
    "可以换个说法、用文件里的词语再问一次（例如“通武廊”“非首都功能疏解”），"
    "或发送 /sources 查看收录了哪些文件。"
)


def off_topic(question: str) -> str:
    """The note for a question whose words occur nowhere in the documents: no passages."""
    examples = "\n".join(f"• {html.escape(q)}" for q in layout.OFF_TOPIC_EXAMPLES)
    return (
        f"抱歉，收录的文件里没有与“{_echo(question)}”相关的内容。\n"
        "可以换个说法再问，或发送 /sources 查看收录了哪些文件。也可以试试这样问：\n"
        f"{examples}"
    )


def render_context(
    source: Source | Result,
    text: str,
    span: Span,
    url: str | None = None,
    limit: int = MESSAGE_LIMIT,
) -> str:
    """The passage around an excerpt, the excerpt itself in bold."""
    head = "<b>原文</b>\n"
    title = _cited_title(source, layout.WHERE_CHARS) if isinstance(source, Result) else None
    tail = "\n" + meta_line(title or source.title, source.date, source.source, url)
    return fit_block(head, text, [span], tail, limit)


def _source_block(i: int, s: Source) -> str:
    details = [html.escape(_short(shown(p))) for p in (s.date or "日期不详", s.source) if p]
    details.append(f"{s.chars:,} 字")
    if safe_url(s.url):
        details.append(f'<a href="{html.escape(s.url, quote=True)}">链接</a>')
    title = _short(shown(s.title))
    return f"{i}. <b>{html.escape(title)}</b>\n    {' · '.join(details)}"


def _newest_first(sources: Sequence[Source]) -> list[Source]:
    return sorted(sources, key=lambda s: s.date or "", reverse=True)


def render_sources(sources: Sequence[Source], limit: int = MESSAGE_LIMIT) -> list[str]:
    """The indexed documents with their dates, newest first (every one, several messages)."""
    if not sources:
        return ["索引里还没有文件。"]
    ordered = _newest_first(sources)
    header = f"<b>收录的文件（{len(ordered)} 篇）</b>"
    return pack(header, [_source_block(i, s) for i, s in enumerate(ordered, 1)], limit)


def render_sources_page(
    sources: Sequence[Source], page: int, per_page: int | None = None
) -> tuple[str, int]:
    """One message of /sources: page ``page`` (from 0, clamped) and the number of pages."""
    per_page = per_page or SOURCES_PER_PAGE
    if not sources:
        return "索引里还没有文件。", 1
    ordered = _newest_first(sources)
    pages = -(-len(ordered) // per_page)
    page = max(0, min(page, pages - 1))
    first = page * per_page
    blocks = [
        _source_block(i, s)
        for i, s in enumerate(ordered[first : first + per_page], start=first + 1)
    ]
    where = f"，第 {page + 1}/{pages} 页" if pages > 1 else ""
    header = f"<b>收录的文件（{len(ordered)} 篇{where}）</b>"
    return pack(header, blocks, MESSAGE_LIMIT)[0], pages
