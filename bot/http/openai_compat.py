"""OpenAI-compatible chat: ``GET /v1/models`` and ``POST /v1/chat/completions`` (also with
``stream: true``, as server-sent events ending ``data: [DONE]``), so any OpenAI-compatible
chat client becomes a front end.

The reply is the bot's answer to the last user message rendered as Markdown
(:mod:`bot.http.markdown`), never generated text; the structured answer (``/api/ask``'s
JSON) rides along in the extra field ``qabot``. Sampling options are ignored. A question
over 500 characters is searched by its first 500, and the reply starts by saying so.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPBearer

from bot.question_limit import answer_json, shortened
from corpus.sanitize import shown

from .errors import ApiError
from .markdown import escape, render
from .models import ChatMessage, ChatRequest
from .service import EngineService

router = APIRouter(
    prefix="/v1", tags=["openai"], dependencies=[Depends(HTTPBearer(auto_error=False))]
)
MODEL = "qabot"
CREATED = 1_700_000_000  # a fixed "created" for the one model


def _text(message: ChatMessage) -> str:
    """A message's text: a string, or the text parts of a content list."""
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


def question_of(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            text = _text(message).strip()
            if text:
                return text
    raise ApiError(400, "no_question", "no user message with text: ask a question")


@router.get("/models", summary="The one model: the bot")
async def models() -> dict:
    return {
        "object": "list",
        "data": [{"id": MODEL, "object": "model", "created": CREATED, "owned_by": "qabot"}],
    }


@router.post("/chat/completions", summary="Answer the last user message")
async def chat(body: ChatRequest, request: Request):
    question, note = shortened(question_of(body.messages))
    engine: EngineService = request.app.state.service
    answer = await engine.ask(question, body.top_k)
    markdown, extra = render(answer), answer_json(answer, note)
    if note:  # a question over 500 characters: said first, as the command line says it
        markdown = f"{escape(shown(note) or '')}\n\n{markdown}"
    reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        return {
            "id": reply_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": markdown},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "qabot": extra,
        }

    def chunk(delta: dict, finish: str | None = None, **more: object) -> str:
        data = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **more,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        blocks = markdown.split("\n\n")
        for i, block in enumerate(blocks):
            yield chunk({"content": block + ("\n\n" if i < len(blocks) - 1 else "")})
        yield chunk({}, "stop", qabot=extra)
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
