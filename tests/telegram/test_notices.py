"""Notices of new documents to subscribed chats: titles, dates and where they came from, within
Telegram's limits (bot/telegram/notices.py)."""

from __future__ import annotations

from bot.telegram.notices import notice_text
from retrieval.answer import Source
from tests.support.fake_bot_api import parse_html, utf16_len


def test_notice_lists_titles_and_dates_within_limits() -> None:
    new = [Source(f"d{i}", f"文件<{i}>", "2024-05-01", None, None, 100) for i in range(40)]
    text = notice_text(new, "upload")
    plain = parse_html(text)
    assert plain.startswith("新收录：40 篇文件\n• 文件<0> · 2024-05-01")
    assert "……等共 40 篇" in plain and "文件<30>" not in plain and "管理员上传" in plain
    assert utf16_len(plain) <= 4096
    assert "日期不详" in notice_text([Source("x", "无日期", None, None, None, 1)], None)
