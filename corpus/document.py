"""The document type every other part of the project consumes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Document:
    """One cleaned document; excerpts quote ``text`` verbatim and offsets index into it."""

    doc_id: str
    title: str
    text: str
    source: str | None = None
    date: str | None = None
    url: str | None = None

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 hex of title, text, source, date and url (not the doc_id)."""
        payload = json.dumps(
            [self.title, self.text, self.source, self.date, self.url],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
