"""Telegram under load and change: 429s waited out, /sources paged, buttons that notice a
new index. The real Application against the fake Bot API, the real engine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import handlers, render
from corpus.loading import load_corpus
from retrieval.answer import Source
from retrieval.backends.local.folder import current_version
from retrieval.backends.local.ingest import ingest
from retrieval.engine import AnswerEngine
from tests.support.corpora import write_corpus
from tests.support.fake_bot_api import parse_html
from tests.support.telegram import keyboard, new_chat
from tests.support.telegram import start_bot as _start

QUESTIONS = ["通武廊签署了什么协议", "京津冀协同发展的核心是什么", "雄安新区"]


def test_every_answer_arrives_in_order_when_telegram_says_429(seed_engine: Any) -> None:
    api, bot = _start(seed_engine)
    try:
        api.flood("sendMessage", every=3, retry_after=1)
        chats = [new_chat(), new_chat()]
        for question in QUESTIONS:
            for chat in chats:
                api.send_message(chat, question)
        for chat in chats:
            sent = api.wait_for(
                lambda c=chat: (m := api.sent(c)) and len(m) >= len(QUESTIONS) and m,
                timeout=120,
            )
            heads = [m["_plain"].split("\n", 1)[0] for m in sent]
            # A confident reply opens with 问：question, a doubtful one with a note quoting it.
            assert len(heads) == len(QUESTIONS), heads
            assert all(q in head for q, head in zip(QUESTIONS, heads, strict=True)), heads
        assert len(api.flooded) >= 2  # Telegram did refuse some, and each was retried
        assert not any(handlers.FAILED in m["_plain"] for c in chats for m in api.sent(c))
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []


def test_sources_pages_fit_and_cover_every_document_once() -> None:
    docs = [
        Source(
            f"d{i}.txt",
            f"文件{i}" + "长" * 300,
            f"2020-01-{i % 28 + 1:02d}",
            "来" * 300,
            f"https://example.org/{i}",
            1000 + i,
        )
        for i in range(100)
    ]
    text, pages = render.render_sources_page(docs, 0)
    assert pages == -(-100 // render.SOURCES_PER_PAGE)
    seen = []
    for page in range(pages):
        text, _ = render.render_sources_page(docs, page)
        parse_html(text)
        assert render.tg_len(text) <= render.MESSAGE_LIMIT
        seen += [d.doc_id for d in docs if f">文件{d.doc_id[1:-4]}长" in text]
    assert sorted(seen) == sorted(d.doc_id for d in docs)
    assert render.render_sources_page(docs, 99)[0] == render.render_sources_page(docs, pages - 1)[0]


def test_sources_command_is_paged_with_buttons(seed_engine: Any, monkeypatch) -> None:
    monkeypatch.setattr(render, "SOURCES_PER_PAGE", 2)  # 5 documents: 3 pages
    api, bot = _start(seed_engine)
    try:
        chat = new_chat()
        api.send_message(chat, "/sources")
        (first,) = api.wait_sent(chat)
        assert "第 1/3 页" in first["_plain"] and keyboard(first) == ["s:1"]
        api.press(chat, first["_message_id"], "s:1")
        edit = api.wait_for(lambda: api.calls_of("editMessageText"))[0].params
        assert "第 2/3 页" in edit["text"] and keyboard({"reply_markup": edit["reply_markup"]}) == [
            "s:0",
            "s:2",
        ]
        assert len(api.sent(chat)) == 1  # the page changed in place, no new messages
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []


DOCS = {
    "a.txt": "甲文件\n雄安新区设立于2017年4月1日。雄安新区规划建设以特定区域为起步区。\n",
    "b.txt": "乙文件\n通武廊三地签署了区域一体化高质量发展试点示范合作协议。\n",
}


@pytest.fixture
def changing_index(tmp_path: Path, embedder: Any):
    corpus = write_corpus(tmp_path / "corpus", DOCS)

    engines: list[AnswerEngine] = []

    def build() -> None:
        docs = load_corpus([corpus]).documents
        ingest(tmp_path / "index", docs, embedder, progress=False, log=lambda _m: None)
        # The bot loads new versions without blocking: a button pressed while its background
        # refresh is still loading would be answered from the old version. Wait (bounded)
        # until the engine has switched, so the next press sees the version just built.
        deadline = time.monotonic() + 30
        while engines and engines[0].version != current_version(tmp_path / "index"):
            assert time.monotonic() < deadline, "the new index version was never loaded"
            engines[0].refresh()
            time.sleep(0.02)

    build()
    engines.append(AnswerEngine.open(tmp_path / "index", embedder=embedder))
    return corpus, build, engines[0]


def test_buttons_notice_that_the_index_changed(changing_index: Any) -> None:
    corpus, build, engine = changing_index
    api, bot = _start(engine, refresh_interval=0.0, top_k=1)
    try:
        chat = new_chat()
        api.send_message(chat, "雄安新区什么时候设立？")
        (answer,) = api.wait_sent(chat)
        assert "2017年4月1日" in answer["_plain"]
        context = next(d for d in keyboard(answer) if d.startswith("c:"))
        more = next(d for d in keyboard(answer) if d.startswith("m:"))

        (corpus / "b.txt").write_text(DOCS["b.txt"] + "补充。\n", encoding="utf-8")
        build()  # another document changed: the excerpt is still quoted right
        api.press(chat, answer["_message_id"], context)
        sent = api.wait_sent(chat, 2)
        assert sent[1]["_plain"].startswith("原文") and "2017年4月1日" in sent[1]["_plain"]

        (corpus / "a.txt").write_text("甲文件\n雄安新区设立于2017年4月。\n", encoding="utf-8")
        build()  # the answer's own document changed: its offsets mean nothing now
        api.press(chat, answer["_message_id"], context)
        sent = api.wait_sent(chat, 3)
        assert sent[2]["_plain"] == handlers.CHANGED
        api.press(chat, answer["_message_id"], more)
        sent = api.wait_sent(chat, 4)
        assert sent[3]["_plain"] == handlers.CHANGED
        (again,) = keyboard(sent[3])
        api.press(chat, sent[3]["_message_id"], again)
        sent = api.wait_sent(chat, 5)
        assert "2017年4月" in sent[4]["_plain"] and "2017年4月1日" not in sent[4]["_plain"]
    finally:
        bot.stop()
        api.stop()
    assert api.errors == []
