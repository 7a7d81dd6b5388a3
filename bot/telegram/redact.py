"""Logging that never shows the bot token (httpx logs request URLs, which contain it)."""

from __future__ import annotations

import logging
import re

# Bot API tokens look like 123456789:AA...; URLs carry them as /bot<token>/
_TOKEN_RE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace any token-like string and each of ``secrets`` by ``<redacted>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return _TOKEN_RE.sub("<redacted>", text)


class RedactFilter(logging.Filter):
    """A handler filter that redacts the message and traceback of every record it sees."""

    def __init__(self, secrets: tuple[str, ...] = (), drop: tuple[type[BaseException], ...] = ()):
        super().__init__()
        self.secrets, self.drop = secrets, drop

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.drop):
            return False  # reported by the caller as one clean line
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def setup_logging(
    token: str, level: int = logging.INFO, drop: tuple[type[BaseException], ...] = ()
) -> None:
    """Redact every root handler (configuring one if there is none); quiet httpx."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter((token,), drop))
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
