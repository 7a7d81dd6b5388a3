"""Telegram messages from answers and sources: escaped, marked and cited, split within
Telegram's limits, valid HTML of its subset for any text (bot/telegram/render.py)."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from bot.console_render import Style, render_answer, render_sources
from bot.console_render import render_answer as render_console
from bot.telegram import render
from retrieval.answer import Answer, Result, Source
from tests.support.fake_bot_api import parse_html, utf16_len
from tests.support.strategies import ALPHABET, FAST, answers


def result(rank: int, excerpt: str, marks=((0, 5),), title: str = "标题") -> Result:
    return Result(
        rank, "doc", title, "2023-05-31", "天津日报", 0.5, excerpt, 0, len(excerpt), marks
    )


# -- rendering --------------------------------------------------------------------------


def test_excerpt_is_escaped_marked_and_cited() -> None:
    excerpt = "前文。<script>&“协议”</script>是关键。后文"
    start = excerpt.index("<script>")
    end = excerpt.index("是关键。") + 4
    (message,) = render.render_answer(
        Answer("a<b>&c", True, [result(1, excerpt, ((start, end),), "“通武廊”<协议>")])
    )
    plain = parse_html(message)
    assert excerpt in plain and "a<b>&c" in plain
    assert "《“通武廊”<协议>》 · 2023-05-31 · 天津日报" in plain
    assert "<b>&lt;script&gt;&amp;“协议”&lt;/script&gt;是关键。</b>" in message


def test_long_answer_splits_between_results() -> None:
    results = [result(i, f"第{i}段。" + "内容" * 600, ((0, 200),)) for i in range(1, 21)]
    messages = render.render_answer(Answer("问题", True, results))
    assert len(messages) > 1
    assert render.visible_len(messages[0]) <= render.FIRST_MESSAGE_CHARS
    for message in messages:
        assert render.tg_len(message) <= 4096
    plain = "\n".join(parse_html(m) for m in messages)
    positions = [plain.index(f"{i}. 第{i}段。") for i in range(1, 21)]
    assert positions == sorted(positions)
    assert all(parse_html(m)[:1].isdigit() for m in messages[1:])  # continuations start a result


def test_answer_line_first_then_citation_then_folded_context() -> None:
    before = "这是关于其他话题的一段很长的文字，" * 30 + "。"
    answer_line = "通武廊将全面实现“一地受理、异地审批”。"
    excerpt = before + answer_line + "后面还有别的内容。" * 10
    start = excerpt.index(answer_line)
    top = result(1, excerpt, ((start, start + len(answer_line)),), "“通武廊”合作协议")
    others = [result(i, f"第{i}条结果的句子。后文" * 40, ((0, 10),)) for i in range(2, 6)]
    (message,) = render.render_answer(Answer("通武廊要实现什么？", True, [top, *others]))
    plain = parse_html(message)
    assert render.visible_len(message) <= render.FIRST_MESSAGE_CHARS
    line = plain.index(answer_line)
    citation = plain.index("《“通武廊”合作协议》 · 2023-05-31 · 天津日报")
    context = plain.index("这是关于其他话题")
    assert line < citation < context < plain.index("2. 第2条结果的句子。")
    assert line < 40  # right under the question
    assert f"<b>{answer_line}</b>" in message
    assert message.count("<blockquote expandable>") == 1 and "<blockquote>" not in message
    assert len(excerpt) > render.layout.CONTEXT_CHARS and "…" in plain  # context is cut


def test_weak_answer_shows_two_short_candidates() -> None:
    results = [result(i, f"候选句子{i}。" + "其余内容" * 100) for i in range(1, 6)]
    (message,) = render.render_answer(Answer("不确定的问题", False, results))
    plain = parse_html(message)
    assert plain.startswith("抱歉") and "/sources" in plain and "相关度较低" in plain
    assert "1. 候选句子1\n" in plain and "2. 候选句子2\n" in plain and "候选句子3" not in plain
    assert "<blockquote" not in message and len(plain) < 600


def test_off_topic_reply_is_only_a_note() -> None:
    answer = Answer("2022年卡塔尔世界杯冠军是谁？" * 20, False, [result(1, "无关段落。")], True)
    (message,) = render.render_answer(answer)
    plain = parse_html(message)
    assert "无关段落" not in plain and "/sources" in plain and len(plain) <= 400
    for example in render.layout.OFF_TOPIC_EXAMPLES:
        assert example in plain
    assert render.render_answer(Answer("天气", False, [])) == [render.off_topic("天气")]


def test_overlong_excerpt_is_cut_around_its_mark() -> None:
    excerpt = "甲" * 5000 + "这是最相关的句子。" + "乙" * 5000
    mark = (5000, 5009)
    (message,) = render.render_answer(Answer("问题", True, [result(1, excerpt, (mark,))]))
    plain = parse_html(message)
    assert render.tg_len(message) <= 4096
    assert "<b>这是最相关的句子。</b>" in message
    assert "…甲" in plain and "乙…" in plain


def test_window_keeps_marks_aligned() -> None:
    text = "0123456789" * 10
    cut, marks, left, right = render.layout.window(text, [(50, 55)], 20)
    assert len(cut) == 20 and left and right
    a, b = marks[0]
    assert cut[a:b] == "01234"


def test_the_context_starts_one_sentence_before_the_answer_line() -> None:
    before = "".join(f"第{i}句话写在前面。" for i in range(30))  # 8 chars each
    excerpt = before + "这是回答问题的句子。" + "后面接着说明。" * 60
    mark = (len(before), len(before) + 10)
    text, marks, left, right = render.layout.context(result(1, excerpt, (mark,)))
    assert left and right and len(text) <= render.layout.CONTEXT_CHARS
    assert text.startswith("第")  # at a sentence start, not inside one
    a, _b = marks[0]
    assert text[a:].startswith("这是回答问题的句子。")
    assert a <= render.layout.LEAD_IN_CHARS < a + 8  # as much lead-in as fits, no more


def test_not_confident_answer_starts_with_a_kind_note() -> None:
    (message,) = render.render_answer(Answer("天气", False, [result(1, "无关段落")]))
    assert "没有找到" in message and "/sources" in message and "相关度较低" in message


def test_not_confident_candidates_come_before_the_advice_to_rephrase() -> None:
    answer = Answer("天气", False, [result(1, "甲段落。"), result(2, "乙段落。")])
    (message,) = render.render_answer(answer)
    plain = html.unescape(re.sub(r"<[^>]+>", "", message))
    assert plain.index("没有找到") < plain.index("甲段落") < plain.index("乙段落")
    assert plain.index("乙段落") < plain.index("换个说法") < plain.index("/sources")


def test_sources_are_listed_with_dates_and_links() -> None:
    docs = [
        Source("a", "甲<文件>", "2019-06-06", "北京发改委", "https://x.example/?a=1&b=2", 11797),
        Source("b", "乙文件", None, None, None, 5716),
    ]
    (message,) = render.render_sources(docs)
    plain = parse_html(message)
    assert "甲<文件>" in plain and "2019-06-06" in plain and "日期不详" in plain
    assert 'href="https://x.example/?a=1&amp;b=2"' in message


# -- any text: no controls shown, every message fits -----------------------------------


ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def result_titled(
    title: str, excerpt: str, doc_id: str = "d.txt", source: str | None = "来源"
) -> Result:
    return Result(1, doc_id, title, "2024-01-01", source, 1.0, excerpt, 0, len(excerpt), ((0, 4),))


def test_renderers_show_no_controls_and_fit_any_title():
    answer = Answer(
        f"问{ESC}", True, [result_titled("题" * 5000 + ESC, f"答案{ESC}就在这里。", ESC)]
    )
    out = render_answer(answer, Style(False))
    assert "\x1b" not in out and "\x07" not in out
    assert "\x1b" not in render_sources([Source(ESC, ESC, None, ESC, None, 3)], Style(False))

    for message in render.render_answer(answer):
        parse_html(message)  # Telegram's subset, well nested
        assert render.tg_len(message) <= render.MESSAGE_LIMIT
    src = Source("d.txt", "题" * 5000, "2024-01-01", "来" * 5000, "javascript:alert(1)", 10)
    for message in render.render_sources([src] * 3):
        assert "javascript" not in message and render.tg_len(message) <= render.MESSAGE_LIMIT


def _valid(message: str) -> None:
    parse_html(message)
    assert utf16_len(render.html.unescape(render._TAG.sub("", message))) <= render.MESSAGE_LIMIT
    assert render.tg_len(message) <= render.MESSAGE_LIMIT


@FAST
@given(answers(), st.text(ALPHABET, max_size=80))
def test_every_rendering_is_valid_and_fits(answer: Answer, note: str) -> None:
    for message in render.render_answer(answer, note):
        _valid(message)
    if answer.results:
        for message in render.render_more(answer):
            _valid(message)
        r = answer.results[0]
        _valid(render.render_context(r, r.excerpt, (0, len(r.excerpt)), "javascript:x"))
    sources = [
        Source(r.doc_id, r.title, r.date, r.source, "http://x.org", 9) for r in answer.results
    ]
    _valid(render.render_sources_page(sources, 0)[0])
    shown = render_console(answer, Style(False)) + render_console(answer, Style(False), full=True)
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown


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


def test_whoami_names_the_ids_each_setting_takes() -> None:
    from bot.telegram.handlers import whoami_text

    private = whoami_text(4242, 4242, private=True)
    assert "4242" in private and "TELEGRAM_ADMINS" in private
    group = whoami_text(4242, -1001234, private=False)
    assert "-1001234" in group and "TELEGRAM_ALLOWED_CHATS" in group
