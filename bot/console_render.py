"""Plain-text rendering of answers for the terminal (colour only on a TTY)."""

from __future__ import annotations

import os
from dataclasses import replace

from bot import answer_layout as layout
from corpus.sanitize import shown, shown_text
from retrieval.answer import Answer, Result, Source

NOT_FOUND = "没有找到可靠的答案。可以换个说法再问，或用 {sources} 查看收录的文件。"
WEAK = "（以下是相关度较低的段落，仅供参考）"
OFF_TOPIC = (
    "收录的文件里没有与这个问题相关的内容。可以换个说法再问，或用 {sources} 查看收录的文件。"
)
#: How a reply names the list of documents, per interface (Telegram words its own).
CONSOLE_SOURCES = "/sources"
CLI_SOURCES = "python -m bot sources"


class Style:
    """ANSI styles, or plain markers when colour is off."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def title(self, text: str) -> str:
        return self._wrap("1;36", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def mark(self, text: str) -> str:
        return self._wrap("1;33", text) if self.colour else f"【{text}】"

    def warn(self, text: str) -> str:
        return self._wrap("33", text)


def use_colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


WHERE_CHARS = 80  # a terminal line has room for most heading paths


def citation(r: Result | Source, located: bool = True) -> str:
    """《title》（document number） · heading path › article · date · source · issuer ·
    document id and character range (for a Result; a Source has title, date, source, id),
    without control characters. ``located=False`` leaves out the id and range (the
    answer line's citation: they follow its context, see :func:`location`)."""
    if not isinstance(r, Result):
        parts = [f"《{r.title}》", r.date, r.source, r.doc_id]
    else:
        parts = [layout.titled(r), layout.where(r, WHERE_CHARS), r.date, r.source, layout.issuer(r)]
        if located:
            parts.append(location(r))
    return " · ".join(shown(p) for p in parts if p)


def location(r: Result) -> str:
    """Document id and the excerpt's character range: ``doc.txt 第815–1410字``."""
    return shown(f"{r.doc_id} 第{r.start}–{r.end}字") or ""


def showable(answer: Answer) -> Answer:
    """The answer with every control character in its excerpts made a space (offsets and
    marks stay valid); the question too. Citations are cleaned by :func:`citation`."""
    results = [replace(r, excerpt=shown_text(r.excerpt)) for r in answer.results]
    return replace(answer, question=shown(answer.question) or "", results=results)


def marked_excerpt(r: Result, style: Style) -> str:
    return _marked(r.excerpt, r.marks, style, lambda t: t)


def _marked(text: str, marks, style: Style, plain) -> str:
    """``text`` with its marks highlighted and the rest passed through ``plain``."""
    out, pos = [], 0
    for start, end in layout.merge(marks, len(text)):
        out += [plain(text[pos:start]) if start > pos else "", style.mark(text[start:end])]
        pos = end
    out.append(plain(text[pos:]) if pos < len(text) else "")
    return "".join(out)


def _indent(text: str) -> str:
    """Indent each line; the excerpt's own line breaks are kept, nothing is re-wrapped."""
    return "\n".join("    " + line for line in text.split("\n"))


def render_answer(
    answer: Answer, style: Style, full: bool = False, sources: str = CONSOLE_SOURCES
) -> str:
    """Answer first (see :mod:`bot.answer_layout`): the top result's marked sentence and citation,
    the context after it (dimmed on a terminal), then the other results compactly.
    ``full`` prints every whole excerpt instead. ``sources`` is how the notes name the list
    of documents where this is read (the console's ``/sources``, ``python -m bot sources``)."""
    answer = showable(answer)
    if full:
        return render_full(answer, style, sources)
    kind = layout.kind(answer)
    if kind is layout.Kind.OFF_TOPIC:
        examples = "\n".join(f"  · {q}" for q in layout.OFF_TOPIC_EXAMPLES)
        return f"{style.warn(OFF_TOPIC.format(sources=sources))}\n例如：\n{examples}"
    results = layout.shown(answer)
    blocks = []
    if note := layout.note_line(answer):
        blocks.append(style.warn(note))
    if kind is layout.Kind.WEAK:
        blocks += [style.warn(NOT_FOUND.format(sources=sources)) + "\n" + style.dim(WEAK)]
    else:
        blocks.append(_lead(results[0], style))
        results = results[1:]
    blocks += [_compact(r, style) for r in results]
    return "\n\n".join(blocks)


def _line(r: Result, size: int) -> str:
    text, cut_left, cut_right = layout.lead_text(r, size)
    return ("…" if cut_left else "") + text + ("…" if cut_right else "")


def _lead(r: Result, style: Style) -> str:
    """The answer line, its citation (title · where · date · source, as in Telegram), the
    context, then the document id and character range: an id such as a long file name
    would otherwise push the context, and a multi-sentence answer, down the reply."""
    line = _line(r, layout.LEAD_CHARS)
    head = f"[{r.rank}] {style.title(line) if r.marks else line}"
    text, marks, cut_left, cut_right = layout.context(r)
    body = ("…" if cut_left else "") + _marked(text, marks, style, style.dim)
    body += "…" if cut_right else ""
    cited = style.dim("— " + citation(r, located=False))
    if label := layout.version_label(r):
        cited += "\n    " + style.warn(label)
    return f"{head}\n    {cited}\n\n{_indent(body)}\n    {style.dim(f'（{location(r)}）')}"


def _compact(r: Result, style: Style) -> str:
    label = layout.version_label(r)
    tail = f"\n    {style.warn(label)}" if label else ""
    return f"[{r.rank}] {_line(r, layout.LINE_CHARS)}\n    {style.dim('— ' + citation(r))}{tail}"


def render_full(answer: Answer, style: Style, sources: str = CONSOLE_SOURCES) -> str:
    """Numbered whole excerpts, best sentence marked, citation under each."""
    blocks = []
    if note := layout.note_line(answer):
        blocks.append(style.warn(note))
    if not answer.confident:
        blocks.append(style.warn(NOT_FOUND.format(sources=sources)))
        if answer.results:
            blocks.append(style.dim(WEAK))
    for r in answer.results:
        body = _indent(marked_excerpt(r, style))
        label = layout.version_label(r)
        tail = f"\n    {style.warn(label)}" if label else ""
        blocks.append(f"[{r.rank}] {body.lstrip()}\n    {style.dim('— ' + citation(r))}{tail}")
    return "\n\n".join(blocks)


def render_sources(sources: list[Source], style: Style) -> str:
    lines = [style.title(f"收录文件（{len(sources)} 篇）")]
    lines += [f"  {i}. {citation(s)}" for i, s in enumerate(sources, start=1)]
    return "\n".join(lines)
