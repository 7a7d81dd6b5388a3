"""All wiring in one place: the Application, every handler, its start-up/shutdown hooks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

import qabot_settings
from bot.index_update import state_dir

from . import admin, feedback, handlers, inline, notices, votes
from .config import Settings
from .ordering import PerChatUpdateProcessor
from .service import Service
from .sqlite_state import FILENAME, BotState, PersistentPages

if TYPE_CHECKING:
    from retrieval.engine import AnswerEngine

#: the update types the bot asks Telegram for
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]

NOT_TEXT = (
    filters.Sticker.ALL
    | filters.PHOTO
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.LOCATION
    | filters.CONTACT
    | filters.POLL
    | filters.Dice.ALL
)


async def post_init(application: Application) -> None:
    """After getMe succeeded: open the engine, register the command list."""
    service: Service = application.bot_data["service"]
    await service.open()
    # Once the engine is open: the SQLite state, persistent buttons, answer timing, notices.
    settings = service.settings
    # in memory (one warning) when bot-state cannot be written: the bot answers all the same
    state = BotState.open(state_dir(Path(service.engine.index_dir)) / FILENAME)
    application.bot_data["state"] = state
    application.bot_data["inline"] = inline.InlineState(settings)
    service.pages = PersistentPages(
        state, settings.state_size, settings.state_ttl, lambda: service.engine.version
    )
    service.on_answer = state.record_answer
    await notices.start(application)
    await application.bot.set_my_commands([BotCommand(c, d) for c, d in handlers.COMMANDS])


async def post_stop(application: Application) -> None:
    await notices.stop(application)
    state: BotState | None = application.bot_data.pop("state", None)
    if state is not None:
        state.close()


async def post_shutdown(application: Application) -> None:
    application.bot_data["service"].close()


def build_application(
    settings: Settings,
    engine: AnswerEngine | None = None,
    app: qabot_settings.Settings | None = None,
) -> Application:
    """The bot. Pass an open ``engine`` (tests) or let ``post_init`` open the index that
    ``app`` (the command's settings) names."""
    application = (
        Application.builder()
        .token(settings.token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .concurrent_updates(
            PerChatUpdateProcessor(settings.max_concurrent_updates, settings.max_pending_per_chat)
        )
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if settings.flood_retries is not None:
        # Telegram's global limits (30 messages/s, 20 a minute per group); a 429 RetryAfter
        # is waited out and the call retried, so a burst delays answers instead of losing them.
        application = application.rate_limiter(AIORateLimiter(max_retries=settings.flood_retries))
    application = application.build()
    application.bot_data["service"] = Service(settings, engine, app)

    # /whoami answers before the allowlist: a new admin learns their id without being on it
    application.add_handler(CommandHandler("whoami", handlers.whoami), group=-2)
    application.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    # Added before the core handlers, which they do not overlap (files from admins come
    # here first; everyone else's still get the text-only note).
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
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help_command))
    application.add_handler(CommandHandler("sources", handlers.sources))
    application.add_handler(CommandHandler("ask", handlers.ask_command))
    new_message = filters.UpdateType.MESSAGE
    application.add_handler(
        MessageHandler(
            new_message & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
            handlers.private_text,
        )
    )
    application.add_handler(
        MessageHandler(
            new_message & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND,
            handlers.group_text,
        )
    )
    application.add_handler(MessageHandler(new_message & NOT_TEXT, handlers.not_text))
    application.add_handler(CallbackQueryHandler(handlers.example_button, pattern=r"^q:\d+$"))
    application.add_handler(CallbackQueryHandler(handlers.more_button, pattern=r"^m:[\w-]+$"))
    application.add_handler(
        CallbackQueryHandler(handlers.context_button, pattern=r"^c:[\w-]+:\d+$")
    )
    application.add_handler(CallbackQueryHandler(handlers.sources_button, pattern=r"^s:\d+$"))
    application.add_handler(CallbackQueryHandler(handlers.again_button, pattern=r"^a:[\w-]+$"))
    application.add_handler(CallbackQueryHandler(handlers.stale_button))
    application.add_error_handler(handlers.on_error)
    return application
