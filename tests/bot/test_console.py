"""The console as a person uses it over a pipe: /help, a question, /more, /sources, an unknown
command (bot/console.py)."""

from __future__ import annotations

from tests.support.cli import bot


def test_console_session_over_a_pipe(seed_index):
    session = "/help\n通武廊签署了什么协议？\n/more\n/sources\n/bogus\n"
    proc = bot("console", "--index", str(seed_index), stdin=session)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "/sources" in out and "《“通武廊”签署试点示范合作协议》" in out
    assert "[4]" in out  # /more continued after the first three excerpts
    assert "收录文件（5 篇）" in out and "未知命令 /bogus" in out
    assert "\033[" not in out  # no colour codes when stdout is not a terminal
