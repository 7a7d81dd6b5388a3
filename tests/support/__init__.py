"""Helpers the tests share (no tests here): paths, the command line, small corpora, the
Telegram bot in a thread and the fake Bot API it talks to."""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT / "tests" / "data"  # question sets and the synthetic regulation


def free_port() -> int:
    """A TCP port nothing listens on now (for a server the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
