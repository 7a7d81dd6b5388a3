"""``ingest --watch``: re-ingest when files in the corpus folders change."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def watch_and_ingest(
    paths: Sequence[Path],
    ingest: Callable[[], None],
    changes: Iterable[set] | None = None,
) -> None:
    """Block until Ctrl-C; after each burst of changes (debounced), run ``ingest``.

    A failed ingest never stops the watch: it is reported in one line (the traceback
    goes to the log for unexpected errors) and the old index stays live. ``changes``
    replaces watchfiles' stream of change sets (tests).
    """
    from bot.errors import describe
    from corpus.loading import CorpusError
    from retrieval.errors import RetrievalError

    folders = [str(p if p.is_dir() else p.parent) for p in paths]
    if changes is None:
        from watchfiles import watch

        changes = watch(*folders, debounce=2000, raise_interrupt=False)
    print(f"watching {', '.join(folders)} for changes (Ctrl-C to stop)", file=sys.stderr)
    for batch in changes:
        print(f"{len(batch)} file(s) changed; updating the index", file=sys.stderr)
        try:
            ingest()
        except (RetrievalError, CorpusError) as exc:  # keep watching; the old index stays live
            print(f"error: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - a watcher outlives any one failed ingest
            log.error("ingest failed; still watching", exc_info=True)
            print(
                f"error: {describe(exc)}; still watching, the old index stays live",
                file=sys.stderr,
                flush=True,
            )
