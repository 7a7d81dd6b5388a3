"""``/api``: ask (``ask --json``'s contract plus ``off_topic``), sources, documents, feedback."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPBearer

from bot.question_limit import answer_json, shortened
from corpus.structure import info_of
from retrieval import Answer
from retrieval.filters import Filters as SearchFilters

from .errors import ApiError
from .guard import IDENTITY
from .models import (
    AskRequest,
    AskResponse,
    DocumentModel,
    FeedbackRequest,
    FeedbackResponse,
    Filters,
    SourcesPage,
)
from .service import EngineService

# The scheme is checked by guard.py before routing; declared here for the /docs page.
router = APIRouter(
    prefix="/api", tags=["api"], dependencies=[Depends(HTTPBearer(auto_error=False))]
)
FILTERED_DEPTH = 50  # results looked through for a filtered question


def service(request: Request) -> EngineService:
    return request.app.state.service


def pushed_down(filters: Filters) -> SearchFilters:
    """The request's filters as the search takes them (all but ``source``); a 422 for a
    date it cannot read."""
    try:
        return SearchFilters.of(
            since=filters.date_from,
            until=filters.date_to,
            issuer=filters.issuer,
            region=filters.region,
            doc_type=filters.type,
            doc_ids=filters.doc_ids,
        )
    except ValueError as exc:
        raise ApiError(422, "bad_filter", str(exc)) from None


def filtered(answer: Answer, filters: Filters, top_k: int) -> Answer:
    """The answer's results from a source ``filters.source`` names, the first ``top_k`` of
    them, ranked anew."""
    source = filters.source
    kept = [r for r in answer.results if not source or source in (r.source or "")][:top_k]
    results = [replace(r, rank=rank) for rank, r in enumerate(kept, start=1)]
    return replace(answer, results=results)


@router.post("/ask", response_model=AskResponse, summary="Answer a question")
async def ask(body: AskRequest, request: Request) -> dict:
    """The same JSON as ``python -m bot ask --json`` for the same index and question, plus
    ``off_topic``. With ``filters``, the first 50 results are filtered and ranked anew. A
    question over 500 characters is searched by its first 500: ``question`` is those, and
    ``truncated`` is true (as ``ask --json`` says it)."""
    engine = service(request)
    question, note = shortened(body.question)
    if body.filters is None:
        return answer_json(await engine.ask(question, body.top_k), note)
    search = pushed_down(body.filters)
    if not body.filters.source:
        return answer_json(await engine.ask(question, body.top_k, search), note)
    answer = await engine.ask(question, max(FILTERED_DEPTH, body.top_k), search)
    return answer_json(filtered(answer, body.filters, body.top_k), note)


@router.get("/sources", response_model=SourcesPage, summary="List the documents")
async def sources(
    request: Request,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
    q: str | None = Query(None, max_length=200, description="text in the title, id or source"),
    date_from: str | None = Query(None, description="YYYY-MM-DD, inclusive"),
    date_to: str | None = Query(None, description="YYYY-MM-DD, inclusive"),
) -> dict:
    found = await service(request).sources()
    if q:
        found = [s for s in found if q in f"{s.title}\n{s.doc_id}\n{s.source or ''}"]
    if date_from:
        found = [s for s in found if s.date and s.date >= date_from]
    if date_to:
        found = [s for s in found if s.date and s.date[: len(date_to)] <= date_to]
    page = found[offset : offset + limit]
    return {
        "total": len(found),
        "offset": offset,
        "limit": limit,
        "sources": [asdict(s) for s in page],
    }


@router.get("/documents/{doc_id:path}", response_model=DocumentModel, summary="One document")
async def document(doc_id: str, request: Request) -> dict:
    """Citation fields and the clean text: a result's ``start``/``end`` index into ``text``."""
    engine = service(request)
    doc = await engine.document(doc_id)
    if doc is None:
        raise ApiError(404, "unknown_document", f"no document {doc_id!r} in the index")
    info = info_of(doc)
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "date": doc.date,
        "source": doc.source,
        "url": doc.url,
        "chars": len(doc.text),
        "doc_number": info.doc_number,
        "issuer": info.issuer,
        "version": engine.ready().version,
        "text": doc.text,
    }


@router.post("/feedback", response_model=FeedbackResponse, summary="👍/👎 on a result")
async def feedback(body: FeedbackRequest, request: Request) -> dict:
    """Stored with the Telegram bot's votes (``python -m bot feedback`` shows both); a
    caller's later vote on the same result replaces the earlier one."""
    engine = service(request)
    doc = await engine.document(body.doc_id)
    if doc is None:
        raise ApiError(404, "unknown_document", f"no document {body.doc_id!r} in the index")
    if body.end <= body.start or body.end > len(doc.text):
        raise ApiError(422, "invalid_request", "start and end must be a span of the document")
    key = (
        "web-"
        + hashlib.sha1(
            f"{body.question}\0{body.doc_id}\0{body.start}\0{body.end}".encode()
        ).hexdigest()[:12]
    )
    shown = [
        {
            "rank": body.rank or 1,
            "doc_id": doc.doc_id,
            "title": doc.title,
            "start": body.start,
            "end": body.end,
        }
    ]
    votes = request.app.state.votes
    caller = "http:" + request.scope.get(IDENTITY, "anonymous")
    stored = await engine.run(
        votes.vote,
        key,
        caller,
        1 if body.vote == "up" else -1,
        body.question,
        shown,
        engine.ready().version,
    )
    if stored is False:  # the state file could not be written (BotState logs why)
        raise ApiError(503, "feedback_unavailable", "the vote could not be stored; try later")
    return {"stored": True}
