"""The origin note (``<index>/bot-state/last-ingest.json``) belongs to the ingest that wrote
it (issue 28): an ingest refused by the lock, or one that fails, never deletes or replaces
another ingest's note. No model is loaded: the refused ingest stops at the lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import index_update
from bot.index_update import ORIGIN_NOTE, read_origin, state_dir, update_index, write_origin
from qabot_settings import BackendSettings
from retrieval.backends import open_backend
from retrieval.errors import IndexBusyError
from retrieval.ingest.plan import ingest_lock
from tests.support.corpora import BASE_DOCS, write_corpus


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_update, "shared_embedder", lambda: None)


def test_an_ingest_refused_by_the_lock_leaves_the_running_ones_note(
    tmp_path: Path, no_model: None
) -> None:
    index_dir, corpus = tmp_path / "index", write_corpus(tmp_path / "corpus", BASE_DOCS)
    backend = open_backend(index_dir, BackendSettings(backend="local"))
    with ingest_lock(index_dir, "the running ingest"):
        write_origin(index_dir, "upload", None)  # the running ingest's note: under way
        note = state_dir(index_dir) / ORIGIN_NOTE
        running = note.read_bytes()
        with pytest.raises(IndexBusyError):
            update_index(backend, index_dir, [corpus], "ingest", log=lambda _: None)
        assert note.read_bytes() == running
        assert read_origin(index_dir, "v-published-by-the-running-one") == "upload"


class _LosesTheRace:
    """A backend whose ingest finds the lock taken after update_index's check (another
    ingest started in between and wrote its note), or simply fails."""

    def __init__(self, index_dir: Path, other: str | None):
        self.index_dir, self.other = index_dir, other

    def ingest(self, *args: Any, **kwargs: Any) -> Any:
        if self.other is None:
            raise RuntimeError("boom")
        write_origin(self.index_dir, self.other, None)
        raise IndexBusyError("another ingest is already updating it")


def test_a_failed_ingest_takes_back_only_its_own_note(tmp_path: Path, no_model: None) -> None:
    index_dir, corpus = tmp_path / "index", write_corpus(tmp_path / "corpus", BASE_DOCS)
    note = state_dir(index_dir) / ORIGIN_NOTE
    with pytest.raises(IndexBusyError):  # the other ingest's note stays
        update_index(_LosesTheRace(index_dir, "watch"), index_dir, [corpus], "ingest")
    assert read_origin(index_dir, "v2") == "watch"

    finished = write_origin(index_dir, "upload", "v1")
    with pytest.raises(RuntimeError):  # a failure puts back the note it replaced
        update_index(_LosesTheRace(index_dir, None), index_dir, [corpus], "ingest")
    assert note.read_text(encoding="utf-8") == finished

    note.unlink()
    with pytest.raises(RuntimeError):  # and leaves none where there was none
        update_index(_LosesTheRace(index_dir, None), index_dir, [corpus], "ingest")
    assert not note.exists()
