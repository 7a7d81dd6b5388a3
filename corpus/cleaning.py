"""Turn raw page text into what a reader should see: no site chrome, whole sentences.

Steps, in order: inline repairs (pinyin annotations, doubled punctuation), removal of
boilerplate lines (navigation, login/comment boxes, QR prompts, ICP/copyright and postal
footers, newspaper page navigation, byline metadata), then rejoining lines that were
broken mid-sentence.  Paragraphs in the result are separated by a single ``\\n``.
"""

from __future__ import annotations

import re
import unicodedata

from corpus import boilerplate

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_LETTERS = f"a-zü{_TONED}"
# "協(xié)" / "協（xié）": lowercase pinyin syllables in brackets right after a CJK character.
_PINYIN = re.compile(
    rf"(?<=[{_CJK}])[(（]\s*[{_PINYIN_LETTERS}]+(?:\s+[{_PINYIN_LETTERS}]+)*\s*[)）]"
)
_HAS_TONE = re.compile(f"[{_TONED}]")
# A run of clause punctuation ("，，", ",,", ",、", ",。") is one mark: the last one.
_PUNCT_RUN = re.compile(r"[，,、。；;：:]{2,}")

# Line ends that close a sentence (closing quotes/brackets may follow the mark).
_FINAL = "。！？!?；;…:：."
_CLOSERS = "”’」』）)】》\"'"
# Line ends that promise a continuation.
_OPEN_END = "，,、“‘「『(（《〈【[—-－/~～"
_LIST_MARKER = re.compile(
    r"^(?:第[一二三四五六七八九十百千零\d]+[章节條条款部篇]"
    r"|[一二三四五六七八九十]+、"
    r"|[(（][一二三四五六七八九十\d]+[)）]"
    r"|\d+[、．]"
    r"|\d+\.(?!\d)"
    r"|[①-⑳])"
)
# A sentence opener such as 一是/第三是/首先 is never a heading.
_SENTENCE_OPENER = re.compile(
    r"^(?:第?[一二三四五六七八九十]+是|首先|其次|再次|最后|此外|另外|同时|但是|因此|其中|目前)"
)
# Line ends that cannot close a heading: function words, dangling ordinals, common verbs.
_DANGLING_END = re.compile(
    r"(?:[的和与及或从以在向对把将被由为是了要并而且个至于跨给]"
    r"|第[一二三四五六七八九十百\d]+"
    r"|推动|推进|促进|加快|加强|实现|打造|构建|建立|支持|围绕|按照|根据|通过|包括|共建|疏解)$"
)
_CLAUSE_PUNCT = re.compile(r"[，,、；;：:。！？!?]")
HEADING_MAX_CHARS = 32


def _strip_pinyin(text: str) -> str:
    return _PINYIN.sub(lambda m: "" if _HAS_TONE.search(m.group()) else m.group(), text)


def _collapse_punct(text: str) -> str:
    return _PUNCT_RUN.sub(lambda m: m.group()[-1], text)


def _strip_invisible(text: str) -> str:
    """Drop zero-width/format and control characters; form feeds become line breaks."""
    text = text.replace("\f", "\n").replace("\v", "\n")
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cf", "Cc"}
    )


def _ends_sentence(line: str) -> bool:
    body = line.rstrip(_CLOSERS)
    return bool(body) and body[-1] in _FINAL


def _is_heading(line: str) -> bool:
    """A short stand-alone line (after any list marker) without clause punctuation."""
    if len(line) > HEADING_MAX_CHARS or _SENTENCE_OPENER.match(line):
        return False
    marker = _LIST_MARKER.match(line)
    rest = line[marker.end() :] if marker else line
    return not _CLAUSE_PUNCT.search(rest) and not _DANGLING_END.search(rest)


def _continues(paragraph: list[str], nxt: str) -> bool:
    """Whether ``nxt`` continues the sentence the paragraph's last line left open."""
    last = paragraph[-1]
    if _ends_sentence(last) or _LIST_MARKER.match(nxt):
        return False
    if last[-1] in _OPEN_END or len(paragraph) > 1:
        return True
    return not _is_heading(last)


def _join(left: str, right: str) -> str:
    sep = " " if left[-1].isascii() and left[-1].isalnum() and right[0].isascii() else ""
    return left + sep + right


def rejoin_lines(text: str) -> str:
    """Rejoin lines broken mid-sentence; blank lines and sentence ends are paragraph breaks."""
    paragraphs: list[list[str]] = []
    hard_break = True
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            hard_break = True
            continue
        if not hard_break and _continues(paragraphs[-1], line):
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
        hard_break = False
    out = []
    for lines in paragraphs:
        joined = lines[0]
        for line in lines[1:]:
            joined = _join(joined, line)
        out.append(joined)
    return "\n".join(out)


def clean_text(raw: str) -> str:
    """Return the reader-facing text of ``raw``: boilerplate removed, broken lines rejoined."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_invisible(text)
    text = _collapse_punct(_strip_pinyin(text))
    lines = boilerplate.remove_boilerplate([line.strip() for line in text.split("\n")])
    return rejoin_lines("\n".join(lines)).strip()
