"""Settings for the Telegram bot, read from the environment (and an optional ``.env``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import qabot_settings

TOKEN_VAR = "TELEGRAM_BOT_TOKEN"
BASE_URL_VAR = "TELEGRAM_API_BASE_URL"
ALLOWED_CHATS_VAR = "TELEGRAM_ALLOWED_CHATS"
WEBHOOK_SECRET_VAR = "TELEGRAM_WEBHOOK_SECRET"
ADMINS_VAR = "TELEGRAM_ADMINS"
BASE_FILE_URL_VAR = "TELEGRAM_API_BASE_FILE_URL"

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(Exception):
    """A one-line, user-facing configuration problem (never contains the token)."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs besides the engine. Defaults suit a public deployment."""

    token: str
    base_url: str = DEFAULT_BASE_URL
    allowed_chats: frozenset[int] | None = None
    top_k: int = 5
    max_question_chars: int = 500
    # per chat: a token bucket (burst, then one question every ``rate_period`` seconds)
    rate_burst: int = 10
    rate_period: float = 3.0
    # per chat: updates waiting for their turn beyond this are dropped (and logged)
    max_pending_per_chat: int = 16
    max_concurrent_updates: int = 256
    # threads that run the (blocking) engine; the event loop never blocks on it
    engine_workers: int = 2
    refresh_interval: float = 5.0
    state_ttl: float = 2 * 3600.0
    state_size: int = 2048
    base_file_url: str = DEFAULT_BASE_FILE_URL
    # user ids that may upload documents and see /stats
    admins: frozenset[int] = frozenset()
    # Telegram lets bots download files of at most 20 MB
    upload_limit: int = 20 * 1024 * 1024
    # inline mode: wait this long for a newer query from the same user; cache answers briefly
    inline_debounce: float = 0.4
    inline_cache_ttl: float = 60.0
    inline_timeout: float = 8.0
    # PTB's AIORateLimiter: how often a call Telegram answered with 429 is retried after
    # waiting retry_after seconds (None: no rate limiter at all)
    flood_retries: int | None = 5


def parse_chat_ids(raw: str | None, var: str = ALLOWED_CHATS_VAR) -> frozenset[int] | None:
    """``"123, -100456"`` → ``{123, -100456}``; empty/unset → ``None`` (everyone allowed)."""
    if not raw or not raw.strip():
        return None
    ids = set()
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ConfigError(f"{var}: {part!r} is not a chat id") from None
    return frozenset(ids)


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build :class:`Settings` from environment variables; raises :class:`ConfigError`."""
    environ = qabot_settings.telegram(environ)
    token = environ[TOKEN_VAR]
    if not token:
        raise ConfigError(
            f"{TOKEN_VAR} is not set: create a bot with @BotFather and put its token "
            f"in the environment or in .env (see docs/telegram.md)"
        )
    base_url = environ[BASE_URL_VAR] or DEFAULT_BASE_URL
    allowed = parse_chat_ids(environ[ALLOWED_CHATS_VAR])
    admins = parse_chat_ids(environ[ADMINS_VAR], ADMINS_VAR) or frozenset()
    base_file_url = environ[BASE_FILE_URL_VAR] or DEFAULT_BASE_FILE_URL
    return Settings(
        token=token,
        base_url=base_url,
        allowed_chats=allowed,
        admins=admins,
        base_file_url=base_file_url,
        **overrides,
    )
