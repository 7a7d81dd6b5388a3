"""What a file is by its first bytes, whatever its name says (issue 29).

A PDF renamed ``.txt`` used to be ingested as text: ``%PDF-1.3`` and chunks of PDF syntax.
The text readers (``.txt``, ``.md``, ``.html``) look here first: a PDF or a DOCX is read as
what it is, and any other binary (images, archives, executables, old Office files) is
refused with one line instead of being read as text.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 8192


@dataclass(frozen=True)
class Sniffed:
    """``kind``: ``pdf`` or ``docx`` (readable as such) or ``binary``; ``what`` says it."""

    kind: str
    what: str


#: (magic bytes at offset 0, what the file is) for binaries that no text reader should read.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"MZ", "a Windows executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls/.ppt)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x00\x00\x00\x18ftyp", "a video (MP4)"),
    (b"\x00\x00\x00\x20ftyp", "a video (MP4)"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg audio file"),
)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def sniff(path: Path) -> Sniffed | None:
    """What ``path`` is if it is not text, else None (text, or too little to tell)."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    return sniff_bytes(head, path)


def sniff_bytes(head: bytes, path: Path | None = None) -> Sniffed | None:
    """:func:`sniff` on a file's first bytes (``path`` lets a zip be opened to tell a
    DOCX from other zip files)."""
    if head.startswith(_TEXT_BOMS):
        return None
    if b"%PDF-" in head[:1024]:  # the header may follow a little junk (PDF 1.7, 7.5.2)
        return Sniffed("pdf", "a PDF")
    if head.startswith(b"PK\x03\x04"):
        if path is not None and _is_docx(path):
            return Sniffed("docx", "a Word document (DOCX)")
        return Sniffed("binary", "a zip archive (or an Excel, PowerPoint or OpenDocument file)")
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return Sniffed(
            "binary",
            {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file"}.get(head[8:12], "an AVI video"),
        )
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return Sniffed("binary", what)
    if b"\x00" in head:  # text in the encodings read here (UTF-8, GB18030, Big5) has no NUL
        return Sniffed("binary", "a binary file")
    return None


def _is_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "word/document.xml" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
