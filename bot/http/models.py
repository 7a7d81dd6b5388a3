"""Request and response types (they also write the OpenAPI page at ``/docs``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_QUESTION_CHARS = 1000  # the engine reads the first 500 (``truncated``); longer is refused
MAX_TOP_K = 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- /api/ask: exactly ``ask --json``'s contract, plus off_topic ----------------------------


class Filters(Strict):
    """Answer only from these documents / dates / issuers / jurisdictions / kinds (pushed
    down into the search); ``source`` is applied to the first 50 results afterwards."""

    doc_ids: list[str] | None = Field(None, description="only these documents")
    date_from: str | None = Field(None, description="YYYY-MM-DD, inclusive")
    date_to: str | None = Field(None, description="YYYY-MM-DD, inclusive")
    source: str | None = Field(None, description="text the document's source contains")
    issuer: str | None = Field(None, description="text the issuing body contains")
    region: str | None = Field(None, description="jurisdiction: 天津, 河北省, 国家 …")
    type: str | None = Field(None, description="kind of document: 条例, 办法 …")


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)
    filters: Filters | None = None


class ResultModel(BaseModel):
    """One cited excerpt: ``excerpt`` is the document's clean text from ``start`` to ``end``;
    ``marks`` are ``[start, end]`` offsets of the answering sentence(s) inside ``excerpt``."""

    model_config = ConfigDict(extra="allow")

    rank: int
    doc_id: str
    title: str
    date: str | None
    source: str | None
    score: float
    excerpt: str
    start: int
    end: int
    marks: list[list[int]]
    section: str | None
    article: str | None
    doc_number: str | None
    issuer: str | None


class AskResponse(BaseModel):
    """``python -m bot ask --json``'s contract plus ``off_topic``. A question over 500
    characters is searched by its first 500: ``question`` is then those, and the extra
    field ``truncated`` is ``true`` (absent otherwise), as ``ask --json`` gives it."""

    model_config = ConfigDict(extra="allow")

    question: str
    confident: bool
    results: list[ResultModel]
    off_topic: bool


# -- /api/sources, /api/documents, /api/feedback --------------------------------------------


class SourceModel(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    chars: int


class SourcesPage(BaseModel):
    total: int = Field(description="documents matching the filter")
    offset: int
    limit: int
    sources: list[SourceModel]


class DocumentModel(SourceModel):
    """A document with its clean text: a result's ``start``/``end`` index into ``text``."""

    doc_number: str | None
    issuer: str | None
    version: str
    text: str


class FeedbackRequest(Strict):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    doc_id: str = Field(min_length=1, max_length=1000)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    vote: Literal["up", "down"]
    rank: int | None = Field(None, ge=1)


class FeedbackResponse(BaseModel):
    stored: bool


# -- /healthz, /readyz ----------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    version: str
    documents: int
    chunks: int
    model: str


# -- Dify's External Knowledge API (POST /retrieval) --------------------------------------


class RetrievalSetting(BaseModel):
    top_k: int = Field(ge=1, le=100)
    score_threshold: float = Field(0.0, ge=0.0, le=1.0)


class Condition(BaseModel):
    name: list[str] | str
    comparison_operator: str
    value: str | float | list[str] | None = None


class MetadataCondition(BaseModel):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[Condition] = Field(default_factory=list)


class RetrievalRequest(BaseModel):
    knowledge_id: str
    query: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataCondition | None = None


class Record(BaseModel):
    content: str
    score: float
    title: str
    metadata: dict[str, Any]


class RetrievalResponse(BaseModel):
    records: list[Record]


# -- OpenAI-compatible chat (/v1) -----------------------------------------------------------


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat request; sampling options are accepted and ignored (nothing is
    generated). ``top_k`` (an extension) sets how many results the answer shows."""

    model_config = ConfigDict(extra="allow")

    model: str = "qabot"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)
