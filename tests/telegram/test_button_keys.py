"""Button keys belong to the chat that received them (issue 28): another chat holding the
8-character key, or a message sent through inline mode, gets a polite refusal and nothing of
the answer; callbacks on inline messages never raise."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.index_update import state_dir
from bot.telegram import feedback, handlers
from bot.telegram.service import Page
from bot.telegram.sqlite_state import FILENAME, MIGRATIONS, BotState, PersistentPages
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.telegram import QUESTION, USER, Bot, keyboard

OTHER = USER + 50


def forge(api: FakeBotAPI, chat_id: int, data: str, inline_message_id: str | None = None) -> str:
    """A callback with ``data`` that no button in ``chat_id`` carries (a modified client, a
    key copied from elsewhere): on a message of that chat, or on an inline message."""
    with api._cond:  # register the query id as Telegram would, so it may be answered
        query_id = f"forged{next(api._callback_ids)}"
        api._callbacks[query_id] = False
    callback: dict[str, Any] = {
        "id": query_id,
        "from": {"id": abs(chat_id), "is_bot": False, "first_name": "测试"},
        "chat_instance": f"ci{chat_id}",
        "data": data,
    }
    if inline_message_id is not None:
        callback["inline_message_id"] = inline_message_id
    else:
        callback["message"] = api.make_message(chat_id, "你好")["message"]
    api.push({"callback_query": callback})
    return query_id


def _votes(index_dir: Path) -> int:
    with sqlite3.connect(state_dir(index_dir) / FILENAME) as db:
        return db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]


def test_another_chats_key_is_refused_and_shows_nothing(bot: Bot, index_dir: Path) -> None:
    api = bot.api
    api.send_message(USER, QUESTION)
    (answer,) = api.wait_sent(USER)
    buttons = keyboard(answer)
    context, more, up = buttons[0], buttons[-1], next(d for d in buttons if d.endswith(":up"))
    key = more.split(":", 1)[1]
    assert context.startswith("c:") and more.startswith("m:")

    stolen = [context, more, up, f"a:{key}"]  # 原文, 更多结果, 👍, and 重新提问 on the same key
    queries = [forge(api, OTHER, data) for data in stolen]
    for query in queries:
        answered = api.wait_for(lambda q=query: api.callback_answered(q))
        assert answered["text"] == handlers.EXPIRED
    api.send_message(OTHER, "/help")  # handled after the callbacks (one chat, in order)
    (help_,) = api.wait_sent(OTHER)
    assert "使用说明" in help_["_plain"]  # and nothing else: neither A's question nor excerpts
    assert _votes(index_dir) == 0

    # the chat that received the buttons still uses them
    query = api.press(USER, answer["_message_id"], up)
    assert api.wait_for(lambda: api.callback_answered(query))["text"] == feedback.THANKS_UP
    assert _votes(index_dir) == 1
    api.press(USER, answer["_message_id"], context)
    assert api.wait_sent(USER, 2)[1]["_plain"].startswith("原文")


def test_inline_message_callbacks_get_a_polite_answer(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    api.send_message(USER, QUESTION)
    (answer,) = api.wait_sent(USER)
    context = keyboard(answer)[0]
    caplog.set_level(logging.WARNING)
    example = forge(api, USER, "q:0", inline_message_id="AgAAAInlineMsg1")
    sources = forge(api, USER, "s:1", inline_message_id="AgAAAInlineMsg1")
    stolen = forge(api, USER, context, inline_message_id="AgAAAInlineMsg1")
    assert api.wait_for(lambda: api.callback_answered(example))["text"] == handlers.NO_CHAT
    assert api.wait_for(lambda: api.callback_answered(sources))["text"] == handlers.NO_CHAT
    assert api.wait_for(lambda: api.callback_answered(stolen))["text"] == handlers.EXPIRED
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert len(api.sent(USER)) == 1  # nothing was sent anywhere for them


def test_pages_are_bound_to_their_owner_and_old_pages_expire(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    with sqlite3.connect(path) as db:  # the state as the bot wrote it before owners existed
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE pages (key TEXT PRIMARY KEY, expires REAL NOT NULL, version TEXT,"
            " data TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('salt', '00112233445566778899aabbccddeeff');"
            "INSERT INTO pages VALUES ('oldkey12', 9e12, 'v1',"
            ' \'{"question": "问", "next_offset": 5, "results": []}\');'
        )
    hashes: dict[str, str] = {}
    for _ in range(2):  # idempotent: opening again changes nothing
        state = BotState(path)
        pages = PersistentPages(state, maxsize=8, ttl=60.0, version=lambda: "v1")
        assert pages.get("oldkey12") is None  # unbound: expired, not anyone's
        key = pages.put(Page("问题", 5, {}, "v1", "chat:1"))
        assert pages.get(key) == Page("问题", 5, {}, "v1", "chat:1")
        assert state.chat_hash(1) == hashes.setdefault("1", state.chat_hash(1))  # same salt
        state.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("SELECT COUNT(*) FROM pages WHERE owner = 'chat:1'").fetchone()[0] == 2
