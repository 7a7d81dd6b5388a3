"""Start-up failures of ``python -m bot telegram``: a missing or rejected token is one line and
exit 2, the token never shown (bot/telegram/cli.py)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.telegram.cli import run
from tests.support import ROOT
from tests.support.fake_bot_api import FakeBotAPI


def test_missing_token_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert run(argparse.Namespace(index=None, webhook_url=None)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "TELEGRAM_BOT_TOKEN" in err


def test_rejected_token_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = "987654321:AAWrongTokenWrongTokenWrongToken_xyz"
    with FakeBotAPI() as api:
        env = dict(
            os.environ,
            TELEGRAM_BOT_TOKEN=bad,
            TELEGRAM_API_BASE_URL=api.base_url,
            PYTHONPATH=str(ROOT),
        )
        code = (
            "import argparse, sys; from bot.telegram.cli import run; "
            "sys.exit(run(argparse.Namespace(index=None, webhook_url=None)))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    output = proc.stdout + proc.stderr
    assert len(output.strip().splitlines()) == 1, output
    assert "rejected" in output and bad not in output and bad.split(":")[1] not in output
