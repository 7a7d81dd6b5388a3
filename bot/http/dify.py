"""Dify's External Knowledge API: ``POST /retrieval``, so Dify (and RAGFlow, FastGPT …)
can use this bot as a knowledge source.

Request ``{knowledge_id, query, retrieval_setting: {top_k, score_threshold},
metadata_condition?}``; response ``{records: [{content, score, title, metadata}]}``.
``content`` is the verbatim excerpt; ``metadata`` carries the citation (doc_id, date,
source, section, article, doc_number, issuer), where the excerpt stands (start, end),
the answering sentences (marks) and a ready citation line. Errors are
``{error_code, error_msg}``: 1001 bad Authorization header and 1002 unknown key (HTTP 403,
see guard.py), 2001 unknown knowledge_id (HTTP 404). An off-topic question gets no records,
as the bot shows no passages for it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer

from bot import answer_layout as layout
from retrieval import Answer, Result

from .errors import ApiError
from .models import Condition, MetadataCondition, RetrievalRequest, RetrievalResponse
from .service import EngineService

router = APIRouter(tags=["dify"], dependencies=[Depends(HTTPBearer(auto_error=False))])
FILTERED_DEPTH = 50  # results looked through when metadata_condition filters them


def _citation(r: Result) -> str:
    parts = [layout.titled(r), layout.where(r), r.date, r.source, layout.issuer(r)]
    return " · ".join(p for p in parts if p)


def metadata(r: Result, answer: Answer) -> dict[str, Any]:
    """A record's metadata: Dify wants an object; fields a document lacks are left out."""
    data = {
        "doc_id": r.doc_id,
        "title": r.title,
        "date": r.date,
        "source": r.source,
        "section": r.section,
        "article": r.article,
        "doc_number": r.doc_number,
        "issuer": r.issuer,
        "citation": _citation(r),
        "rank": r.rank,
        "start": r.start,
        "end": r.end,
        "marks": [list(m) for m in r.marks],
        "answer": " … ".join(r.excerpt[a:b] for a, b in layout.merge(r.marks, len(r.excerpt))),
        "confident": answer.confident,
    }
    return {k: v for k, v in data.items() if v is not None}


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _holds(meta: dict[str, Any], condition: Condition) -> bool:
    """One of Dify's comparison operators against each named metadata field (any holds)."""
    names = [condition.name] if isinstance(condition.name, str) else condition.name
    op, want = condition.comparison_operator.strip().lower(), condition.value
    for name in names:
        have = meta.get(name)
        text = "" if have is None else str(have)
        if op in ("empty", "null") and not text or op in ("not empty", "not null") and text:
            return True
        if want is None:
            continue
        wanted = [str(w) for w in want] if isinstance(want, list) else [str(want)]
        first = wanted[0]
        number, bound = _number(have), _number(first)
        checks = {
            "contains": first in text,
            "not contains": first not in text,
            "start with": text.startswith(first),
            "end with": text.endswith(first),
            "is": text == first,
            "is not": text != first,
            "in": text in wanted,
            "not in": text not in wanted,
            "before": bool(text) and text < first,
            "after": bool(text) and text > first,
        }
        if number is not None and bound is not None:
            checks |= {
                "=": number == bound,
                "≠": number != bound,
                ">": number > bound,
                "<": number < bound,
                "≥": number >= bound,
                "≤": number <= bound,
            }
        if checks.get(op, False):
            return True
    return False


def matches(meta: dict[str, Any], condition: MetadataCondition | None) -> bool:
    if condition is None or not condition.conditions:
        return True
    found = (_holds(meta, c) for c in condition.conditions)
    return any(found) if condition.logical_operator == "or" else all(found)


@router.post(
    "/retrieval",
    response_model=RetrievalResponse,
    summary="Dify External Knowledge API",
    responses={403: {"description": "error_code 1001 or 1002"}, 404: {"description": "2001"}},
)
async def retrieval(body: RetrievalRequest, request: Request) -> dict:
    settings = request.app.state.settings
    if body.knowledge_id != settings.knowledge_id:
        raise ApiError(
            404,
            "unknown_knowledge",
            f"The knowledge does not exist: {body.knowledge_id!r} "
            f"(this server's knowledge_id is {settings.knowledge_id!r})",
            dify_code=2001,
        )
    engine: EngineService = request.app.state.service
    setting = body.retrieval_setting
    depth = setting.top_k if body.metadata_condition is None else max(FILTERED_DEPTH, setting.top_k)
    answer = await engine.ask(body.query, depth)
    if answer.off_topic:  # its words occur nowhere in the documents: nothing to quote
        return {"records": []}
    records = []
    for r in answer.results:
        meta = metadata(r, answer)
        score = min(1.0, max(0.0, r.score))
        if score < setting.score_threshold or not matches(meta, body.metadata_condition):
            continue
        records.append({"content": r.excerpt, "score": score, "title": r.title, "metadata": meta})
    return {"records": records[: setting.top_k]}
