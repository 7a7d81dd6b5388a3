"""Fast tests of the issue-13 pieces that need neither a server nor the engine."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.index_update import read_origin, with_uploads, write_origin
from bot.telegram import votes
from bot.telegram.admin import index_age, safe_name
from bot.telegram.config import ConfigError, settings_from_env
from bot.telegram.feedback import export_queries, summarize
from bot.telegram.notices import notice_text
from bot.telegram.service import Page
from bot.telegram.sqlite_state import BotState, PersistentPages
from retrieval.answer import Result, Source
from retrieval.evaluation import read_queries
from tests.support.fake_bot_api import parse_html, utf16_len

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


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


def test_vote_row_goes_above_more_results() -> None:
    context = [InlineKeyboardButton("原文 1", callback_data="c:k:1")]
    more = [InlineKeyboardButton("更多结果 ›", callback_data="m:k")]
    with_more = votes.with_votes(InlineKeyboardMarkup([context, more]), "k")
    data = [[b.callback_data for b in row] for row in with_more.inline_keyboard]
    assert data == [["c:k:1"], ["f:k:up", "f:k:down"], ["m:k"]]
    alone = votes.with_votes(InlineKeyboardMarkup([context]), "k")
    assert [b.callback_data for b in alone.inline_keyboard[-1]] == ["f:k:up", "f:k:down"]


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\evil.md", "evil.md"),
        (".hidden.md", "hidden.md"),
        ("磁悬浮 方案.JSONL", "磁悬浮_方案.jsonl"),
        ("", "upload"),
    ],
)
def test_safe_upload_names(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_index_age_from_version_name() -> None:
    built = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert index_age("20231114T221320-000000001", built + 30) == "刚刚生成"
    assert index_age("20231114T221320-000000001", built + 3 * 3600 + 5) == "3 小时前生成"
    assert index_age("20231114T221320-000000001", built + 2 * 86400) == "2 天前生成"
    assert index_age("v7", built) == "时间未知"


def test_origin_note(tmp_path: Path) -> None:
    assert read_origin(tmp_path, "v1") is None
    write_origin(tmp_path, "watch", None)  # under way: whatever it publishes is its own
    assert read_origin(tmp_path, "v2") == "watch"
    write_origin(tmp_path, "upload", "v2")
    assert read_origin(tmp_path, "v2") == "upload"
    assert read_origin(tmp_path, "v3") is None  # published by something that left no note


def test_uploads_folder_joins_every_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    assert with_uploads(tmp_path, [folder]) == [folder]
    (tmp_path / "uploads").mkdir()
    uploads = (tmp_path / "uploads").resolve()
    assert with_uploads(tmp_path, [folder]) == [folder, uploads]
    assert with_uploads(tmp_path, [uploads, folder]) == [uploads, folder]


def test_notice_lists_titles_and_dates_within_limits() -> None:
    new = [Source(f"d{i}", f"文件<{i}>", "2024-05-01", None, None, 100) for i in range(40)]
    text = notice_text(new, "upload")
    plain = parse_html(text)
    assert plain.startswith("新收录：40 篇文件\n• 文件<0> · 2024-05-01")
    assert "……等共 40 篇" in plain and "文件<30>" not in plain and "管理员上传" in plain
    assert utf16_len(plain) <= 4096
    assert "日期不详" in notice_text([Source("x", "无日期", None, None, None, 1)], None)


def _result(rank: int, doc_id: str) -> Result:
    return Result(rank, doc_id, f"标题{doc_id}", None, None, 0.5, "摘录。", 10, 13, ((0, 3),))


def test_pages_survive_a_reopen_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    state = BotState(path)
    pages = PersistentPages(state, maxsize=2, ttl=60.0, version=lambda: "v1")
    page = Page("问题", 5, {1: _result(1, "a"), 2: _result(2, "b")})
    key = pages.put(page)
    salt_hash = state.chat_hash(42)
    state.close()

    state = BotState(path)
    pages = PersistentPages(state, maxsize=2, ttl=60.0, version=lambda: "v2")
    assert pages.get_with_version(key) == (replace(page, version="v1"), "v1")
    assert state.chat_hash(42) == salt_hash != "42"
    for _ in range(2):
        pages.put(page)
    assert pages.get(key) is None and len(pages) == 2  # the oldest made room
    expired = PersistentPages(state, maxsize=2, ttl=-1.0, version=lambda: "v2")
    assert expired.get(expired.put(page)) is None
    state.close()


def test_feedback_summary_and_export(tmp_path: Path) -> None:
    state = BotState(tmp_path / "bot.sqlite")
    shown = [{"rank": 1, "doc_id": "a", "title": "甲", "start": 0, "end": 9}]
    state.vote("k1", 1, 1, "问一", shown, "v1")
    state.vote("k1", 1, -1, "问一", shown, "v1")  # the same chat changed its mind
    state.vote("k2", 2, -1, "问二", [*shown, {**shown[0], "doc_id": "b", "rank": 2}], "v1")
    state.vote("k3", 3, 1, "问三", shown, "v1")
    votes_ = state.votes()
    assert state.vote_counts() == (1, 2)
    summary = summarize(votes_)
    assert summary["votes"] == {"up": 1, "down": 2}
    assert summary["documents"][0] == {"doc_id": "a", "title": "甲", "up": 1, "down": 2}
    assert [q["question"] for q in summary["down_questions"]] == ["问一", "问二"]
    assert state.votes("2999-01-01") == []

    path = tmp_path / "queries.jsonl"
    assert export_queries(votes_, path) == 2
    queries = read_queries(path)
    assert [q.question for q in queries] == ["问一", "问二"]
    assert all(q.qid.startswith("fb-") and q.doc_id is None for q in queries)
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[1])["shown"] == ["a", "b"]
    state.close()


def test_answer_stats(tmp_path: Path) -> None:
    state = BotState(tmp_path / "bot.sqlite")
    assert state.answer_stats(0) == (0, 0, None)
    for seconds in (0.1, 0.3, 0.2):
        state.record_answer(seconds)
    today, total, p50 = state.answer_stats(0)
    assert (today, total) == (3, 3) and p50 == pytest.approx(0.2)
    assert state.answer_stats(4_102_444_800)[0] == 0  # none "today" in 2100
    assert state.subscribe(5) and not state.subscribe(5) and state.subscribers() == [5]
    assert state.unsubscribe(5) and not state.unsubscribe(5)
    state.close()
