"""What a reply shows first, whatever the format: the answer line, then context on demand.

Telegram and the console both render an :class:`~retrieval.answer.Answer` in this order:

* confident: the top result's marked sentence(s), its citation, the context around it,
  then the other results compactly (each its marked sentence and a one-line citation);
* not confident: a note, then at most :data:`WEAK_SHOWN` short candidates;
* off-topic (the question's content words occur nowhere in the corpus): only the note,
  an invitation to rephrase, /sources and two example questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from corpus.chunking import split_sentences
from corpus.structure import SEPARATOR, marker_of
from retrieval.answer import Answer, Result

Span = tuple[int, int]

EXAMPLES = (
    "通武廊签署了什么协议",
    "北京2019年推进京津冀协同发展的工作要点有哪些",
    "京津冀协同发展的核心是什么",
)
OFF_TOPIC_EXAMPLES = (EXAMPLES[0], EXAMPLES[2])  # suggested when a question is off-topic
WEAK_SHOWN = 2  # candidates shown under a not-confident note
LEAD_CHARS = 300  # the answer line is cut around its marks beyond this
LINE_CHARS = 160  # a compact result's sentence (a long marked sentence is cut to ~150)
CONTEXT_CHARS = 450  # the context shown under the answer line
LEAD_IN_CHARS = 100  # ... starting at most this far before the answer line's text
WHERE_CHARS = 40  # heading path and article in an answer's citation
WHERE_SHORT_CHARS = 24  # … in a compact result's citation
ELLIPSIS = "…"


class Kind(Enum):
    ANSWER = "answer"
    WEAK = "weak"
    OFF_TOPIC = "off_topic"


def kind(answer: Answer) -> Kind:
    if answer.off_topic or not answer.results:
        return Kind.OFF_TOPIC
    return Kind.ANSWER if answer.confident else Kind.WEAK


def shown(answer: Answer) -> list[Result]:
    """The results a reply shows (and its 「原文」 buttons refer to)."""
    k = kind(answer)
    if k is Kind.OFF_TOPIC:
        return []
    return list(answer.results[:WEAK_SHOWN] if k is Kind.WEAK else answer.results)


def merge(marks: Iterable[Span], length: int) -> list[Span]:
    """Marks clipped to ``[0, length)``, sorted, overlapping ones joined."""
    spans = sorted((max(0, a), min(length, b)) for a, b in marks if min(length, b) > max(0, a))
    merged: list[Span] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def window(
    text: str, marks: Sequence[Span], size: int, lead_in: int | None = None
) -> tuple[str, list[Span], bool, bool]:
    """Cut ``text`` to at most ``size`` chars, centred on the marked span(s), or, with
    ``lead_in``, starting at most that many chars before them (at a sentence start where
    one lies in that stretch), so what follows the marks comes early.

    Returns the cut text, the marks relative to it, and whether the left/right was cut.
    """
    merged = merge(marks, len(text))
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
    if lead_in is not None and merged:
        left = _sentence_start(text, max(0, focus[0] - lead_in), focus[0])
    right = min(len(text), left + size)
    left = max(0, right - size)
    inside = [
        (max(a, left) - left, min(b, right) - left) for a, b in merged if b > left and a < right
    ]
    return text[left:right], inside, left > 0, right < len(text)


def _sentence_start(text: str, start: int, limit: int) -> int:
    """The first sentence start in ``text[start:limit]``, else ``start``."""
    if start == 0:
        return 0
    for a, _b in split_sentences(text[start - 1 : limit]):
        if a > 0:  # a sentence that begins inside the stretch, not one cut at its start
            return start - 1 + a
    return start


def lead_spans(result: Result) -> list[Span]:
    """What to read first: the marked sentence(s), else the excerpt's first sentence."""
    marks = merge(result.marks, len(result.excerpt))
    if marks:
        return marks
    sentences = split_sentences(result.excerpt)
    return sentences[:1]


def lead_text(result: Result, size: int = LEAD_CHARS) -> tuple[str, bool, bool]:
    """The lead sentence(s) as one line, at most about ``size`` chars; marks far apart
    are joined with "…". Returns the text and whether it was cut on the left/right."""
    spans = lead_spans(result)
    if not spans:
        return "", False, False
    parts = [" ".join(result.excerpt[a:b].split()) for a, b in spans]
    text = parts[0]
    for (_, prev_end), (start, _), part in zip(spans, spans[1:], parts[1:], strict=False):
        gap = result.excerpt[prev_end:start]
        text += (" " if not gap.strip() else " … ") + part
    if len(text) <= size:
        return text, False, False
    return text[:size], False, True


def context(result: Result, size: int = CONTEXT_CHARS) -> tuple[str, list[Span], bool, bool]:
    """The excerpt around the lead sentence(s), at most ``size`` chars (whitespace trimmed),
    from at most :data:`LEAD_IN_CHARS` before them, so the text that goes on from the
    answer line is near the top (docs/answers.md)."""
    text = result.excerpt
    lead = len(text) - len(text.lstrip())
    body = text.strip()
    marks = [(a - lead, b - lead) for a, b in merge(result.marks, len(text))]
    return window(body, marks, size, LEAD_IN_CHARS)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 1, 0)] + ELLIPSIS


def short_section(section: str | None, size: int = WHERE_CHARS) -> str | None:
    """A heading path within about ``size`` characters: whole if it fits; else the outer
    headings shortened to their numbers (``二、…``), then middle ones dropped (``…``), so
    the innermost heading keeps a readable start; it is cut to the room left."""
    if not section or len(section) <= size:
        return section
    labels = section.split(SEPARATOR)
    last = labels[-1]
    outer = [(marker_of(label) or label[:4]) + ELLIPSIS for label in labels[:-1]]
    choices = [outer]
    if len(outer) > 2:
        choices.append([outer[0], ELLIPSIS, outer[-1]])
    if len(outer) > 1:
        choices.append([outer[0], ELLIPSIS])
    choices += [[ELLIPSIS], []] if outer else [[]]
    readable = max(len(marker_of(last)) + 1, min(len(last), 12))
    for heads in choices:
        head = SEPARATOR.join([*heads, ""]) if heads else ""
        if size - len(head) >= readable or not heads:
            return head + _clip(last, max(size - len(head), 2))
    return _clip(last, size)


def where(result: Result, size: int = WHERE_CHARS) -> str | None:
    """Where the answer stands: heading path (shortened to ``size``) and article,
    e.g. ``第四章 法律责任 › 第十一条``; None when the document shows no structure there."""
    parts = []
    if result.section:
        room = size - (len(result.article) + len(SEPARATOR) if result.article else 0)
        parts.append(short_section(result.section, max(room, 8)))
    if result.article:
        parts.append(result.article)
    return SEPARATOR.join(parts) or None


def titled(result: Result) -> str:
    """《title》, followed by the document number (文号) when the title does not hold it."""
    title = f"《{result.title}》"
    if result.doc_number and result.doc_number not in result.title:
        title += f"（{result.doc_number}）"
    return title


def issuer(result: Result) -> str | None:
    """The issuing body when it adds to the title and source, else None."""
    known = f"{result.title} {result.source or ''}"
    return result.issuer if result.issuer and result.issuer not in known else None


def version_label(result: Result) -> str | None:
    """``旧版（2016）· 已被 2022-05-25 版取代`` for a result of an older version (issue 26)."""
    if not result.superseded_by:
        return None
    dates = [d for d in (result.date, result.effective_date) if d]
    year = max(dates)[:4] if dates else ""
    old = f"旧版（{year}）" if year else "旧版"
    newer = f"已被 {result.superseded_date} 版取代" if result.superseded_date else "已有新版"
    return f"{old}· {newer}"


def note_line(answer: Answer) -> str | None:
    """The answer's note (a place or time no cited document matches), as every reply shows
    it, above the results."""
    return f"注意：{answer.note}" if answer.note else None
