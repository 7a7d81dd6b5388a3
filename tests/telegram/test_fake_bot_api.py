"""The fake Bot API's HTML check: as strict as Telegram's (tests/support/fake_bot_api.py)."""

from __future__ import annotations

import pytest

from tests.support.fake_bot_api import HTMLError, parse_html


@pytest.mark.parametrize(
    "bad",
    [
        "<p>x</p>",
        "<b>x",
        "<b><i>x</b></i>",
        "a < b",
        "AT&T",
        "&nbsp;",
        "<a>x</a>",
        '<span class="x">y</span>',
        "<b onclick='x'>y</b>",
    ],
)
def test_fake_api_rejects_what_telegram_rejects(bad: str) -> None:
    with pytest.raises(HTMLError):
        parse_html(bad)


def test_fake_api_checks_expandable_blockquotes() -> None:
    assert parse_html("<blockquote expandable>a <b>b</b></blockquote>") == "a b"
    assert parse_html("<blockquote>a</blockquote><blockquote expandable>b</blockquote>") == "ab"
    for bad in (
        "<blockquote expandable>a",
        "<blockquote expandable><blockquote>a</blockquote></blockquote>",
        "<blockquote collapsed>a</blockquote>",
        "<b expandable>a</b>",
    ):
        with pytest.raises(HTMLError):
            parse_html(bad)


def test_fake_api_accepts_telegram_html() -> None:
    good = (
        '<b>a</b><i>b</i><blockquote>c <u>d</u></blockquote><a href="https://e">f</a>'
        '<span class="tg-spoiler">g</span>&lt;&gt;&amp;&quot;&#20013;'
    )
    assert parse_html(good) == 'abc dfg<>&"中'
