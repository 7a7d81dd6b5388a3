"""Answers as Telegram HTML: escaped verbatim excerpts, the best sentence in bold,
and never more than one message's worth of text per message."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from retrieval.answer import Answer, Result, Source

MESSAGE_LIMIT = 4096
ELLIPSIS = "…"
_MIN_WINDOW = 40

Span = tuple[int, int]


def tg_len(text: str) -> int:
    """Conservative length of an HTML message: UTF-16 units of the *raw* markup.

    Telegram counts the text after entity parsing, which is never longer.
    """
    return len(text.encode("utf-16-le")) // 2


def _merge(marks: Iterable[Span], length: int) -> list[Span]:
    spans = sorted((max(0, a), min(length, b)) for a, b in marks if min(length, b) > max(0, a))
    merged: list[Span] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def mark_html(text: str, marks: Iterable[Span] = ()) -> str:
    """Escape ``text`` and wrap the ``marks`` spans in ``<b>…</b>``."""
    out: list[str] = []
    pos = 0
    for a, b in _merge(marks, len(text)):
        out.append(html.escape(text[pos:a]))
        out.append(f"<b>{html.escape(text[a:b])}</b>")
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def window(text: str, marks: Sequence[Span], size: int) -> tuple[str, list[Span], bool, bool]:
    """Cut ``text`` to at most ``size`` chars, centred on the marked span(s).

    Returns the cut text, the marks relative to it, and whether the left/right was cut.
    """
    merged = _merge(marks, len(text))
    if len(text) <= size:
        return text, merged, False, False
    size = max(size, 1)
    if merged and merged[-1][1] - merged[0][0] <= size:
        focus = (merged[0][0], merged[-1][1])
    elif merged:
        focus = (merged[0][0], min(merged[0][1], merged[0][0] + size))
    else:
        focus = (0, 0)
    left = max(0, focus[0] - (size - (focus[1] - focus[0])) // 2)
    right = min(len(text), left + size)
    left = max(0, right - size)
    inside = [
        (max(a, left) - left, min(b, right) - left) for a, b in merged if b > left and a < right
    ]
    return text[left:right], inside, left > 0, right < len(text)


def _strip(text: str, marks: Sequence[Span]) -> tuple[str, list[Span]]:
    """Drop surrounding whitespace (display only), keeping marks aligned."""
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    return body, [(a - lead, b - lead) for a, b in marks]


def quote_html(text: str, marks: Sequence[Span], size: int | None = None) -> str:
    """A ``<blockquote>`` of the verbatim text (optionally cut to ``size`` chars)."""
    text, marks = _strip(text, marks)
    cut_left = cut_right = False
    if size is not None:
        text, marks, cut_left, cut_right = window(text, marks, size)
    body = mark_html(text, marks)
    return (
        f"<blockquote>{ELLIPSIS if cut_left else ''}{body}{ELLIPSIS if cut_right else ''}"
        "</blockquote>"
    )


def meta_line(title: str, date: str | None, source: str | None, url: str | None = None) -> str:
    """``title · date · source`` (escaped), with a link when there is a URL."""
    parts = [html.escape(p) for p in (title, date, source) if p]
    line = " · ".join(parts)
    if url:
        line += f' · <a href="{html.escape(url, quote=True)}">链接</a>'
    return f"<i>—— {line}</i>"


def fit_block(head: str, text: str, marks: Sequence[Span], tail: str, budget: int) -> str:
    """``head + quote + tail`` within ``budget``, cutting the quote around its marks if needed."""
    block = head + quote_html(text, marks) + tail
    size = len(text)
    while tg_len(block) > budget and size > _MIN_WINDOW:
        size = max(_MIN_WINDOW, size - (tg_len(block) - budget) - 8)
        block = head + quote_html(text, marks, size) + tail
    return block


def result_block(result: Result, number: int, budget: int = MESSAGE_LIMIT) -> str:
    """One cited excerpt: number, quoted excerpt (best sentence bold), then its citation."""
    head = f"<b>{number}.</b>\n"
    tail = "\n" + meta_line(result.title, result.date, result.source)
    return fit_block(head, result.excerpt, result.marks, tail, budget)


def pack(header: str, blocks: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join ``header`` and ``blocks`` into as few messages as possible, splitting only
    between blocks. Each block must already fit in ``limit``."""
    messages: list[str] = []
    current = header
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if tg_len(candidate) <= limit:
            current = candidate
        else:
            if current:
                messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def _fitted_blocks(results: Sequence[Result], header: str, limit: int) -> list[str]:
    blocks = []
    for i, result in enumerate(results):
        # the first block must fit beside the header, the others alone
        budget = limit - (tg_len(header) + 2 if i == 0 else 0)
        blocks.append(result_block(result, result.rank, budget))
    return blocks


def render_answer(answer: Answer, note: str = "", limit: int = MESSAGE_LIMIT) -> list[str]:
    """The numbered, cited excerpts under the question. When the engine is not confident,
    a kind not-found note comes first and the excerpts are labelled as weak matches."""
    if answer.confident:
        header = f"<b>问：</b>{html.escape(answer.question)}"
    else:
        header = not_found(answer.question)
        if answer.results:
            header += "\n\n<b>以下是最接近的段落，相关度较低，仅供参考：</b>"
    if note:
        header += f"\n<i>{html.escape(note)}</i>"
    return pack(header, _fitted_blocks(answer.results, header, limit), limit)


def render_more(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """A further page of results for the same question."""
    first, last = answer.results[0].rank, answer.results[-1].rank
    header = f"<b>更多结果（第 {first}–{last} 条）：</b>{html.escape(answer.question)}"
    if not answer.confident:
        header += "\n<i>以下段落与问题的相关度较低，仅供参考。</i>"
    return pack(header, _fitted_blocks(answer.results, header, limit), limit)


def not_found(question: str) -> str:
    """The kind note for a question the documents do not clearly answer."""
    return (
        f"抱歉，在收录的文件里没有找到能明确回答“{html.escape(question)}”的段落。\n"
        "可以换个说法、用文件里的词语再问一次（例如“通武廊”“非首都功能疏解”），"
        "或发送 /sources 查看收录了哪些文件。"
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
    tail = "\n" + meta_line(source.title, source.date, source.source, url)
    return fit_block(head, text, [span], tail, limit)


def render_sources(sources: Sequence[Source], limit: int = MESSAGE_LIMIT) -> list[str]:
    """The indexed documents with their dates, newest first."""
    if not sources:
        return ["索引里还没有文件。"]
    ordered = sorted(sources, key=lambda s: s.date or "", reverse=True)
    header = f"<b>收录的文件（{len(ordered)} 篇）</b>"
    blocks = []
    for i, s in enumerate(ordered, 1):
        details = [html.escape(p) for p in (s.date or "日期不详", s.source) if p]
        details.append(f"{s.chars:,} 字")
        if s.url:
            details.append(f'<a href="{html.escape(s.url, quote=True)}">链接</a>')
        title = s.title if len(s.title) <= 300 else s.title[:300] + ELLIPSIS
        blocks.append(f"{i}. <b>{html.escape(title)}</b>\n    {' · '.join(details)}")
    return pack(header, blocks, limit)
