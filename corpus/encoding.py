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


def plausibility(text: str, limit: int = 200_000) -> float:
    """Share of non-ASCII characters that are common CJK text (1.0 for pure ASCII), over
    the first ``limit`` non-ASCII characters (memory stays flat for any size)."""
    wide = common = 0
    for ch in text:
        if ch.isascii():
            continue
        wide += 1
        common += _is_common(ch)
        if wide >= limit:
            break
    return common / wide if wide else 1.0


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


_SAMPLE = 1 << 20  # bytes of a file each legacy encoding is scored on


def _decode_legacy(data: bytes) -> str:
    """Score each encoding on a sample, then decode the whole file once, best first."""
    scored: list[tuple[float, int, str]] = []
    for order, encoding in enumerate(_CJK_LEGACY):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            sample = decoder.decode(data[:_SAMPLE], final=len(data) <= _SAMPLE)
        except UnicodeDecodeError:
            continue
        scored.append((-plausibility(sample), order, encoding))
    for _score, _order, encoding in sorted(scored):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8/gb18030/big5", data, 0, len(data), "no encoding fits")


def read_text(path: Path) -> str:
    """Read a text file as UTF-8 (BOM or not), GB18030/GBK or Big5; newlines become \\n."""
    return decode_bytes(Path(path).read_bytes())
