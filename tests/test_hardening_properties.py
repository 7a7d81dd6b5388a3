"""Property tests (hypothesis): for arbitrary text, bytes and metadata, reading, cleaning,
chunking and rendering raise nothing unexpected, excerpts quote the clean text exactly,
and every Telegram message is valid HTML of Telegram's subset within 4096 UTF-16 units."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.console_render import Style
from bot.console_render import render_answer as render_console
from bot.telegram import render
from corpus.chunking import chunk_document
from corpus.cleaning import clean_text
from corpus.document import Document
from corpus.encoding import decode_bytes
from corpus.loading import _jsonl_document
from corpus.sanitize import sanitize_document
from retrieval.answer import Answer, Result, Source
from tests.support.fake_bot_api import parse_html, utf16_len

# Chinese text, ASCII, punctuation, controls, escapes, surrogate-pair emoji, HTML specials.
ALPHABET = st.sampled_from(
    list("京津冀协同发展雄安新区通武廊。，！？；：、“”（）《》\n \t")
    + list("abcXYZ019<>&\"'/=;.")
    + ["\x00", "\x1b", "\x07", "\u202e", "\u200b", "\ufeff", "\x85", "😀", "𠀀", "\r", "\f"]
)
TEXT = st.text(ALPHABET, max_size=1500)
SHORT = st.text(ALPHABET, max_size=400)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=3000))
def test_any_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        text = decode_bytes(data)
    except UnicodeDecodeError:
        return
    assert "\r" not in text


@FAST
@given(TEXT, SHORT, st.one_of(st.none(), SHORT), st.one_of(st.none(), SHORT))
def test_cleaned_chunks_quote_the_clean_text(raw: str, title: str, source, url) -> None:
    text = clean_text(raw)
    doc, _warnings = sanitize_document(Document("d.txt", title or "t", text, source, None, url))
    assert doc.url is None or doc.url.startswith(("http://", "https://"))
    for chunk in chunk_document(doc):
        assert chunk.text == doc.text[chunk.start : chunk.end]


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["doc_id", "title", "text", "source", "url", "date"]),
        st.one_of(SHORT, st.integers(), st.none(), st.lists(st.integers())),
    )
)
def test_any_jsonl_record_is_a_document_or_a_one_line_reason(record: dict) -> None:
    try:
        doc = _jsonl_document(json.dumps(record))
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    doc, _ = sanitize_document(doc)
    assert "\x1b" not in doc.text + doc.title + doc.doc_id


@st.composite
def answers(draw) -> Answer:
    question = draw(SHORT)
    results = []
    for rank in range(1, draw(st.integers(0, 4)) + 1):
        text = draw(TEXT) or "。"
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        excerpt = text[start:end]
        a = draw(st.integers(0, len(excerpt)))
        b = draw(st.integers(a, len(excerpt)))
        meta = st.one_of(st.none(), SHORT)
        results.append(
            Result(
                rank,
                draw(SHORT) or "d",
                draw(SHORT),
                draw(meta),
                draw(meta),
                1.0,
                excerpt,
                start,
                end,
                ((a, b),) if b > a else (),
                section=draw(meta),
                article=draw(meta),
                doc_number=draw(meta),
                issuer=draw(meta),
            )
        )
    return Answer(question, draw(st.booleans()), results, off_topic=draw(st.booleans()))


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
