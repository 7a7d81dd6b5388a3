"""Bad metadata and bad files: capped, dropped or skipped with a clear line; nothing shown
carries a control character; every Telegram message still fits."""

from __future__ import annotations

import json
import tracemalloc

from bot.console_render import Style, render_answer, render_sources
from bot.telegram import render
from corpus.encoding import decode_bytes
from corpus.loading import load_corpus
from corpus.sanitize import TITLE_MAX
from retrieval.answer import Answer, Result, Source
from tests.support.fake_bot_api import parse_html

BODY = "京津冀协同发展是一项重大国家战略。通武廊签署了试点示范合作协议。\n"
ESC = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def test_metadata_is_capped_links_are_http_only_and_controls_are_removed(tmp_path):
    (tmp_path / "a.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "b.txt").write_text(BODY, encoding="utf-8")
    sidecar = {
        "a.txt": {"title": "长" * 5000, "source": f"来源{ESC}", "url": "javascript:alert(1)"},
        "b.txt": {"title": "正常标题", "url": "https://example.org/b?x=1"},
    }
    (tmp_path / "sources.json").write_text(json.dumps(sidecar), encoding="utf-8")
    record = {"doc_id": f"j{ESC}1", "title": f"标题\u202e反转{ESC}", "text": f"{ESC}{BODY}"}
    (tmp_path / "c.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")

    report = load_corpus([tmp_path])
    docs = {d.doc_id: d for d in report.documents}
    a, b, c = docs["a.txt"], docs["b.txt"], docs["j]0;owned[2J[31m1"]
    assert len(a.title) == TITLE_MAX and a.title.endswith("…")
    assert a.url is None and a.source == "来源]0;owned[2J[31m"
    assert b.url == "https://example.org/b?x=1" and b.title == "正常标题"
    for doc in report.documents:
        for value in (doc.doc_id, doc.title, doc.text, doc.source or ""):
            assert "\x1b" not in value and "\x07" not in value and "\u202e" not in value
    assert c.text.startswith("]0;owned") and BODY.strip() in c.text
    reasons = "\n".join(f"{path}: {why}" for path, why in report.warnings)
    assert "title cut to 200 characters (it had 5000)" in reasons
    assert "url dropped (only http:// and https:// links are kept): javascript:" in reasons
    assert "control characters removed from the text" in reasons


def result(title: str, excerpt: str, doc_id: str = "d.txt", source: str | None = "来源") -> Result:
    return Result(1, doc_id, title, "2024-01-01", source, 1.0, excerpt, 0, len(excerpt), ((0, 4),))


def test_renderers_show_no_controls_and_fit_any_title():
    answer = Answer(f"问{ESC}", True, [result("题" * 5000 + ESC, f"答案{ESC}就在这里。", ESC)])
    out = render_answer(answer, Style(False))
    assert "\x1b" not in out and "\x07" not in out
    assert "\x1b" not in render_sources([Source(ESC, ESC, None, ESC, None, 3)], Style(False))

    for message in render.render_answer(answer):
        parse_html(message)  # Telegram's subset, well nested
        assert render.tg_len(message) <= render.MESSAGE_LIMIT
    src = Source("d.txt", "题" * 5000, "2024-01-01", "来" * 5000, "javascript:alert(1)", 10)
    for message in render.render_sources([src] * 3):
        assert "javascript" not in message and render.tg_len(message) <= render.MESSAGE_LIMIT


def test_a_file_over_the_size_cap_is_skipped_with_a_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("QABOT_MAX_FILE_MB", "0.01")  # about 10 KB
    (tmp_path / "small.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "big.txt").write_text(BODY * 400, encoding="utf-8")
    (tmp_path / "big.jsonl").write_text(
        json.dumps({"doc_id": "x", "title": "t", "text": BODY * 400}), encoding="utf-8"
    )
    report = load_corpus([tmp_path])
    assert [d.doc_id for d in report.documents] == ["small.txt"]
    skipped = dict(report.skipped)
    for name in ("big.txt", "big.jsonl"):
        reason = skipped[str(tmp_path / name)]
        assert reason.startswith("too large (") and "QABOT_MAX_FILE_MB" in reason


def test_legacy_encoding_detection_uses_bounded_memory():
    text = "京津冀协同发展的核心是有序疏解北京非首都功能，推动雄安新区建设。\n" * 20000
    data = text.encode("gb18030")  # 1.2 MB, not UTF-8: the legacy path
    tracemalloc.start()
    try:
        assert decode_bytes(data) == text
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the result itself is 2 bytes a character; listing every character took ~40x that
    assert peak < 6 * 2 * len(text), f"peak {peak / 2**20:.1f} MB"
