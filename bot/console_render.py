"""Plain-text rendering of answers for the terminal (colour only on a TTY)."""

from __future__ import annotations

import os

from retrieval.answer import Answer, Result, Source

NOT_FOUND = "没有找到可靠的答案。可以换个说法再问，或用 /sources 查看收录的文件。"


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


def citation(r: Result | Source) -> str:
    """title · date · source · where (document id and character range)."""
    parts = [f"《{r.title}》"]
    parts += [p for p in (r.date, r.source) if p]
    if isinstance(r, Result):
        parts.append(f"{r.doc_id} 第{r.start}–{r.end}字")
    else:
        parts.append(r.doc_id)
    return " · ".join(parts)


def marked_excerpt(r: Result, style: Style) -> str:
    text, out, pos = r.excerpt, [], 0
    for start, end in sorted(r.marks):
        out += [text[pos:start], style.mark(text[start:end])]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _indent(text: str) -> str:
    """Indent each line; the excerpt's own line breaks are kept, nothing is re-wrapped."""
    return "\n".join("    " + line for line in text.split("\n"))


def render_answer(answer: Answer, style: Style) -> str:
    """Numbered excerpts, best sentence marked, citation under each."""
    blocks = []
    if not answer.confident:
        blocks.append(style.warn(NOT_FOUND))
        if answer.results:
            blocks.append(style.dim("（以下是相关度较低的段落，仅供参考）"))
    for r in answer.results:
        body = _indent(marked_excerpt(r, style))
        blocks.append(f"[{r.rank}] {body.lstrip()}\n    {style.dim('— ' + citation(r))}")
    return "\n\n".join(blocks)


def render_sources(sources: list[Source], style: Style) -> str:
    lines = [style.title(f"收录文件（{len(sources)} 篇）")]
    lines += [f"  {i}. {citation(s)}" for i, s in enumerate(sources, start=1)]
    return "\n".join(lines)
