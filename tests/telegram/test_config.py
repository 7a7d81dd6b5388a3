"""Telegram settings from the environment, and logs that never show the token
(bot/telegram/config.py, redact.py)."""

from __future__ import annotations

import logging

import pytest

from bot.telegram.config import ConfigError, parse_chat_ids, settings_from_env
from bot.telegram.redact import RedactFilter
from qabot_settings import load_dotenv

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_settings_from_env(tmp_path) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_env({})
    assert "TELEGRAM_BOT_TOKEN" in str(error.value)
    settings = settings_from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
            "TELEGRAM_ALLOWED_CHATS": "12, -100345",
        }
    )
    assert settings.base_url == "http://127.0.0.1:8081/bot"
    assert settings.allowed_chats == {12, -100345}
    assert parse_chat_ids(" ") is None
    with pytest.raises(ConfigError):
        parse_chat_ids("12,abc")

    env = tmp_path / ".env"
    env.write_text('# comment\nexport TELEGRAM_BOT_TOKEN="from-file"\nOTHER=1\n', encoding="utf-8")
    environ = {"OTHER": "kept"}
    load_dotenv(env, environ)
    assert environ == {"TELEGRAM_BOT_TOKEN": "from-file", "OTHER": "kept"}


def test_logs_never_show_the_token() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: POST %s "HTTP/1.1 200 OK"',
        (f"https://api.telegram.org/bot{TOKEN}/getMe",),
        None,
    )
    try:
        raise RuntimeError(f"boom at /bot{TOKEN}/sendMessage")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert RedactFilter((TOKEN,)).filter(record)
    text = logging.Formatter().format(record)
    assert TOKEN not in text and TOKEN.split(":")[1] not in text and "<redacted>" in text


def test_admins_and_file_url_from_env() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_ADMINS": "11, 22",
        "TELEGRAM_API_BASE_FILE_URL": "http://127.0.0.1:8081/file/bot",
    }
    settings = settings_from_env(env)
    assert settings.admins == {11, 22}
    assert settings.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert settings_from_env({"TELEGRAM_BOT_TOKEN": TOKEN}).admins == frozenset()
    with pytest.raises(ConfigError, match="TELEGRAM_ADMINS"):
        settings_from_env({**env, "TELEGRAM_ADMINS": "11, alice"})
