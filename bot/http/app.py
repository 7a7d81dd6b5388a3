"""The FastAPI application: one engine, its worker pool, the routers and the guard."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from bot.index_update import state_dir
from bot.telegram.sqlite_state import FILENAME, BotState
from qabot_settings import HttpSettings
from retrieval import AnswerEngine

from . import api, dify, errors, openai_compat, pages
from .guard import Guard, RateLimiter
from .models import Health, Ready
from .service import EngineService

DESCRIPTION = (
    "Answers questions about Chinese policy documents with verbatim, cited excerpts. "
    "Nothing is generated. `/api` is the bot's own JSON, `/retrieval` Dify's External "
    "Knowledge API, `/v1` OpenAI-compatible chat. See docs/http.md."
)


def create_app(
    settings: HttpSettings,
    index_dir: Path,
    engine: AnswerEngine | None = None,
    opener: Callable[[], AnswerEngine] | None = None,
) -> FastAPI:
    """The server around ``engine``, or around the one ``opener`` loads at start-up (the
    server listens meanwhile: ``/healthz`` answers, ``/readyz`` says 503 until it is loaded).
    Votes go to the Telegram bot's state file in ``index_dir``."""
    service = EngineService(settings, engine, opener)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.votes = BotState(state_dir(index_dir) / FILENAME)
        loading = asyncio.create_task(service.open())
        refreshing = asyncio.create_task(service.refresh_forever())
        try:
            yield
        finally:
            for task in (loading, refreshing):
                task.cancel()
            service.close()
            app.state.votes.close()

    app = FastAPIOffline(  # /docs and /redoc from files in the package, not a CDN
        title="京津冀政策问答 · qabot",
        description=DESCRIPTION,
        version="1",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    errors.install(app)
    for router in (api.router, dify.router, openai_compat.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> dict:
        """The process is up (the index may still be loading)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Ready, tags=["health"])
    async def readyz(request: Request) -> dict:
        """The index is loaded: its version, documents, chunks and model; else 503."""
        ready = await service.readiness()
        return {"status": "ready", **ready.__dict__}

    limiter = RateLimiter(settings.rate_per_minute)
    app.add_middleware(
        Guard, keys=settings.api_keys, limiter=limiter, max_body=settings.max_body_bytes
    )
    if settings.cors_origins:  # outside the guard: preflights carry no key
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    return app
