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
    folders = [str(p if p.is_dir() else p.parent) for p in paths]
    if changes is None:
        from watchfiles import watch

        changes = watch(*folders, debounce=2000)  # Ctrl-C raises; ended quietly below
    print(f"watching {', '.join(folders)} for changes (Ctrl-C to stop)", file=sys.stderr)
    try:
        _watch(changes, ingest)
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr, flush=True)


def changed_files(batch: set) -> list[str]:
    """The corpus files a batch of watchfiles' ``(change, path)`` events changed, each once.

    An editor's or ``sed -i``'s temporary file (created and gone again within the batch) and
    hidden files (which ingest skips) are not counted: one ``sed -i`` edit is one file."""
    added = {str(path) for change, path in batch if _name(change) == "added"}
    changed = set()
    for _change, path in batch:
        path = str(path)
        name = Path(path).name
        if name.startswith(".") or name.endswith("~"):
            continue
        if path in added and not Path(path).exists():
            continue  # a temporary file: written, then renamed or removed
        changed.add(path)
    return sorted(changed)


def _name(change: object) -> str:
    """watchfiles' ``Change.added`` and a test's plain ``"added"`` alike."""
    return getattr(change, "name", str(change))


def _watch(changes: Iterable[set], ingest: Callable[[], None]) -> None:
    from bot.errors import describe
    from corpus.loading import CorpusError
    from retrieval.errors import RetrievalError

    for batch in changes:
        files = changed_files(batch)
        if not files:
            continue  # only temporary or hidden files came and went
        which = Path(files[0]).name if len(files) == 1 else f"{len(files)} files"
        print(f"{which} changed; updating the index", file=sys.stderr)
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
