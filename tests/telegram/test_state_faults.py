"""When ``<index>/bot-state`` cannot be written (read-only, disk full, not a database), the bot
still answers (issue 28): pages fall back to memory, votes say they were not saved, and the
log gets one warning instead of every user getting 「出了点问题」."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.index_update import state_dir
from bot.telegram import feedback, handlers, sqlite_state
from bot.telegram.service import Page
from bot.telegram.sqlite_state import FILENAME, BotState, PersistentPages
from tests.support.telegram import QUESTION, USER, Bot, keyboard


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == sqlite_state.__name__]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_state_file_that_cannot_be_opened_leaves_the_state_in_memory(
    engine: Any, index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (state_dir(index_dir) / FILENAME).mkdir(parents=True)  # a folder where the file should be
    caplog.set_level(logging.WARNING)
    bot = Bot(engine)
    try:
        api = bot.api
        api.send_message(USER, QUESTION)
        (answer,) = api.wait_sent(USER)
        assert QUESTION in answer["_plain"] and "出了点问题" not in answer["_plain"]
        up = next(d for d in keyboard(answer) if d.endswith(":up"))
        query = api.press(USER, answer["_message_id"], up)
        assert api.wait_for(lambda: api.callback_answered(query))["text"] == feedback.THANKS_UP
        (warning,) = _warnings(caplog)
        assert "in memory" in warning and str(state_dir(index_dir)) in warning
        assert _errors(caplog) == []
    finally:
        bot.stop()


def test_writes_that_fail_while_running_cost_buttons_and_votes_not_answers(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    api = bot.api
    state: BotState = bot.data["state"]
    with state._lock:  # from now on every write fails: "attempt to write a readonly database"
        state._db.execute("PRAGMA query_only = 1")
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        api.send_message(USER, QUESTION)
    first, second = api.wait_sent(USER, 2)
    assert all(QUESTION in m["_plain"] and keyboard(m) for m in (first, second))
    up = next(d for d in keyboard(first) if d.endswith(":up"))
    vote = api.press(USER, first["_message_id"], up)
    assert api.wait_for(lambda: api.callback_answered(vote))["text"] == feedback.NOT_SAVED
    api.press(USER, first["_message_id"], keyboard(first)[0])  # 原文 1: kept in memory
    assert api.wait_sent(USER, 3)[2]["_plain"].startswith("原文")
    (warning,) = _warnings(caplog)  # one warning for the whole outage
    assert "readonly" in warning and str(state.path) in warning
    assert _errors(caplog) == [] and handlers.FAILED not in [m["_plain"] for m in api.sent(USER)]

    with state._lock:  # writable again: votes are stored again
        state._db.execute("PRAGMA query_only = 0")
    vote = api.press(USER, second["_message_id"], next(d for d in keyboard(second) if ":up" in d))
    assert api.wait_for(lambda: api.callback_answered(vote))["text"] == feedback.THANKS_UP


def test_a_full_disk_keeps_pages_in_memory(tmp_path: Path) -> None:
    state = BotState(tmp_path / "bot.sqlite")
    pages = PersistentPages(state, maxsize=8, ttl=60.0, version=lambda: "v1")
    with state._lock:  # SQLite's own "database or disk is full" (SQLITE_FULL) from now on
        size = state._db.execute("PRAGMA page_count").fetchone()[0]
        state._db.execute(f"PRAGMA max_page_count = {size}")
    page = Page("问" * 200_000, 5, {}, "v1", "chat:1")
    key = pages.put(page)
    assert pages.get(key) == page and len(pages) == 1
    assert state.vote(key, 1, 1, "问" * 200_000, [], "v1") is False
    state.close()
