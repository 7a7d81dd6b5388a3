"""What may be shown: no control or bidi-override characters, bounded metadata, http(s) URLs.

A terminal runs escape sequences it is sent, and a right-to-left override turns a citation
around, so these characters never reach a screen. Loading applies :func:`sanitize_document`
(with a warning for each change); the renderers apply :func:`shown` and :func:`shown_text`
again, so an index built before this check is safe to show too.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from corpus.document import STATED_FIELDS, Document

TITLE_MAX = 200
SOURCE_MAX = 200
URL_MAX = 2000
DOC_ID_MAX = 500
# C0 (but tab/newline), DEL, C1, bidi marks, embeddings, overrides and isolates, BOM.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"[\t\n]+")
# What escaped() spells out: the controls above, tab, newline and the line separators.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ID_SPACES = " \t\n\r"  # str.strip() would also take \x1c-\x1f, which must stay distinct


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    return _SHORT.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escaped(value: str) -> str:
    """``value`` with every control, line break and bidi character spelt out (``\\x1b``,
    ``\\n``, ``\\u202e``): a file name as a terminal may print it, one line, unforged."""
    return _UNSAFE.sub(_escape, value)


def clean_doc_id(value: str) -> str:
    """A doc_id as the index keeps it: surrounding spaces and line breaks stripped, other
    controls escaped, not removed (two names differing only by one still differ), capped."""
    return _cap(escaped(value.strip(_ID_SPACES)), DOC_ID_MAX) or ""


def shown(value: str | None) -> str | None:
    """One line of metadata as it may be shown: controls removed, line breaks made spaces."""
    if value is None:
        return None
    return _SPACES.sub(" ", _CONTROLS.sub("", value)).strip()


def shown_text(text: str) -> str:
    """Body text as it may be shown: each control becomes a space, so offsets stay valid."""
    return _CONTROLS.sub(" ", text)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL with a host (and no controls or spaces), else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    ok = parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
    if not ok or len(url) > URL_MAX or _CONTROLS.search(url) or any(c.isspace() for c in url):
        return None
    return url


def _cap(value: str | None, limit: int) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + "…"


def sanitize_document(doc: Document) -> tuple[Document, list[str]]:
    """The document with showable metadata and text, and a warning for each change."""
    warnings: list[str] = []
    text = _CONTROLS.sub("", doc.text)
    if text != doc.text:
        warnings.append("control characters removed from the text")
    fields = {"doc_id": clean_doc_id(doc.doc_id)}
    raw_id = escaped(doc.doc_id.strip(_ID_SPACES))
    if raw_id != doc.doc_id.strip(_ID_SPACES):
        warnings.append(f"control characters in the doc_id are kept escaped: {fields['doc_id']}")
    if len(raw_id) > DOC_ID_MAX:
        warnings.append(f"doc_id cut to {DOC_ID_MAX} characters (it had {len(raw_id)})")
    limits = [("title", TITLE_MAX), ("source", SOURCE_MAX)]
    for name, limit in [*limits, *((name, SOURCE_MAX) for name in STATED_FIELDS)]:
        value = getattr(doc, name)
        clean = shown(value)
        if clean != value and value is not None and clean == _SPACES.sub(" ", value).strip():
            pass  # only surrounding or inner line breaks: not worth a warning
        elif clean != value:
            warnings.append(f"control characters removed from the {name}")
        capped = _cap(clean, limit)
        if capped != clean:
            warnings.append(f"{name} cut to {limit} characters (it had {len(clean or '')})")
        fields[name] = capped
    if not fields["title"]:
        fields["title"] = fields["doc_id"] or "(untitled)"
    url = doc.url
    if url is not None and safe_url(url.strip()) is None:
        warnings.append(
            f"url dropped (only http:// and https:// links are kept): {shown(url)[:80]}"
        )
        url = None
    elif url is not None:
        url = url.strip()
    return replace(doc, text=text, url=url, **fields), warnings
