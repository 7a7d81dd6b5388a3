"""Sentence splitting and overlapping sentence-window chunks over Document.text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.document import Document
from corpus.structure import positions

# Bump when chunk spans or their stored fields change: the next ingest re-chunks every
# document (vectors and tokens are cached by text hash, so nothing is re-embedded).
CHUNKER_VERSION = "2"  # 2: each chunk records its heading path and article

# A sentence ends after a run of terminators (plus any closing quotes/brackets) or at \n.
_SENTENCE_END = re.compile(r"[。！？；…!?;]+[”’」』）)】》\"']*|\n")
# Where an over-long sentence may be cut, best first.
_SOFT_BREAK = re.compile(r"[，,、：:]")


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences: ``text == document.text[start:end]``.

    ``section`` is the heading path and ``article`` the article (第X条) in force where
    the chunk begins (see :mod:`corpus.structure`); None where there is none.
    """

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    section: str | None = None
    article: str | None = None


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` in ``text``, whitespace excluded, never empty."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        span = _trimmed(text, start, match.end())
        if span:
            spans.append(span)
        start = match.end()
    span = _trimmed(text, start, len(text))
    if span:
        spans.append(span)
    return spans


def _cut(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into pieces of at most ``max_chars``, at commas if possible."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        window = text[start + max_chars // 2 : start + max_chars]
        soft = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = start + max_chars // 2 + soft[-1] if soft else start + max_chars
        piece = _trimmed(text, start, cut)
        if piece:
            pieces.append(piece)
        start = cut
    piece = _trimmed(text, start, end)
    if piece:
        pieces.append(piece)
    return pieces


def _units(text: str, max_chars: int) -> list[tuple[int, int]]:
    units: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        units.extend(_cut(text, start, end, max_chars))
    return units


def _windows(units: list[tuple[int, int]], target: int, max_chars: int) -> list[tuple[int, int]]:
    """Greedy windows of unit indexes ``[first, last]``; neighbours share one unit."""
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last = first
        while (
            last + 1 < len(units)
            and units[last][1] - units[first][0] < target
            and units[last + 1][1] - units[first][0] <= max_chars
        ):
            last += 1
        windows.append((first, last))
        if last + 1 >= len(units):
            break
        # Overlap by the last unit unless it cannot share a window with its successor.
        overlap = last > first and units[last + 1][1] - units[last][0] <= max_chars
        first = last if overlap else last + 1
    return windows


def _merge_tail(
    windows: list[tuple[int, int]], units: list[tuple[int, int]], max_chars: int, min_chars: int
) -> list[tuple[int, int]]:
    """Fold a too-short last window into its predecessor when the result still fits."""
    if len(windows) < 2:
        return windows
    (prev_first, _), (tail_first, tail_last) = windows[-2], windows[-1]
    tail_size = units[tail_last][1] - units[tail_first][0]
    if tail_size < min_chars and units[tail_last][1] - units[prev_first][0] <= max_chars:
        return [*windows[:-2], (prev_first, tail_last)]
    return windows


def chunk_document(
    doc: Document, target: int = 300, max_chars: int = 400, min_chars: int = 200
) -> list[Chunk]:
    """Chunk ``doc.text`` into whole-sentence windows of about ``target`` characters.

    Chunks hold at most ``max_chars`` characters (a sentence is cut only when it alone
    is longer), consecutive chunks share one sentence, and a short document is one chunk.
    """
    if not 0 < min_chars <= target <= max_chars:
        raise ValueError("need 0 < min_chars <= target <= max_chars")
    text = doc.text
    units = _units(text, max_chars)
    if not units:
        return []
    if units[-1][1] - units[0][0] <= max_chars:
        windows = [(0, len(units) - 1)]
    else:
        windows = _merge_tail(_windows(units, target, max_chars), units, max_chars, min_chars)
    spans = [(units[first][0], units[last][1]) for first, last in windows]
    where = positions(text, [start for start, _ in spans])
    return [
        Chunk(doc.doc_id, index, start, end, text[start:end], pos.section, pos.article)
        for index, ((start, end), pos) in enumerate(zip(spans, where, strict=True))
    ]
