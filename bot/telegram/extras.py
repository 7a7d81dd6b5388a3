"""Wiring for inline mode, feedback, admin uploads, /stats and subscriptions.

``app.build_application`` calls :func:`register`, and :func:`start` / :func:`stop` from its
start-up and shutdown hooks.
"""

from __future__ import annotations

from pathlib import Path

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.corpus_update import state_dir

from . import admin, feedback, inline, notices, votes
from .botstate import FILENAME, BotState, PersistentPages
from .service import Service


def register(application: Application) -> None:
    """Handlers; added before the core ones, which they do not overlap (files from admins
    come here first; everyone else's still get the text-only note)."""
    application.add_handler(CommandHandler("subscribe", notices.subscribe))
    application.add_handler(CommandHandler("unsubscribe", notices.unsubscribe))
    application.add_handler(CommandHandler("stats", admin.stats))
    application.add_handler(InlineQueryHandler(inline.inline_query))
    application.add_handler(CallbackQueryHandler(feedback.vote_button, pattern=votes.PATTERN))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.Document.ALL,
            admin.upload,
        )
    )


async def start(application: Application) -> None:
    """Once the engine is open: the SQLite state, persistent buttons, answer timing, notices."""
    service: Service = application.bot_data["service"]
    settings = service.settings
    state = BotState(state_dir(Path(service.engine.index_dir)) / FILENAME)
    application.bot_data["state"] = state
    application.bot_data["inline"] = inline.InlineState(settings)
    service.pages = PersistentPages(
        state, settings.state_size, settings.state_ttl, lambda: service.engine.version
    )
    service.on_answer = state.record_answer
    await notices.start(application)


async def stop(application: Application) -> None:
    await notices.stop(application)
    state: BotState | None = application.bot_data.pop("state", None)
    if state is not None:
        state.close()
