"""Per-format readers: a file in, cleaned text plus whatever metadata the file carries."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import qabot_settings
from corpus.cleaning import clean_text
from corpus.encoding import read_text
from corpus.pdf_title import pdf_title
from corpus.sniff import sniff

# Zip-based files (DOCX): limits on what their parts may expand to, checked before any part
# is read. The ratio limit catches a bomb; the total one a file that is merely huge inside.
ZIP_RATIO_MAX = 100  # uncompressed : compressed, for each part above ZIP_RATIO_FROM
ZIP_RATIO_FROM = 4 << 20
ZIP_TOTAL_FACTOR = 4  # all parts together: at most this many times QABOT_MAX_FILE_MB
_STEM_DATE = re.compile(r"[(（]((?:19|20)\d\d-[01]\d-[0-3]\d)[)）]$")


class ReadError(Exception):
    """A file could not be read; the message is one line for the load report."""


@dataclass
class Extracted:
    """Clean text and the metadata found inside the file (None when absent).

    ``issuer`` (发布机关), ``doc_number`` (文号), ``order_number`` (令号),
    ``effective_date`` (施行日期) and ``doc_type`` are what a file's head states (the
    Markdown reader's info blocks, front matter and metadata lists).
    """

    text: str
    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None
    issuer: str | None = None
    doc_number: str | None = None
    order_number: str | None = None
    effective_date: str | None = None
    doc_type: str | None = None


def _optional(value: object) -> str | None:
    """A stripped non-empty string, or None."""
    text = str(value).strip() if value is not None else ""
    return text or None


def _paragraphs(parts: list[str]) -> str:
    """Join known paragraphs with blank lines so cleaning never merges them."""
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def _decoded(path: Path) -> str:
    try:
        return read_text(path)
    except UnicodeDecodeError as exc:
        raise ReadError("cannot decode text (not UTF-8, GB18030/GBK or Big5)") from exc


def markdown_extracted(source: str, name: str = "") -> Extracted:
    """Markdown text to clean text plus the metadata its head states; without a stated
    date, a date closing the file name (``某条例(2021-11-25).md``, as LawRefBook names
    versions) is the date."""
    from corpus.markdown import read_markdown_text

    body, fields = read_markdown_text(source)
    stem_date = _STEM_DATE.search(name)
    if "date" not in fields and stem_date:
        fields["date"] = stem_date.group(1)
    return Extracted(clean_text(body), **fields)


def read_plain(path: Path) -> Extracted:
    """A .txt file in UTF-8, GB18030/GBK or Big5 (read as Markdown when it clearly is)."""
    from corpus.markdown import is_markdown

    text = _decoded(path)
    if is_markdown(text):
        return markdown_extracted(text, path.stem)
    return Extracted(clean_text(text))


def read_markdown(path: Path) -> Extracted:
    """A .md file: its head as metadata, its body without Markdown syntax."""
    return markdown_extracted(_decoded(path), path.stem)


def read_html(path: Path) -> Extracted:
    """An .html/.htm page: main text (no navigation/footers), title and date from the page."""
    import trafilatura

    try:
        html = read_text(path)
    except UnicodeDecodeError as exc:
        raise ReadError("cannot decode HTML (not UTF-8, GB18030/GBK or Big5)") from exc
    try:
        page = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=True
        )
    except Exception as exc:  # noqa: BLE001 - any parser failure is a skipped file
        raise ReadError(f"cannot parse HTML: {exc}") from exc
    if page is None or not page.text:
        return Extracted("")
    return Extracted(
        clean_text(_paragraphs(page.text.split("\n"))),
        title=_optional(page.title),
        date=_optional(page.date),
        source=_optional(page.sitename),
        url=_optional(page.url),
    )


def read_pdf(path: Path) -> Extracted:
    """A .pdf file's text layer (scanned pages without one yield no text)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata or {}).get("/Title")
    except (PdfReadError, ValueError, KeyError, OSError, NotImplementedError) as exc:
        raise ReadError(f"cannot read PDF: {exc}") from exc
    # Pages are joined with a single newline: a sentence running over a page break rejoins.
    text = clean_text("\n".join(pages))
    # a metadata title such as "untitled" or "Microsoft Word - 附件2.docx" is not used
    return Extracted(text, title=pdf_title(_optional(title), text, path.stem))


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def check_archive(path: Path, kind: str) -> None:
    """Refuse (ReadError, one line) a zip whose parts would expand past the limits, before
    any part is read. Python's zipfile inflates a part only up to the size its directory
    declares (a part that holds more fails its CRC), so these declared sizes bound what any
    reader built on it (python-docx) can be made to hold in memory."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ReadError(f"cannot read {kind}: {exc}") from exc
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > ZIP_RATIO_FROM and ratio > ZIP_RATIO_MAX:
            raise ReadError(
                f"cannot read {kind}: refused as a zip bomb: its part {part.filename} would"
                f" expand {ratio:.0f}:1 to {_mb(part.file_size)} (the limit is"
                f" {ZIP_RATIO_MAX}:1 for parts over {_mb(ZIP_RATIO_FROM)})"
            )
    total = sum(part.file_size for part in parts)
    limit = ZIP_TOTAL_FACTOR * qabot_settings.max_file_bytes()
    if total > limit:
        raise ReadError(
            f"cannot read {kind}: refused as a zip bomb: its parts would expand to"
            f" {_mb(total)} (the limit is {_mb(limit)}, {ZIP_TOTAL_FACTOR} × QABOT_MAX_FILE_MB)"
        )


def read_docx(path: Path) -> Extracted:
    """A .docx file's paragraphs and table rows, in document order (its zip checked first)."""
    import docx
    from docx.table import Table

    check_archive(path, "DOCX")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types on bad files
        raise ReadError(f"cannot read DOCX: {exc}") from exc
    parts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                parts.append(" ".join(cell.text.strip() for cell in row.cells if cell.text.strip()))
        else:
            parts.append(block.text)
    title = document.core_properties.title
    return Extracted(clean_text(_paragraphs(parts)), title=_optional(title))


def _by_content(reader: Callable[[Path], Extracted]) -> Callable[[Path], Extracted]:
    """A text reader that first looks at the file's first bytes (corpus/sniff.py): a PDF or
    DOCX under a text name is read as what it is, any other binary refused in one line."""

    def read(path: Path) -> Extracted:
        found = sniff(path)
        if found is None:
            return reader(path)
        if found.kind == "pdf":
            return read_pdf(path)
        if found.kind == "docx":
            return read_docx(path)
        raise ReadError(f"not a text file: it is {found.what}, whatever its name says")

    read.__doc__ = reader.__doc__
    return read


READERS = {
    ".txt": _by_content(read_plain),
    ".md": _by_content(read_markdown),
    ".markdown": _by_content(read_markdown),
    ".html": _by_content(read_html),
    ".htm": _by_content(read_html),
    ".pdf": read_pdf,
    ".docx": read_docx,
}
