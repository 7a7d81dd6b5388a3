"""Reading text files whose encoding is unknown: UTF-8, GB18030/GBK or Big5."""

from __future__ import annotations

import codecs
from pathlib import Path

# Tried after UTF-8 fails; when both decode, the more plausible result wins (ties: first).
_CJK_LEGACY = ("gb18030", "big5")


def _is_common(ch: str) -> bool:
    """A character a real Chinese text is made of (not a mis-decoding artefact)."""
    if ch.isascii():
        return True
    cp = ord(ch)
    if 0x3000 <= cp <= 0x303F or 0xFF01 <= cp <= 0xFF5E or 0x2010 <= cp <= 0x2027:
        return True  # CJK punctuation, full-width forms, dashes and quotes
    try:
        ch.encode("gb2312")  # the ~6,700 everyday simplified characters and symbols
        return cp < 0x3040 or cp > 0x30FF  # kana rows are what Big5 bytes turn into
    except UnicodeEncodeError:
        pass
    try:
        code = int.from_bytes(ch.encode("big5"), "big")
    except UnicodeEncodeError:
        return False
    return 0xA440 <= code <= 0xC67E or 0xA140 <= code <= 0xA1FF  # Big5 level 1, punctuation


def plausibility(text: str) -> float:
    """Share of non-ASCII characters that are common CJK text (1.0 for pure ASCII)."""
    wide = [ch for ch in text if not ch.isascii()]
    if not wide:
        return 1.0
    return sum(_is_common(ch) for ch in wide) / len(wide)


def decode_bytes(data: bytes) -> str:
    """Decode bytes of unknown encoding; raise UnicodeDecodeError if nothing fits."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _decode_legacy(data)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_legacy(data: bytes) -> str:
    best: tuple[float, str] | None = None
    for encoding in _CJK_LEGACY:
        try:
            candidate = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = plausibility(candidate)
        if best is None or score > best[0]:
            best = (score, candidate)
    if best is None:
        raise UnicodeDecodeError("utf-8/gb18030/big5", data, 0, len(data), "no encoding fits")
    return best[1]


def read_text(path: Path) -> str:
    """Read a text file as UTF-8 (BOM or not), GB18030/GBK or Big5; newlines become \\n."""
    return decode_bytes(Path(path).read_bytes())
