"""``python -m bot telegram``: the two hooks ``bot/cli.py`` calls."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import re
import secrets
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import qabot_settings

from .config import WEBHOOK_SECRET_VAR, ConfigError, settings_from_env

log = logging.getLogger(__name__)

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``telegram`` subcommand (``--index`` is added by the caller)."""
    group = parser.add_argument_group("webhook (default: long polling)")
    group.add_argument(
        "--webhook-url",
        help="public HTTPS URL Telegram should POST updates to; enables webhook mode",
    )
    group.add_argument(
        "--webhook-port", type=int, default=8443, help="local port to listen on (default 8443)"
    )
    group.add_argument(
        "--webhook-listen", default="0.0.0.0", help="local address to listen on (default 0.0.0.0)"
    )
    group.add_argument(
        "--webhook-secret",
        help=f"secret Telegram sends with each update (default: ${WEBHOOK_SECRET_VAR}, "
        "else a random one per run)",
    )


def add_feedback_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m bot feedback`` (``--index`` is added by the caller)."""
    parser.add_argument("--since", type=_date, help="only votes on or after this UTC date")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--export-queries",
        type=Path,
        metavar="FILE",
        help="write the 👎 questions to FILE in the eval query format (JSONL)",
    )


def _date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _webhook_secret(args: argparse.Namespace) -> str | None:
    """``--webhook-secret``, else ``TELEGRAM_WEBHOOK_SECRET`` (None when neither is set)."""
    given = getattr(args, "webhook_secret", None)
    return given or qabot_settings.telegram()[WEBHOOK_SECRET_VAR] or None


def serve(application, args: argparse.Namespace, stop_signals: Sequence[int] | None = ()) -> None:
    """Run until stopped: long polling, or a webhook server when ``--webhook-url`` is set.

    ``stop_signals=()`` keeps PTB's default (SIGINT/SIGTERM/SIGABRT); ``None`` installs none.
    """
    from .app import ALLOWED_UPDATES

    kwargs = {} if stop_signals == () else {"stop_signals": stop_signals}
    url = getattr(args, "webhook_url", None)
    if not url:
        application.run_polling(allowed_updates=ALLOWED_UPDATES, **kwargs)
        return
    secret = _webhook_secret(args)
    application.run_webhook(
        listen=args.webhook_listen,
        port=args.webhook_port,
        url_path=urlsplit(url).path.lstrip("/"),
        webhook_url=url,
        secret_token=secret or secrets.token_urlsafe(32),
        allowed_updates=ALLOWED_UPDATES,
        **kwargs,
    )


def run(args: argparse.Namespace, app: qabot_settings.Settings | None = None) -> int:
    """Start the bot; returns the exit code (2: configuration or token problem).

    ``.env`` has been read by ``python -m bot`` already, as for every command."""
    try:
        settings = settings_from_env()
    except ConfigError as exc:
        return _fail(str(exc))
    webhook_url = getattr(args, "webhook_url", None)
    if webhook_url:
        if not webhook_url.startswith("https://"):
            return _fail("--webhook-url must be an https:// URL (Telegram requires HTTPS)")
        if importlib.util.find_spec("tornado") is None:
            return _fail('webhook mode needs: pip install "python-telegram-bot[webhooks]"')
        secret = _webhook_secret(args)
        if secret and not _SECRET_RE.match(secret):
            return _fail("the webhook secret may use only A-Z a-z 0-9 _ - (1-256 characters)")

    from telegram.error import InvalidToken, NetworkError

    from .app import build_application
    from .redact import redact, setup_logging

    setup_logging(settings.token, drop=(InvalidToken,))
    app = app or qabot_settings.Settings.from_env(getattr(args, "index", None))
    application = build_application(settings, app=app)
    try:
        serve(application, args)
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather")
    except NetworkError as exc:
        return _fail(
            redact(
                f"cannot reach the Telegram Bot API at {settings.base_url}: {exc}",
                (settings.token,),
            )
        )
    return 0
