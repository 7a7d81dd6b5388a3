"""Verifying a local index folder: what ``python -m bot check`` reports and a plain
``python -m bot ingest`` repairs.

Every check reads, none writes. Segments are compared with the size and CRC-32 that
their manifest records; the store and the cache get SQLite's ``quick_check``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from retrieval.backends.base import Finding, cache_finding
from retrieval.backends.local.folder import (
    CURRENT,
    DELETED,
    LocalManifest,
    current_is_sound,
    current_version,
    newest_complete_version,
    read_manifest,
    version_dir,
)
from retrieval.backends.local.segments import SEGMENTS, crc32_of, segment_problem
from retrieval.backends.local.store import STORE, store_problem

INGEST = "python -m bot ingest"
REBUILD = "python -m bot ingest --rebuild"


def damaged_segments(index_dir: Path, manifest: LocalManifest) -> dict[str, str]:
    """{segment name: problem} for the segments of ``manifest`` whose files are not as
    written (sizes and checksums)."""
    root = index_dir / SEGMENTS
    found = {
        meta["name"]: segment_problem(root, meta, checksums=True) for meta in manifest.segments
    }
    return {name: problem for name, problem in found.items() if problem}


def ids_sound(index_dir: Path, meta: dict) -> bool:
    """Whether a segment's ids.npy can be trusted (its chunks can be rewritten from it)."""
    path = index_dir / SEGMENTS / meta["name"] / "ids.npy"
    record = (meta.get("files") or {}).get("ids.npy")
    try:
        if record and (path.stat().st_size, crc32_of(path)) != tuple(record):
            return False
        ids = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return len(ids) == meta["size"]


def deleted_problem(index_dir: Path, manifest: LocalManifest) -> str | None:
    """What is wrong with the version's deletion list, or None."""
    if not manifest.deleted:
        return None
    try:
        deleted = np.load(version_dir(index_dir, manifest.version) / DELETED)
    except (OSError, ValueError) as exc:
        return f"{DELETED} cannot be read ({type(exc).__name__})"
    if len(deleted) != manifest.deleted:
        return f"{DELETED} holds {len(deleted):,} ids, the manifest says {manifest.deleted:,}"
    return None


def check_index(index_dir: Path) -> list[Finding]:
    """Every part of the live version of ``index_dir``, in the order an answer needs them."""
    findings = [_current(index_dir)]
    version = current_version(index_dir)
    if version is None:
        return findings
    try:
        manifest = read_manifest(index_dir, version)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        repair = f"{INGEST} rebuilds the index (it cannot build on this version)"
        return [*findings, Finding(f"manifest of {version}", reason, repair=repair)]
    findings.append(
        Finding(
            f"manifest of {version}",
            detail=f"{len(manifest.documents):,} documents, {manifest.chunks:,} chunks",
        )
    )
    problem = deleted_problem(index_dir, manifest)
    if problem:
        findings.append(Finding(DELETED, problem, repair=f"{INGEST} rebuilds the index"))
    elif manifest.deleted:
        findings.append(Finding(DELETED, detail=f"{manifest.deleted:,} deleted chunk ids"))
    damaged = damaged_segments(index_dir, manifest)
    for meta in manifest.segments:
        name = meta["name"]
        if name not in damaged:
            how = "size and checksum" if meta.get("files") else "present (no checksums recorded)"
            findings.append(Finding(f"segment {name}", detail=f"{meta['size']:,} chunks, {how}"))
        elif ids_sound(index_dir, meta):
            repair = f"{INGEST} rewrites it from the embedding cache"
            findings.append(Finding(f"segment {name}", damaged[name], repair=repair))
        else:
            repair = f"{INGEST} rebuilds the index (its chunk ids are lost too)"
            findings.append(Finding(f"segment {name}", damaged[name], repair=repair))
    findings.append(_store(index_dir, manifest))
    findings.append(cache_finding(index_dir))
    return findings


def _current(index_dir: Path) -> Finding:
    path = index_dir / CURRENT
    try:
        path.read_bytes()
    except FileNotFoundError:
        newest = newest_complete_version(index_dir)
        if newest is None:
            return Finding(CURRENT, "no index here", repair=f"build one: {INGEST}")
        return Finding(CURRENT, "missing", repair=f"{INGEST} writes it again (now: {newest})")
    except OSError as exc:
        return Finding(CURRENT, f"cannot be read ({exc.strerror})", repair="check permissions")
    if current_is_sound(index_dir):
        return Finding(CURRENT, detail=f"names {current_version(index_dir)}")
    fallback = current_version(index_dir)
    return Finding(
        CURRENT,
        "does not name a complete version",
        repair=f"{INGEST} writes it again; until then answers come from {fallback}",
    )


def _store(index_dir: Path, manifest: LocalManifest) -> Finding:
    path = index_dir / STORE
    problem = store_problem(path, thorough=True)
    if problem:
        return Finding("store", problem, repair=f"{INGEST} moves it aside and rebuilds the index")
    keys = [int(e[1]) for e in manifest.documents.values()]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as con:
        con.execute("CREATE TEMP TABLE wanted (k INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO wanted VALUES (?)", ((k,) for k in keys))
        found = con.execute("SELECT COUNT(*) FROM documents JOIN wanted ON doc_key = k").fetchone()
    con.close()
    if found[0] < len(keys):
        return Finding(
            "store",
            f"{len(keys) - found[0]:,} of the version's documents are missing",
            repair=REBUILD,
        )
    return Finding("store", detail=f"all {len(keys):,} documents present")
