"""An answer as Markdown, for OpenAI-compatible chat clients: the answering sentence first
(bold), its citation, the context around it as a quote, then the other results; not
confident and off-topic replies as in Telegram; the answer's note (a place or time no cited
document matches) above the results, and an older version's ``旧版（2016）· 已被 2022-05-25
版取代`` under its citation, as every renderer shows them (issue 26). Every character from
the documents is escaped, so a client shows it as text and renders no HTML or links from it."""

from __future__ import annotations

import re

from bot import answer_layout as layout
from corpus.sanitize import shown, shown_text
from retrieval import Answer, Result

ECHO_CHARS = 60
_ACTIVE = re.compile(r"([\\`*_\[\]<>|~&])")  # active anywhere in a line
_LINE_START = re.compile(r"^(\s*(?:\d+)?)([#=+-]|(?<=\d)[.)])", re.MULTILINE)  # heads, lists

REPHRASE = (
    "可以换个说法、用文件里的词语再问一次（例如“通武廊”“非首都功能疏解”），"
    "或打开 /sources 查看收录了哪些文件。"
)


def escape(text: str) -> str:
    """``text`` with Markdown's active characters backslash-escaped (CommonMark then shows
    them as they are; ``<`` can open no HTML tag)."""
    return _LINE_START.sub(r"\1\\\2", _ACTIVE.sub(r"\\\1", text))


def _echo(question: str) -> str:
    short = question if len(question) <= ECHO_CHARS else question[:ECHO_CHARS] + "…"
    return escape(shown(short) or "")


def citation(r: Result, size: int = layout.WHERE_CHARS) -> str:
    """``《title》（文号） · heading › article · date · source · issuer`` (escaped)."""
    parts = [layout.titled(r), layout.where(r, size), r.date, r.source, layout.issuer(r)]
    return escape(" · ".join(shown(p) or "" for p in parts if p))


def _marked(text: str, marks: list[tuple[int, int]]) -> str:
    """Escaped ``text`` with the marked spans in bold (within one line each)."""
    out, pos = [], 0
    for a, b in layout.merge(marks, len(text)):
        out.append(escape(text[pos:a]))
        inner = text[a:b]
        lines = [escape(line) for line in inner.split("\n")]
        out.append("\n".join(f"**{line}**" if line.strip() else line for line in lines))
        pos = b
    out.append(escape(text[pos:]))
    return "".join(out)


def _version(r: Result) -> str:
    """``  \n**旧版（2016）· 已被 2022-05-25 版取代**`` under an older version's citation."""
    label = layout.version_label(r)
    return f"  \n**{escape(label)}**" if label else ""


def _note(answer: Answer) -> str | None:
    """The answer's note (bold), shown above the results."""
    said = layout.note_line(answer)
    return f"**{escape(shown(said) or '')}**" if said else None


def _line(r: Result, size: int) -> str:
    text, cut_left, cut_right = layout.lead_text(r, size)
    return ("…" if cut_left else "") + escape(text) + ("…" if cut_right else "")


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.split("\n"))


def lead_block(r: Result) -> str:
    """The answer line (bold), its citation, then the context as a quote."""
    line = _line(r, layout.LEAD_CHARS)
    head = f"**{line}**" if r.marks else line
    text, marks, cut_left, cut_right = layout.context(r)
    body = ("…" if cut_left else "") + _marked(shown_text(text), marks) + ("…" if cut_right else "")
    return f"{head}\n\n—— {citation(r)}{_version(r)}\n\n{_quote(body)}"


def compact_block(r: Result) -> str:
    return (
        f"{r.rank}\\. {_line(r, layout.LINE_CHARS)}  \n—— {citation(r, layout.WHERE_SHORT_CHARS)}"
        + _version(r)
    )


def render(answer: Answer) -> str:
    """The whole reply; blocks are separated by blank lines (a stream sends them one by one)."""
    kind = layout.kind(answer)
    note = _note(answer)
    if kind is layout.Kind.OFF_TOPIC:  # the note after the apology, as in Telegram
        examples = "\n".join(f"- {escape(q)}" for q in layout.OFF_TOPIC_EXAMPLES)
        return (
            f"抱歉，收录的文件里没有与“{_echo(answer.question)}”相关的内容。\n\n"
            + (f"{note}\n\n" if note else "")
            + "可以换个说法再问，或打开 /sources 查看收录了哪些文件。"
            f"也可以试试这样问：\n\n{examples}"
        )
    noted = [note] if note else []
    results = layout.shown(answer)
    if kind is layout.Kind.WEAK:
        head = (
            f"抱歉，没有找到能明确回答“{_echo(answer.question)}”的段落。"
            "**最接近的段落（相关度较低，仅供参考）：**"
        )
        return "\n\n".join([*noted, head, *(compact_block(r) for r in results), REPHRASE])
    blocks = [*noted, lead_block(results[0])]
    if len(results) > 1:
        blocks.append("**其他结果：**")
        blocks += [compact_block(r) for r in results[1:]]
    return "\n\n".join(blocks)
