"""The document type every other part of the project consumes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

STATED_FIELDS = ("issuer", "doc_number", "order_number", "effective_date", "doc_type")
"""Metadata a file states about itself beyond title/source/date/url (its head, a sidecar,
a JSONL record); None where it states nothing (the text may still: see
:func:`corpus.structure.info_of`)."""


@dataclass(frozen=True)
class Document:
    """One cleaned document; excerpts quote ``text`` verbatim and offsets index into it.

    ``date`` is the publication date (公布日期, YYYY-MM-DD), ``effective_date`` the date
    it takes effect (施行日期), ``issuer`` its issuing body (发布机关), ``doc_number`` its
    文号, ``order_number`` its 令号 and ``doc_type`` its kind (条例, 办法, 部门规章 …) as
    the file states them.
    """

    doc_id: str
    title: str
    text: str
    source: str | None = None
    date: str | None = None
    url: str | None = None
    issuer: str | None = None
    doc_number: str | None = None
    order_number: str | None = None
    effective_date: str | None = None
    doc_type: str | None = None

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 hex of title, text, source, date and url (not the doc_id), and of the
        stated fields that are set: a document without them hashes as it did before
        they existed, so an existing index does not re-embed it."""
        payload: list[object] = [self.title, self.text, self.source, self.date, self.url]
        stated = {name: getattr(self, name) for name in STATED_FIELDS}
        stated = {name: value for name, value in stated.items() if value is not None}
        if stated:
            payload.append(stated)
        encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
