"""Feedback: the vote buttons, votes stored in SQLite and kept across a restart, and the
feedback report and export (bot/telegram/feedback.py, votes.py)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cli import main
from bot.index_update import state_dir
from bot.telegram import feedback, votes
from bot.telegram.feedback import export_queries, summarize
from bot.telegram.sqlite_state import FILENAME, BotState
from retrieval.evaluation import read_queries
from tests.support.telegram import QUESTION, USER, Bot, keyboard


def _votes(index_dir: Path) -> list[tuple]:
    with sqlite3.connect(state_dir(index_dir) / FILENAME) as db:
        return db.execute("SELECT chat, vote, question, results, version FROM feedback").fetchall()


def test_feedback_is_stored_and_reported(
    bot: Bot, engine: Any, index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = bot.api
    api.send_message(USER, QUESTION)
    api.send_message(USER + 1, QUESTION)
    (answer,) = api.wait_sent(USER)
    (other,) = api.wait_sent(USER + 1)
    buttons = keyboard(answer)
    up, down = (d for d in buttons if d.startswith("f:"))
    assert buttons[0].startswith("c:") and buttons[-1].startswith("m:")
    for data in (up, down):  # a chat's later vote replaces its earlier one
        query = api.press(USER, answer["_message_id"], data)
        assert api.wait_for(lambda q=query: api.callback_answered(q))["text"]
    assert api.callback_answered(query)["text"] == feedback.THANKS_DOWN

    (row,) = _votes(index_dir)
    chat, vote, question, shown, version = row
    assert vote == -1 and question == QUESTION and version == engine.version
    assert str(USER) not in chat and len(chat) == 16  # a salted hash, not the chat id
    expected = engine.ask(QUESTION, top_k=5).results
    assert [(r["doc_id"], r["start"], r["end"]) for r in json.loads(shown)] == [
        (r.doc_id, r.start, r.end) for r in expected
    ]

    bot.restart()  # buttons and votes live in SQLite: they survive a restart
    query = api.press(
        USER + 1, other["_message_id"], next(d for d in keyboard(other) if ":up" in d)
    )
    assert api.wait_for(lambda: api.callback_answered(query))["text"] == feedback.THANKS_UP
    context = api.press(USER, answer["_message_id"], buttons[0])
    assert api.wait_sent(USER, 2)[1]["_plain"].startswith("原文")
    assert api.callback_answered(context) is not None and len(_votes(index_dir)) == 2

    assert main(["feedback", "--index", str(index_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["votes"] == {"up": 1, "down": 1}
    assert [q["question"] for q in report["down_questions"]] == [QUESTION]
    top = next(d for d in report["documents"] if d["doc_id"] == expected[0].doc_id)
    assert top == {"doc_id": top["doc_id"], "title": expected[0].title, "up": 1, "down": 1}

    exported = tmp_path / "complaints.jsonl"
    assert main(["feedback", "--index", str(index_dir), "--export-queries", str(exported)]) == 0
    out, err = capsys.readouterr()
    assert "2 votes (👍 1, 👎 1)" in out and QUESTION in out and "wrote 1" in err
    (query_record,) = read_queries(exported)
    assert query_record.question == QUESTION and query_record.doc_id is None

    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert main(["feedback", "--index", str(index_dir), "--since", tomorrow, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["votes"] == {"up": 0, "down": 0}


def test_vote_row_goes_above_more_results() -> None:
    context = [InlineKeyboardButton("原文 1", callback_data="c:k:1")]
    more = [InlineKeyboardButton("更多结果 ›", callback_data="m:k")]
    with_more = votes.with_votes(InlineKeyboardMarkup([context, more]), "k")
    data = [[b.callback_data for b in row] for row in with_more.inline_keyboard]
    assert data == [["c:k:1"], ["f:k:up", "f:k:down"], ["m:k"]]
    alone = votes.with_votes(InlineKeyboardMarkup([context]), "k")
    assert [b.callback_data for b in alone.inline_keyboard[-1]] == ["f:k:up", "f:k:down"]


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
