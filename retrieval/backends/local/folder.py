"""The local backend's index folder: versioned, swapped in atomically, read as one whole.

Layout of an index folder::

    CURRENT                  name of the live version (replaced atomically)
    versions/<version>/      manifest.json (documents, segments), deleted.npy
    segments/<name>/         immutable dense + keyword indexes (see segments.py)
    store.sqlite             append-only documents and chunk rows (see store.py)
    cache.sqlite             vectors and tokens by text hash (see retrieval.ingest.embedding_cache)
    .ingest.lock             held by the one ingest allowed at a time

A version and every segment it names are complete before ``CURRENT`` names it,
so a reader sees the old index or the new one, never a mix, and a crash at any
point of an ingest leaves the old one answering. Versions share segments and
store rows, so a small change writes a small version.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.backends.base import FORMAT, Manifest
from retrieval.backends.local.durable import fsync_dir
from retrieval.backends.local.segments import SEGMENTS, Segment, segment_problem
from retrieval.backends.local.store import STORE, ChunkStore
from retrieval.backends.local.version import LocalVersion
from retrieval.errors import (
    IndexDamagedError,
    IndexMismatchError,
    IndexNotFoundError,
    ManifestError,
)

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
DELETED = "deleted.npy"
# A replaced version (its segments and store rows) outlives its replacement by this long:
# twelve times the bot's and console's refresh interval (5 s).
RETIRE_AFTER_S = 60.0
_WARNED: set[tuple[Path, bytes]] = set()
_VERSION_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,127}")


@dataclass(frozen=True)
class LocalManifest(Manifest):
    """A manifest plus the version's segments and its deleted chunk ids (``deleted.npy``)."""

    segments: list[dict] = field(default_factory=list)  # each segment's meta
    deleted: int = 0  # chunk ids in deleted.npy

    @classmethod
    def read(cls, folder: Path) -> LocalManifest:
        """The manifest in ``folder``; OSError if missing, ManifestError if malformed."""
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            return cls.from_json(data)
        except (ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ManifestError(
                f"the index manifest {path} is damaged ({reason}); "
                "rebuild the index: python -m bot ingest --rebuild"
            ) from None

    def write(self, folder: Path) -> None:
        text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
        (folder / MANIFEST).write_text(text, encoding="utf-8")


def _read_current(index_dir: Path) -> tuple[bytes | None, str | None]:
    """(what ``CURRENT`` holds, the version name it holds or None); (None, None) if there is
    no ``CURRENT``."""
    try:
        raw = (index_dir / CURRENT).read_bytes()[:256]
    except OSError:
        return None, None
    name = raw.decode("ascii", errors="replace").strip()
    return raw, name if _VERSION_NAME.fullmatch(name) else None


def current_version(index_dir: Path) -> str | None:
    """The live version's name (cheap: one small file read), or None if there is none.

    A ``CURRENT`` that does not hold a version name (garbage written over it) names the
    newest complete version instead, with a warning; the next ingest writes it again.
    """
    raw, name = _read_current(index_dir)
    if raw is None or name is not None:
        return name
    fallback = newest_complete_version(index_dir)
    if fallback is not None and (index_dir, raw) not in _WARNED:
        _WARNED.add((index_dir, raw))  # once per process, not at every refresh
        log.warning(
            "%s in %s is damaged (it names no version); using the newest complete version, %s",
            CURRENT,
            index_dir,
            fallback,
        )
    return fallback


def current_is_sound(index_dir: Path) -> bool:
    """Whether ``CURRENT`` itself names a version (not the fallback for garbage in it)."""
    _, name = _read_current(index_dir)
    return name is not None and version_dir(index_dir, name).is_dir()


def version_dir(index_dir: Path, version: str) -> Path:
    return index_dir / VERSIONS / version


def publish(index_dir: Path, version: str) -> None:
    """Atomically make ``version`` the live one (write + fsync + rename)."""
    tmp = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_dir(index_dir)


def prune_versions(
    index_dir: Path, keep: int = 2, grace: float | None = None
) -> list[LocalManifest]:
    """Remove the versions a reader can no longer be on, then every segment no kept
    version names and leftovers of interrupted ingests. Returns the kept versions'
    manifests (the caller collects store rows they no longer name).

    Kept: the newest ``keep``, the live one, and any version replaced less than ``grace``
    seconds ago (default RETIRE_AFTER_S): a bot or console still answering from it
    refreshes within seconds; a reader slower than that reloads when it finds its rows
    gone (VersionRetiredError).
    """
    live = current_version(index_dir)
    root = index_dir / VERSIONS
    if not root.is_dir():
        return []
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    finished = [p for p in folders if not p.name.startswith(".")]
    grace = RETIRE_AFTER_S if grace is None else grace
    now = time.time()
    for folder, successor in zip(finished[:-keep], finished[1:], strict=False):
        if folder.name != live and now - _published_at(successor) >= grace:
            shutil.rmtree(folder, ignore_errors=True)
    for leftover in (p for p in folders if p.name.startswith(".")):
        shutil.rmtree(leftover, ignore_errors=True)  # from an interrupted ingest
    kept = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            kept.append(LocalManifest.read(folder))
        except (OSError, ValueError, TypeError):
            continue
    named = {meta["name"] for m in kept for meta in m.segments}
    seg_root = index_dir / SEGMENTS
    if seg_root.is_dir() and kept:
        for folder in seg_root.iterdir():
            if folder.name not in named:
                shutil.rmtree(folder, ignore_errors=True)
    return kept


def _published_at(folder: Path) -> float:
    """When the version in ``folder`` was written (its manifest's time), 0 if unknown."""
    try:
        return (folder / MANIFEST).stat().st_mtime
    except OSError:
        return 0.0


def newest_complete_version(index_dir: Path) -> str | None:
    """The newest version folder with a manifest, or None."""
    root = index_dir / VERSIONS
    if not root.is_dir():
        return None
    done = [
        p.name for p in root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file()
    ]
    return max(done, default=None)


def _is_live(index_dir: Path, version: str) -> Callable[[], bool]:
    """Whether ``version`` is still the published one (one small file read)."""
    return lambda: current_version(index_dir) == version


def _load_segment(index_dir: Path, meta: dict) -> Segment:
    """Segment ``meta``, its files checked against the record first (IndexDamagedError)."""
    problem = segment_problem(index_dir / SEGMENTS, meta)
    if problem is None:
        try:
            return Segment(index_dir / SEGMENTS / meta["name"], meta)
        except (OSError, RuntimeError, ValueError) as exc:  # damaged inside, same size
            problem = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
    raise IndexDamagedError(
        f"segment {meta['name']} of the index in {index_dir} is damaged ({problem}); "
        "repair it: python -m bot ingest (python -m bot check lists every problem)"
    )


def read_manifest(index_dir: Path, version: str) -> LocalManifest:
    return LocalManifest.read(version_dir(index_dir, version))


def load_version(
    index_dir: Path,
    model: dict | None = None,
    reuse: LocalVersion | None = None,
    version: str | None = None,
) -> LocalVersion:
    """Load the live version (or ``version``); IndexNotFoundError if there is none.

    With ``model``, the manifest is checked first (IndexMismatchError) before anything
    heavy is read. Segments already loaded in ``reuse`` are shared, not read again.
    """
    for _attempt in range(3):  # the version may be pruned between reading CURRENT and opening it
        name = version or current_version(index_dir)
        if name is None:
            raise IndexNotFoundError(f"no index in {index_dir} (run: python -m bot ingest)")
        folder = version_dir(index_dir, name)
        try:
            manifest = LocalManifest.read(folder)
        except FileNotFoundError:
            if version is None and current_version(index_dir) != name:
                continue  # pruned while we read CURRENT: read it again
            fallback = None if version else newest_complete_version(index_dir)
            if fallback is None:
                raise
            log.warning(
                "%s names version %s, which is missing (a crash?); using %s",
                CURRENT,
                name,
                fallback,
            )
            version = fallback
            continue
        if model is not None:
            problem = manifest.mismatch(model, index_dir)
            if problem:
                raise IndexMismatchError(problem)
        elif manifest.format != FORMAT:
            raise IndexMismatchError(manifest.mismatch({"fingerprint": None}, index_dir))
        known = {s.name: s for s in reuse.segments} if reuse else {}
        try:
            segments = [
                known.get(meta["name"]) or _load_segment(index_dir, meta)
                for meta in manifest.segments
            ]
            deleted = np.load(folder / DELETED) if manifest.deleted else np.zeros(0, np.int64)
        except (OSError, RuntimeError, IndexDamagedError):
            if version is None and current_version(index_dir) != name:
                continue
            raise
        store = ChunkStore(index_dir / STORE)
        return LocalVersion(folder, manifest, segments, deleted, store, _is_live(index_dir, name))
    raise IndexNotFoundError(f"index in {index_dir} keeps changing; try again")
