"""Helpers the tests share (no tests here): paths, the command line, small corpora, the
Telegram bot in a thread and the fake Bot API it talks to."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT / "tests" / "data"  # question sets and the synthetic regulation
