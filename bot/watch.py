"""``ingest --watch``: re-ingest when files in the corpus folders change."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from corpus.loading import CorpusError
from retrieval.errors import RetrievalError


def watch_and_ingest(paths: Sequence[Path], ingest: Callable[[], None]) -> None:
    """Block until Ctrl-C; after each burst of changes (debounced), run ``ingest``."""
    from watchfiles import watch

    folders = [str(p if p.is_dir() else p.parent) for p in paths]
    print(f"watching {', '.join(folders)} for changes (Ctrl-C to stop)", file=sys.stderr)
    for changes in watch(*folders, debounce=2000, raise_interrupt=False):
        print(f"{len(changes)} file(s) changed; updating the index", file=sys.stderr)
        try:
            ingest()
        except (RetrievalError, CorpusError) as exc:  # keep watching; the old index stays live
            print(f"error: {exc}", file=sys.stderr)
