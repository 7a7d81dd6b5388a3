"""Inline mode end to end: cited excerpts as inline results, debounced keystrokes, the answer
cache, the allowlist (bot/telegram/inline.py)."""

from __future__ import annotations

from typing import Any

from bot.telegram import handlers
from tests.support.telegram import QUESTION, USER, Bot


def flag(value: object) -> bool:
    """A boolean parameter as it arrives in a form body (``"true"``) or JSON."""
    return str(value).lower() == "true"


def test_inline_query_lists_cited_excerpts(bot: Bot, engine: Any) -> None:
    api = bot.api
    typing, full = api.inline_queries(USER, "通武", QUESTION)  # keystrokes arriving together
    answer = api.wait_for(lambda: api.inline_answer(full))
    assert api.inline_answer(typing) is None  # superseded while debouncing: never searched

    expected = engine.ask(QUESTION, top_k=5).results
    results = answer["results"]
    assert [r["title"] for r in results] == [r.title for r in expected]
    best = expected[0]
    (a, b), *_ = best.marks
    description = results[0]["description"].removesuffix("…")  # long sentences are shortened
    assert description and description in " ".join(best.excerpt[a:b].split())
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML" and "<blockquote" in content["message_text"]
    assert content["_plain"].startswith(f"问：{QUESTION}") or "没有找到" in content["_plain"]
    assert best.title in content["_plain"] and description[:20] in content["_plain"]
    assert not flag(answer.get("is_personal"))  # no allowlist: Telegram may share the answer

    answered = bot.data["state"].answer_stats(0)[1]
    (again,) = api.inline_queries(USER + 1, f"  {QUESTION} ")
    cached = api.wait_for(lambda: api.inline_answer(again))
    assert cached["results"] == results
    assert bot.data["state"].answer_stats(0)[1] == answered  # from the cache, not the engine

    (empty,) = api.inline_queries(USER, "")
    assert api.wait_for(lambda: api.inline_answer(empty))["results"] == []


def test_inline_query_respects_allowlist(engine: Any) -> None:
    bot = Bot(engine, allowed_chats=frozenset({USER}))
    try:
        api = bot.api
        (refused,) = api.inline_queries(USER + 5, QUESTION)
        (allowed,) = api.inline_queries(USER, QUESTION)
        no = api.wait_for(lambda: api.inline_answer(refused))
        assert no["results"] == [] and no["button"]["text"] == handlers.REFUSED
        yes = api.wait_for(lambda: api.inline_answer(allowed))
        assert yes["results"] and flag(yes["is_personal"])
    finally:
        bot.stop()
