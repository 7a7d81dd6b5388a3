"""/stats for admins: documents, chunks, the index version and its age, answers, votes and
subscriptions (bot/telegram/admin.py, sqlite_state.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.telegram import admin
from bot.telegram.admin import index_age
from bot.telegram.sqlite_state import BotState
from corpus.loading import shipped_corpus_dir
from tests.support.telegram import ADMIN, QUESTION, USER, Bot, keyboard, plain


def test_stats_for_admins(bot: Bot, engine: Any, index_dir: Path, embedder: Any) -> None:
    from corpus.loading import load_corpus
    from retrieval.backends.local.ingest import ingest

    api = bot.api
    api.send_message(USER, "/stats")
    assert api.wait_sent(USER)[0]["_plain"] == admin.ADMINS_ONLY

    for question in (QUESTION, "京津冀协同发展的核心是什么"):
        api.send_message(ADMIN, question)
    answers = api.wait_for(lambda: [m for m in api.sent(ADMIN) if keyboard(m)][:2])
    vote = next(d for d in keyboard(answers[0]) if d.endswith(":up"))
    api.press(ADMIN, answers[0]["_message_id"], vote)
    api.send_message(USER, "/subscribe")
    api.wait_sent(USER, 2)
    api.send_message(ADMIN, "/stats")
    stats = api.wait_for(lambda: [t for t in plain(api, ADMIN) if t.startswith("运行统计")])[0]

    documents = load_corpus([shipped_corpus_dir()]).documents
    chunks = ingest(index_dir, documents, embedder, dry_run=True, progress=False).chunks
    assert f"文件：{len(engine.sources())} 篇 · 段落：{chunks} 个" in stats
    assert f"索引版本：{engine.version}（" in stats and "生成）" in stats
    assert "回答问题：今天 2 · 共 2" in stats
    assert "反馈：👍 1 · 👎 0" in stats and "订阅新文件通知：1 个聊天" in stats
    p50 = float(stats.split("检索用时 p50：")[1].split(" ms")[0])
    assert 0 < p50 < 60_000


def test_index_age_from_version_name() -> None:
    built = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert index_age("20231114T221320-000000001", built + 30) == "刚刚生成"
    assert index_age("20231114T221320-000000001", built + 3 * 3600 + 5) == "3 小时前生成"
    assert index_age("20231114T221320-000000001", built + 2 * 86400) == "2 天前生成"
    assert index_age("v7", built) == "时间未知"


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
