"""What a policy library adds after search (issue 26): versions and jurisdictions.

* **Versions** (:func:`current_first`, :func:`version_info`): documents the ingest grouped as
  versions of one document (``Manifest.versions``, oldest first; retrieval/filters.py). An
  older version ranked above a newer one of its group is moved to just below it, unless the
  question asks about the past (``修订前``, ``旧版``, ``原来``, ``2016年的规定`` naming the
  older version's year); every result of an older version carries ``superseded_by`` (the
  newest version's doc_id) and the date that version takes effect.
* **Jurisdictions and dates** (:func:`mismatch`): a question naming a place (天津, 河北省) or
  a time (``2023年以后出台的``) that no cited document matches gets a note, and is not
  confident when the top result is another place's rule or out of the asked-for time. A
  national document (国家) answering a question about a place is said so in the note but
  keeps its confidence: a national law applies there too.

Pure functions over passages/results and ``DocMeta``; the engine calls them after ranking
(confidence is computed before, on what it was fitted on).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from difflib import SequenceMatcher
from typing import TypeVar

from corpus import metadata
from retrieval.answer import Result
from retrieval.filters import DocMeta, Filters

P = TypeVar("P")

PAST = re.compile(
    r"修订前|修正前|修改前|旧版|老版|原来|原先|以前的规定|之前的规定|过去的规定|曾经|旧的"
)
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_DOC_WORDS = (  # 2023年以后出台的…, 2010年以前的规定, 2016年的上海市消防条例 (a name between)
    r"(?:出台|发布|制定|颁布|印发|公布|通过|施行|实施|修订|修正|生效"
    r"|的[\u4e00-\u9fff]{0,16}?(?:规定|条例|办法|文件|政策|法规|规章|版本|版))"
)
_SINCE = re.compile(rf"((?:19|20)\d{{2}})\s*年(?:以后|以来|之后|后|起)(?:新)?{_DOC_WORDS}")
_UNTIL = re.compile(rf"((?:19|20)\d{{2}})\s*年(?:以前|之前|前){_DOC_WORDS}")
_IN_YEAR = re.compile(rf"((?:19|20)\d{{2}})\s*年(?:\d{{1,2}}\s*月)?{_DOC_WORDS}")
RULE_TYPES = frozenset(
    ["条例", "规定", "办法", "实施细则", "细则", "规则", "决定", "法", "解释", "规范", "标准"]
)
"""Kinds of document that are a jurisdiction's rule (a news page or a plan is not)."""


def is_rule(meta: DocMeta) -> bool:
    """Whether a document is a jurisdiction's rule (its place matters), not a page or plan."""
    return meta.doc_type in RULE_TYPES


def newest_of(groups: Sequence[Sequence[str]]) -> dict[str, tuple[str, int, int]]:
    """doc_id -> (newest doc_id of its group, its place in the group, group size)."""
    out = {}
    for ids in groups:
        for place, doc_id in enumerate(ids):
            out[doc_id] = (ids[-1], place, len(ids))
    return out


def asks_past(question: str, meta: DocMeta | None, newest: DocMeta | None) -> bool:
    """Whether ``question`` asks about an older version: 修订前/旧版/原来…, or a year that is
    the older version's (``meta``) and not the newest's."""
    return bool(PAST.search(question)) or names_year(years_named(question), meta, newest)


def years_named(question: str) -> set[str]:
    """The years a question names (``2007年的反垄断法`` → {"2007"})."""
    return set(_YEAR.findall(question))


def names_year(years: set[str], meta: DocMeta | None, newest: DocMeta | None) -> bool:
    """Whether ``years`` (:func:`years_named`) hold a year of the older version ``meta`` and
    none of its group's newest version."""
    return bool(years & years_of(meta)) and not years & years_of(newest)


def years_of(meta: DocMeta | None) -> set[str]:
    """The years a version is known by: of its publication and of its effective date
    (反垄断法 2007: adopted 2007-08-30, in force 2008-08-01)."""
    return {d[:4] for d in (meta.date, meta.effective_date) if d} if meta else set()


def current_first(
    passages: list[P],
    groups: Sequence[Sequence[str]],
    metas: Mapping[str, DocMeta],
    question: str,
) -> list[P]:
    """``passages`` with each older version that ranks above a newer version of its group
    moved to just below the first passage of a newer one (their order otherwise kept)."""
    if not groups or len(passages) < 2:
        return passages
    where = newest_of(groups)
    held: list[tuple[P, str, int]] = []
    out: list[P] = []
    for i, p in enumerate(passages):
        entry = where.get(p.doc_id)
        if entry is not None:
            newest, place, size = entry
            later = [
                where[q.doc_id][1]
                for q in passages[i + 1 :]
                if q.doc_id in where and where[q.doc_id][0] == newest
            ]
            past = asks_past(question, metas.get(p.doc_id), metas.get(newest))
            if place < size - 1 and not past and any(v > place for v in later):
                held.append((p, newest, place))
                continue
        out.append(p)
        if entry is not None and held:
            release = [h for h in held if h[1] == entry[0] and h[2] < entry[1]]
            out.extend(h[0] for h in release)
            held = [h for h in held if not any(h is r for r in release)]
    out.extend(h[0] for h in held)
    return out


def named_first(passages: list[P], named: Sequence[str]) -> list[P]:
    """``passages`` with those of the documents the question names by title
    (:func:`retrieval.query.articles.documents_named`) first, each group in its order."""
    if not named:
        return passages
    wanted = set(named)
    return [p for p in passages if p.doc_id in wanted] + [
        p for p in passages if p.doc_id not in wanted
    ]


def place_first(passages: list[P], places: Sequence[str], metas: Mapping[str, DocMeta]) -> list[P]:
    """``passages`` with the documents of a place the question names (``places``) moved
    ahead of other places' rules: only the ranks those two kinds hold are reordered, so a
    national law or a page of no jurisdiction keeps its rank (``在河南，…婚假`` gets
    河南's regulation before 山东's, not before the 婚姻法 that ranked above both)."""
    if not places or not metas:
        return passages
    wanted = set(places)

    def kind(p: P) -> int:  # 0: the named place's, 1: another place's rule, 2: neither
        meta = metas.get(p.doc_id)
        if meta is None or not meta.region:
            return 2
        if meta.region in wanted:
            return 0
        other = meta.region != metadata.NATIONAL and is_rule(meta)
        return 1 if other else 2

    kinds = [kind(p) for p in passages]
    if 0 not in kinds or 1 not in kinds[: kinds.index(0)]:
        return passages  # nothing of the place, or it already comes before the others
    slots = [i for i, k in enumerate(kinds) if k < 2]
    moved = sorted(slots, key=lambda i: kinds[i])  # stable: the place's first, in order
    out = list(passages)
    for slot, i in zip(slots, moved, strict=True):
        out[slot] = passages[i]
    return out


VERBATIM_RUN = 8  # characters of the question a rule's passage must repeat verbatim …
VERBATIM_MARGIN = 4  # … and by how many more than the first passage of its document
VERBATIM_DEPTH = 5  # among the first ranks


def verbatim_first(
    passages: list[P],
    question: str,
    text_of: Callable[[P], str],
    metas: Mapping[str, DocMeta],
) -> list[P]:
    """``passages`` with the top document's passage that repeats the longest run of the
    question verbatim moved to that document's first rank, when the document is a rule and
    the run is at least :data:`VERBATIM_RUN` characters and :data:`VERBATIM_MARGIN` longer
    than its first passage's. An article answers in the rule's own words:
    ``公司法规定有限责任公司董事会成员为多少人`` is 第六十八条
    (``有限责任公司董事会成员为三人以上``), not the 第七十五条 that search ranked first.
    ``text_of`` gives a passage's search key."""
    head = _rule_head(passages, metas)
    if len(head) < 2:
        return passages
    runs = {i: _longest_run(question, text_of(passages[i])) for i in head}
    best = max(head, key=lambda i: (runs[i], -i))
    if best == head[0] or runs[best] < max(VERBATIM_RUN, runs[head[0]] + VERBATIM_MARGIN):
        return passages
    return _raised(passages, best, head[0])


def typed_first(
    passages: list[P], lacks: Callable[[P], bool], metas: Mapping[str, DocMeta]
) -> list[P]:
    """``passages`` with the top document's first passage that holds the kind of thing the
    question asks for (a number of days, an age, a date: ``lacks`` says it does not) moved
    to that document's first rank, when the document is a rule and its first passage lacks
    it (among the first :data:`VERBATIM_DEPTH` ranks). ``义务教育法规定儿童年满多少岁…``: the
    article stating 六周岁, not the one on 适龄儿童's rights that search ranked first."""
    head = _rule_head(passages, metas)
    if len(head) < 2 or not lacks(passages[head[0]]):
        return passages
    found = next((i for i in head[1:] if not lacks(passages[i])), None)
    return passages if found is None else _raised(passages, found, head[0])


def _rule_head(passages: Sequence[P], metas: Mapping[str, DocMeta]) -> list[int]:
    """The ranks, among the first :data:`VERBATIM_DEPTH`, of the top document's passages when
    that document is a rule; none otherwise."""
    if len(passages) < 2 or not is_rule(metas.get(passages[0].doc_id) or DocMeta()):
        return []
    top = passages[0].doc_id
    return [i for i, p in enumerate(passages[:VERBATIM_DEPTH]) if p.doc_id == top]


def _raised(passages: list[P], rank: int, to: int) -> list[P]:
    """``passages`` with the one at ``rank`` moved up to ``to`` (the others keep their order)."""
    out = list(passages)
    out.insert(to, out.pop(rank))
    return out


def _longest_run(a: str, b: str) -> int:
    """Length of the longest string ``a`` and ``b`` share."""
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def past_first(
    passages: list[P],
    groups: Sequence[Sequence[str]],
    metas: Mapping[str, DocMeta],
    question: str,
) -> list[P]:
    """``passages`` with the older version a question about the past asks for moved just
    above the other versions of its group: the one of the year it names (``2007年的反垄断法``),
    else, for 修订前/旧版/原来…, the version before the newest. Each group's first passage of
    that version moves; nothing else does."""
    if not groups or len(passages) < 2:
        return passages
    years = years_named(question)
    past_words = bool(PAST.search(question))
    if not years and not past_words:
        return passages
    out = list(passages)
    for ids in groups:
        newest = metas.get(ids[-1])
        by_year = [d for d in ids[:-1] if names_year(years, metas.get(d), newest)]
        wanted = by_year[-1] if by_year else None
        if wanted is None and past_words:
            wanted = ids[-2]
        if wanted is None:
            continue
        members = set(ids)
        at = [i for i, p in enumerate(out) if p.doc_id in members]
        mine = next((i for i in at if out[i].doc_id == wanted), None)
        if mine is None or mine == at[0]:
            continue
        out.insert(at[0], out.pop(mine))
    return out


def version_info(
    results: list[Result], groups: Sequence[Sequence[str]], metas: Mapping[str, DocMeta]
) -> list[Result]:
    """``results`` with ``superseded_by``/``superseded_date`` set on older versions and each
    result's ``effective_date`` and ``region``."""
    where = newest_of(groups)
    out = []
    for r in results:
        meta = metas.get(r.doc_id) or DocMeta()
        changes: dict = {"effective_date": meta.effective_date, "region": meta.region}
        entry = where.get(r.doc_id)
        if entry is not None and entry[0] != r.doc_id:
            newest = metas.get(entry[0]) or DocMeta()
            changes |= {"superseded_by": entry[0], "superseded_date": newest.when}
        out.append(replace(r, **changes))
    return out


def asked_period(question: str) -> tuple[str | None, str | None, str] | None:
    """(since, until, as the question says it) of a time the question asks documents of:
    ``2023年以后出台的`` → (2023-01-01, None, 2023年以后), ``2020年发布的`` → the year."""
    if found := _SINCE.search(question):
        year = found.group(1)
        return f"{year}-01-01", None, f"{year}年以后"
    if found := _UNTIL.search(question):
        year = found.group(1)
        return None, f"{int(year) - 1}-12-31", f"{year}年以前"
    if found := _IN_YEAR.search(question):
        year = found.group(1)
        return f"{year}-01-01", f"{year}-12-31", f"{year}年"
    return None


def asked_places(question: str, filters: Filters | None = None) -> list[str]:
    """The places a question asks about (:func:`corpus.metadata.places_named`), none under a
    ``--region`` filter: the filter has chosen the place."""
    return [] if filters and filters.region else metadata.places_named(question)


def _place_name(region: str | None) -> str:
    if region == metadata.NATIONAL:
        return "国家层面"
    return metadata.PLACES.get(region or "", region or "其他地区")


def mismatch(
    question: str,
    results: Sequence[Result],
    metas: Mapping[str, DocMeta],
    filters: Filters | None = None,
) -> tuple[str | None, bool]:
    """(a note for the reader, whether the answer may stay confident) for a question naming
    a place or a time no cited document matches (see the module's docstring)."""
    if not results:
        return None, True
    cited = [metas.get(r.doc_id) or DocMeta() for r in results]
    top = cited[0]
    notes: list[str] = []
    trusted = True
    places = asked_places(question, filters)
    regions = {m.region for m in cited}
    if places and top.region and not regions & set(places):
        asked = "、".join(metadata.PLACES[p] for p in places)
        if top.region == metadata.NATIONAL:
            notes.append(f"收录的文件中没有{asked}的地方性规定；以下是国家层面的规定")
        elif is_rule(top) and top.region not in places:
            notes.append(
                f"收录的文件中没有{asked}的相关规定；以下是{_place_name(top.region)}的规定"
            )
            trusted = False
    period = None if filters and (filters.since or filters.until) else asked_period(question)
    if period is not None:
        since, until, said = period
        dates = [m.date or m.effective_date for m in cited]
        inside = [d for d in dates if d and (not since or d >= since) and (not until or d <= until)]
        top_date = dates[0]
        if top_date and not inside:
            notes.append(f"收录的文件中没有{said}出台的相关规定；以下是{top_date[:4]}年的规定")
            trusted = False
    return ("；".join(notes) if notes else None), trusted
