"""Document metadata for filters and versions, the same for every backend (issue 26).

At ingest each backend calls :func:`catalogue` on the whole corpus: every document's
:class:`DocMeta` (dates, issuer, jurisdiction, kind, 令号; what the file states, else what
its text states, see :func:`corpus.structure.info_of`) and its **version groups**
(:func:`version_groups`). Both go into the version's manifest (``document_meta``,
``versions``), so a reader has them without reading a document.

A :class:`Filters` selects documents by those fields; backends turn the selected documents
into a candidate filter (FAISS ID selector and BM25 row mask locally, a ``doc_key``
expression in Milvus), so a filtered search is exact: the same top results as an
unfiltered search deep enough, filtered afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from corpus import metadata
from corpus.document import Document

META_VERSION = 3
"""The layout of ``document_meta`` in a manifest and how version groups are read (2: only
groups of two or more dates; 3: amendments (修正案) are not versions): a manifest with an
older one (or none) is published again by the next ingest, with its metadata computed
(nothing is re-chunked or re-embedded)."""
AMENDMENT = "修正案"


@dataclass(frozen=True)
class DocMeta:
    """What filters and versions read of one document ("" never: None where unknown).

    ``date`` is the publication date, ``effective_date`` the 施行日期 (YYYY-MM-DD);
    ``region`` the jurisdiction (``国家`` or a place of :data:`corpus.metadata.PLACES`)."""

    date: str | None = None
    effective_date: str | None = None
    issuer: str | None = None
    region: str | None = None
    doc_type: str | None = None
    order_number: str | None = None

    def to_list(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def from_list(cls, values: Sequence) -> DocMeta:
        return cls(*values[: len(fields(cls))])

    @property
    def when(self) -> str | None:
        """The date a version is ordered by: the later of its publication and effective
        dates (a revision's file often states the original 施行日期 beside its own date)."""
        dates = [d for d in (self.date, self.effective_date) if d]
        return max(dates) if dates else None


def doc_meta(doc: Document) -> DocMeta:
    """The document's metadata as filters read it."""
    from corpus.structure import info_of

    info = info_of(doc)
    return DocMeta(
        date=doc.date,
        effective_date=info.effective_date,
        issuer=info.issuer,
        region=metadata.region_of(info.issuer, doc.title),
        doc_type=info.doc_type,
        order_number=info.order_number,
    )


def version_groups(docs: Iterable[tuple[str, str, DocMeta]]) -> list[list[str]]:
    """Versions of one document: (doc_id, title, meta) with the same
    :func:`corpus.metadata.version_title` and the same issuer (by
    :func:`corpus.metadata.issuer_key`; a document without an issuer joins the group of its
    title when only one issuer has it), oldest first (by effective date, else publication
    date; undated first). Only groups holding two or more dates are returned (the
    paragraphs of one article, undated and sharing its title, are not versions of it), in
    corpus order of their first member. Amendments sharing a title (宪法修正案) are none."""
    by_title: dict[str, list[tuple[int, str, DocMeta]]] = {}
    for order, (doc_id, title, meta) in enumerate(docs):
        by_title.setdefault(metadata.version_title(title), []).append((order, doc_id, meta))
    groups: list[tuple[int, list[str]]] = []
    for title, members in by_title.items():
        if len(members) < 2 or title.endswith(AMENDMENT):
            continue  # 宪法修正案 1988, 1993 …: each adds to the text, none replaces another
        by_issuer: dict[str | None, list[tuple[int, str, DocMeta]]] = {}
        for m in members:
            key = metadata.issuer_key(m[2].issuer)
            by_issuer.setdefault(_fold(key) if key else None, []).append(m)
        unknown = by_issuer.pop(None, [])
        if unknown and len(by_issuer) <= 1:
            only = next(iter(by_issuer), None)
            by_issuer.setdefault(only, []).extend(unknown)
        for part in by_issuer.values():
            if len({m[2].when for m in part} - {None}) < 2:
                continue  # undated, or of one date: parts or copies of one text, not versions
            part.sort(key=lambda m: (m[2].when or "", m[0]))
            groups.append((min(m[0] for m in part), [m[1] for m in part]))
    return [ids for _, ids in sorted(groups)]


def catalogue(documents: Sequence[Document]) -> tuple[dict[str, list], list[list[str]]]:
    """(``document_meta``, ``versions``) of a manifest, for ``documents`` (the whole corpus)."""
    metas = {doc.doc_id: doc_meta(doc) for doc in documents}
    groups = version_groups((d.doc_id, d.title, metas[d.doc_id]) for d in documents)
    return {doc_id: m.to_list() for doc_id, m in metas.items()}, groups


def describe_groups(
    groups: Sequence[Sequence[str]], titles: Mapping[str, str], metas: Mapping[str, list]
) -> list[str]:
    """One line per version group, for ingest's report: ``《X条例》 2016 → 2022``."""
    lines = []
    for ids in groups:
        years = [(DocMeta.from_list(metas.get(i, [])).when or "?")[:4] for i in ids]
        title = metadata.version_title(titles.get(ids[-1], ids[-1]))
        lines.append(f"《{title}》 " + " → ".join(years))
    return lines


def _fold(text: str) -> str:
    from corpus.normalize import search_key

    return search_key(text)


_DATE = re.compile(r"^\s*(\d{4})年?(?:[-./年](\d{1,2})月?(?:[-./月]?(\d{1,2})日?)?)?\s*$")


def parse_date(value: str | None, end: bool = False) -> str | None:
    """``2020``, ``2020-05``, ``2020-05-01``, ``2020年5月`` as YYYY-MM-DD (the first day, or
    with ``end`` the last day of what it names); ValueError for anything else."""
    if value is None or not str(value).strip():
        return None
    match = _DATE.match(str(value))
    if not match:
        raise ValueError(f"not a date: {value!r} (write 2020, 2020-05 or 2020-05-01)")
    year, month, day = match.group(1), match.group(2), match.group(3)
    if month is None:
        return f"{year}-12-31" if end else f"{year}-01-01"
    if day is None:
        return f"{year}-{int(month):02d}-31" if end else f"{year}-{int(month):02d}-01"
    return f"{year}-{int(month):02d}-{int(day):02d}"


def region_key(value: str) -> str:
    """A --region value as document regions are stored: ``天津市``/``天津``/``Tianjin`` → ``天津``,
    ``全国``/``national``/``国家`` → ``国家``."""
    folded = _fold(value.strip())
    if folded in ("国家", "全国", "中央", "national", "country", "cn", "china"):
        return metadata.NATIONAL
    return metadata.place_in(folded) or metadata.ENGLISH_PLACES.get(folded) or folded


@dataclass(frozen=True)
class Filters:
    """Which documents a question is answered from; an empty one selects every document.

    ``since``/``until`` (YYYY-MM-DD, inclusive) bound the publication date (the effective
    date where none is known; an undated document is left out by a date bound); ``issuer``
    is a part of the issuer (term numbers and traditional characters ignored); ``region``
    the jurisdiction (``天津``, ``天津市``, ``国家``); ``doc_type`` the kind (条例, 办法 …)."""

    since: str | None = None
    until: str | None = None
    issuer: str | None = None
    region: str | None = None
    doc_type: str | None = None
    doc_ids: frozenset[str] | None = None  # only these documents (the HTTP API's filter)

    @classmethod
    def of(
        cls,
        since: str | None = None,
        until: str | None = None,
        issuer: str | None = None,
        region: str | None = None,
        doc_type: str | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> Filters:
        """Filters from what a user typed (dates in any form :func:`parse_date` reads);
        ValueError for a date it cannot read."""
        return cls(
            since=parse_date(since),
            until=parse_date(until, end=True),
            issuer=(issuer or "").strip() or None,
            region=region_key(region) if region and region.strip() else None,
            doc_type=(doc_type or "").strip() or None,
            doc_ids=frozenset(doc_ids) if doc_ids is not None else None,
        )

    def __bool__(self) -> bool:
        chosen = (self.since, self.until, self.issuer, self.region, self.doc_type)
        return any(chosen) or self.doc_ids is not None

    def describe(self) -> str:
        """``地区 天津 · 2020-01-01 起 · …`` for a reply's header."""
        parts = []
        if self.region:
            parts.append(f"地区 {self.region}")
        if self.since:
            parts.append(f"{self.since} 起")
        if self.until:
            parts.append(f"至 {self.until}")
        if self.issuer:
            parts.append(f"发布机关 {self.issuer}")
        if self.doc_type:
            parts.append(f"类型 {self.doc_type}")
        if self.doc_ids is not None:
            parts.append(f"{len(self.doc_ids)} 篇指定文件")
        return " · ".join(parts)

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        if self.doc_ids is not None:
            out["doc_ids"] = sorted(self.doc_ids)
        return out

    def matches(self, meta: DocMeta) -> bool:
        if self.since or self.until:
            when = meta.date or meta.effective_date
            if not when or (self.since and when < self.since):
                return False
            if self.until and when > self.until:
                return False
        if self.region and meta.region != self.region:
            return False
        if self.issuer:
            have = metadata.issuer_key(meta.issuer)
            want = metadata.issuer_key(self.issuer)
            if not have or not want or _fold(want) not in _fold(have):
                return False
        if self.doc_type:
            want = _fold(self.doc_type)
            if not meta.doc_type or want not in _fold(meta.doc_type):
                return False
        return True

    def select(self, metas: Mapping[str, DocMeta]) -> set[str]:
        """The doc_ids of ``metas`` these filters keep."""
        ids = metas.keys() if self.doc_ids is None else self.doc_ids & metas.keys()
        return {doc_id for doc_id in ids if self.matches(metas[doc_id])}


def metas_of(manifest) -> dict[str, DocMeta]:
    """The manifest's ``document_meta`` read as :class:`DocMeta` (empty: an index ingested
    before issue 26; every document then has unknown metadata)."""
    stored = getattr(manifest, "document_meta", None) or {}
    return {doc_id: DocMeta.from_list(stored.get(doc_id, [])) for doc_id in manifest.documents}
