"""Fixtures of the Telegram tests that change an index: a private copy of the seed index, an
engine on it, and a bot with an admin polling the fake Bot API."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.telegram import Bot


@pytest.fixture
def index_dir(seed_index: Path, tmp_path: Path) -> Path:
    """A private copy of the seed index (without any bot state), free to change."""
    target = tmp_path / "index"
    shutil.copytree(seed_index, target, ignore=shutil.ignore_patterns("bot-state", "uploads"))
    return target


@pytest.fixture
def engine(index_dir: Path) -> Any:
    from retrieval.engine import AnswerEngine

    return AnswerEngine.open(index_dir)


@pytest.fixture
def bot(engine: Any):
    running = Bot(engine)
    yield running
    running.stop()
