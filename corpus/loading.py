"""Loading corpora: folders of documents and JSONL files into Documents, with a report.

A file that is there but cannot be read (too large, unreadable, undecodable, gone between
listing and reading, a folder that cannot be listed) is skipped *and* listed in
:attr:`LoadReport.unreadable`, so that an ingest keeps its indexed version rather than
removing it; only a file that is gone is removed. A JSONL file is a container: it is read
record by record, each record capped by ``QABOT_MAX_FILE_MB``. Links that leave a corpus
folder are not followed unless asked (``follow_symlinks``).
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import qabot_settings
from corpus.document import STATED_FIELDS, Document
from corpus.encoding import decode_bytes, read_text
from corpus.metadata import normalize_date
from corpus.readers import READERS, Extracted, ReadError
from corpus.sanitize import clean_doc_id, sanitize_document

SIDECAR = "sources.json"
_TITLE_MAX = 100
_DATES = ("date", "effective_date")  # normalised to YYYY-MM-DD, dropped when unreadable


class CorpusError(Exception):
    """A corpus path cannot be used at all; the message is one human-readable line."""


@dataclass(frozen=True)
class Unreadable:
    """A source that is there but could not be read this time: its indexed documents stay.

    ``doc_id`` names the one document of a folder file (or of a JSONL record whose doc_id
    could be found); ``prefix`` the documents of a folder that could not be listed. A JSONL
    file that could not be read through has neither: the ids are inside it, so it covers
    every indexed document this load did not find.
    """

    path: str
    reason: str
    doc_id: str | None = None
    prefix: str | None = None

    def covers(self, doc_id: str) -> bool:
        """Whether ``doc_id``, indexed but not loaded now, may have come from this source."""
        if self.doc_id is not None:
            return doc_id == self.doc_id
        return doc_id.startswith(self.prefix or "")


@dataclass
class LoadReport:
    """Documents loaded, and (path, reason) for every file or line that was skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # (path, what was changed): metadata cut or dropped, control characters removed
    warnings: list[tuple[str, str]] = field(default_factory=list)
    # the skipped sources that are there but could not be read (also in ``skipped``)
    unreadable: list[Unreadable] = field(default_factory=list)

    def keeps(self) -> Callable[[str], Unreadable | None]:
        """doc_id -> the unreadable source that may hold it, for ids not loaded now."""
        loaded = {doc.doc_id for doc in self.documents}
        exact = {u.doc_id: u for u in self.unreadable if u.doc_id is not None}
        scopes = [u for u in self.unreadable if u.doc_id is None]

        def owner(doc_id: str) -> Unreadable | None:
            if doc_id in loaded:
                return None
            return exact.get(doc_id) or next((u for u in scopes if u.covers(doc_id)), None)

        return owner


def shipped_corpus_dir() -> Path:
    """The seed corpus shipped with the package."""
    return Path(__file__).resolve().parent / "seed"


def _optional_str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _stated(name: str, value: object) -> str | None:
    """A stated field's value as a Document holds it (dates as YYYY-MM-DD)."""
    return normalize_date(value) if name in _DATES else _optional_str(value)


def default_title(text: str, stem: str) -> str:
    """The first meaningful line of ``text`` (letters, not just numbers), else ``stem``."""
    for line in text.split("\n")[:5]:
        line = line.strip()
        if sum(ch.isalpha() for ch in line) >= 2:
            return line if len(line) <= _TITLE_MAX else stem
    return stem


class _Loader:
    """Accumulates documents across corpus paths, enforcing unique doc_ids."""

    def __init__(self, follow_symlinks: bool = False) -> None:
        self.report = LoadReport()
        self.follow_symlinks = follow_symlinks
        self._origin: dict[str, str] = {}
        self._sidecars: dict[Path, dict[str, dict]] = {}

    def add(self, doc: Document, origin: str) -> None:
        doc, warnings = sanitize_document(doc)
        self.report.warnings.extend((origin, w) for w in warnings)
        if not doc.text.strip():
            self.skip(origin, "empty document (no text left after cleaning)")
        elif doc.doc_id in self._origin:
            reason = (
                f"duplicate doc_id {doc.doc_id!r} (already loaded from {self._origin[doc.doc_id]})"
            )
            self.skip(origin, reason)
        else:
            self._origin[doc.doc_id] = origin
            self.report.documents.append(doc)

    def skip(self, path: str, reason: str) -> None:
        self.report.skipped.append((path, reason))

    def unreadable(
        self, path: str, reason: str, doc_id: str | None = None, prefix: str | None = None
    ) -> None:
        """Skip a source that is there but cannot be read; an ingest keeps what it indexed."""
        self.skip(path, reason)
        self.report.unreadable.append(Unreadable(path, reason, doc_id, prefix))

    # --- sidecars -----------------------------------------------------------------
    def _sidecar(self, folder: Path) -> dict[str, dict]:
        if folder not in self._sidecars:
            entries: dict[str, dict] = {}
            path = folder / SIDECAR
            if path.is_file():
                try:
                    data = json.loads(read_text(path))
                    if not isinstance(data, dict):
                        raise ValueError("top level is not an object")
                    entries = {k: v for k, v in data.items() if isinstance(v, dict)}
                except (ValueError, UnicodeDecodeError) as exc:
                    self.skip(str(path), f"invalid {SIDECAR}: {exc}")
            self._sidecars[folder] = entries
        return self._sidecars[folder]

    def metadata(self, file: Path, root: Path) -> dict:
        """Sidecar entry for ``file``: the nearest folder (up to ``root``) that names it."""
        folder = file.parent
        while True:
            key = file.relative_to(folder).as_posix()
            entry = self._sidecar(folder).get(key)
            if entry is not None:
                return entry
            if folder == root or root not in folder.parents:
                return {}
            folder = folder.parent

    # --- files --------------------------------------------------------------------
    def load_file(self, file: Path, root: Path) -> None:
        reader = READERS.get(file.suffix.lower())
        if reader is None:
            self.skip(str(file), f"unsupported file type {file.suffix or '(none)'}")
            return
        extracted, reason = None, _too_large(file)
        if reason is None:
            extracted, reason = _read(reader, file)
        if extracted is None:
            doc_id = clean_doc_id(file.relative_to(root).as_posix())
            self.unreadable(str(file), reason or "cannot read the file", doc_id=doc_id)
            return
        self.add(self._document(file, root, extracted), str(file))

    def _document(self, file: Path, root: Path, extracted: Extracted) -> Document:
        meta = self.metadata(file, root)
        title = _optional_str(meta.get("title")) or extracted.title
        stated = {
            name: _stated(name, meta.get(name)) or _stated(name, getattr(extracted, name))
            for name in STATED_FIELDS
        }
        return Document(
            doc_id=file.relative_to(root).as_posix(),
            title=title or default_title(extracted.text, file.stem),
            text=extracted.text,
            source=_optional_str(meta.get("source")) or extracted.source,
            date=normalize_date(meta.get("date")) or normalize_date(extracted.date),
            url=_optional_str(meta.get("url")) or extracted.url,
            **stated,
        )

    # --- folders ------------------------------------------------------------------
    def load_folder(self, root: Path) -> None:
        for file in self._files(root):
            if file.suffix.lower() == ".jsonl":
                self.load_jsonl(file)
            else:
                self.load_file(file, root)

    def _files(self, root: Path) -> list[Path]:
        """Files under ``root`` (a resolved folder) in sorted order, without hidden paths or
        sidecars; a link that leaves ``root`` is skipped unless links are followed."""
        found: list[Path] = []
        self._scan(root, root, found, {root})
        return sorted(found, key=lambda p: p.relative_to(root).as_posix())

    def _scan(self, folder: Path, root: Path, found: list[Path], seen: set[Path]) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            rel = folder.relative_to(root).as_posix()
            prefix = "" if folder == root else clean_doc_id(rel) + "/"
            reason = f"cannot list the folder: {exc.strerror or exc}"
            self.unreadable(str(folder), reason, prefix=prefix)
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            kind = self._kind(entry, path, root, seen)
            if kind == "dir":
                self._scan(path, root, found, seen)
            elif kind == "file" and entry.name != SIDECAR:
                found.append(path)

    def _kind(self, entry: os.DirEntry, path: Path, root: Path, seen: set[Path]) -> str | None:
        """What ``entry`` is to the walk: "dir", "file", or None for not a file (a device), a
        link to a folder inside ``root`` (its files are read where they are; following it
        could loop) or one already walked, or a link leaving ``root`` (with a skip line)
        unless links are followed."""
        try:
            if not entry.is_symlink():
                if entry.is_dir(follow_symlinks=False):
                    return "dir"
                return "file" if entry.is_file(follow_symlinks=False) else None
        except OSError:
            return "file"  # the reader says why it cannot be read
        target = Path(os.path.realpath(path))
        is_dir = target.is_dir()
        if target != root and root not in target.parents:
            if not self.follow_symlinks:
                what = "folder" if is_dir else "file"
                self.skip(
                    str(path),
                    f"a link to a {what} outside the corpus folder ({target});"
                    " use --follow-symlinks to allow",
                )
                return None
        elif is_dir:
            return None
        if not is_dir:
            return "file"  # a link to nothing inside is unreadable: the reader says why
        if target in seen:
            return None
        seen.add(target)
        return "dir"

    # --- JSONL --------------------------------------------------------------------
    def load_jsonl(self, path: Path) -> None:
        """Each record of a JSONL file (UTF-8, a BOM tolerated), read one line at a time:
        memory is bounded by the record cap, not the file, and a bad record skips itself."""
        cap = qabot_settings.max_file_bytes()
        try:
            with open(path, "rb") as stream:
                if stream.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                    reason = "cannot read JSONL: it is UTF-16; JSONL is UTF-8 (save it as UTF-8)"
                    self.unreadable(str(path), reason)
                    return
                stream.seek(0)
                for number, line, size in _lines(stream, cap):
                    self._record(f"{path}:{number}", line, size, cap)
        except OSError as exc:
            self.unreadable(str(path), f"cannot read JSONL: {exc.strerror or exc}")

    def _record(self, where: str, line: bytes, size: int, cap: int) -> None:
        if size > cap:
            reason = (
                f"record too large ({size / 2**20:.1f} MB; the limit is {cap / 2**20:g} MB"
                " a record, set QABOT_MAX_FILE_MB to change it)"
            )
            self._bad_record(where, line, reason)
            return
        if not line.strip():
            return
        try:
            doc = _jsonl_document(decode_bytes(line))
        except UnicodeDecodeError:
            self._bad_record(where, line, "cannot decode the line (not UTF-8, GB18030 or Big5)")
            return
        except ValueError as exc:
            self._bad_record(where, line, str(exc))
            return
        self.add(doc, where)

    def _bad_record(self, where: str, line: bytes, reason: str) -> None:
        """Skip a record; when its doc_id can be found in it, keep that indexed document."""
        doc_id = _named_id(line)
        if doc_id is None:
            self.skip(where, reason)
        else:
            self.unreadable(where, reason, doc_id=clean_doc_id(doc_id))


_HEAD = 1 << 16  # bytes of an over-long line kept, to find its doc_id
_CHUNK = 1 << 16  # bytes read at a time past the rest of it
_DOC_ID_FIELD = re.compile(rb'"doc_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _lines(stream: BinaryIO, cap: int) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line, its size in bytes without the newline) of each line; a line over
    ``cap`` bytes comes as its first 64 KB, the rest read past and never held."""
    number = 0
    while line := stream.readline(cap + 1):
        number += 1
        size = len(line) - line.endswith(b"\n")
        if size > cap:
            line, more = line[:_HEAD], line
            while more and not more.endswith(b"\n"):
                more = stream.readline(_CHUNK)
                size += len(more) - more.endswith(b"\n")
        yield number, line, size


def _named_id(line: bytes) -> str | None:
    """The doc_id a (possibly broken or cut) JSONL line names, or None."""
    match = _DOC_ID_FIELD.search(line)
    if match is None:
        return None
    try:
        doc_id = json.loads(b'"' + match.group(1) + b'"')
    except ValueError:
        return None
    return doc_id or None


def _too_large(file: Path) -> str | None:
    """Why ``file`` is above the size cap (before reading any of it), or None."""
    try:
        size = file.stat().st_size
    except OSError:
        return None  # the reader reports why it cannot be opened
    limit = qabot_settings.max_file_bytes()
    if size <= limit:
        return None
    return (
        f"too large ({size / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB, "
        "set QABOT_MAX_FILE_MB to change it)"
    )


def _read(reader: Callable[[Path], Extracted], file: Path) -> tuple[Extracted | None, str | None]:
    """(what ``reader`` extracted, None), or (None, why it could not read ``file``)."""
    try:
        return reader(file), None
    except ReadError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"cannot open file: {exc.strerror or exc}"
    except ImportError as exc:
        return None, _missing_library(file, exc)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the corpus
        return None, f"cannot read {file.suffix.lower()} file: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _missing_library(file: Path, exc: ImportError) -> str:
    """A skip reason for a reader whose library is missing or broken, with what to do."""
    return (
        f"cannot read {file.suffix.lower()} files here: a library failed to import"
        f" ({_one_line(exc)}); reinstall the project's dependencies: pip install -e ."
    )


def _jsonl_document(line: str) -> Document:
    """One JSONL record to a Document; ValueError with a one-line reason if malformed."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise ValueError("record is not a JSON object")
    for name in ("doc_id", "title", "text"):
        if not isinstance(record.get(name), str):
            raise ValueError(f"missing or non-string field {name!r}")
    if not record["doc_id"]:
        raise ValueError("empty doc_id")
    for name in ("source", "date", "url", *STATED_FIELDS):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise ValueError(f"field {name!r} must be a string or null")
    text = record["text"].replace("\r\n", "\n").replace("\r", "\n").strip()
    return Document(
        doc_id=record["doc_id"],
        title=record["title"].strip() or default_title(text, record["doc_id"]),
        text=text,
        source=_optional_str(record.get("source")),
        date=normalize_date(record.get("date")),
        url=_optional_str(record.get("url")),
        **{name: _stated(name, record.get(name)) for name in STATED_FIELDS},
    )


def load_corpus(paths: Sequence[Path], follow_symlinks: bool = False) -> LoadReport:
    """Load every folder (recursively) or .jsonl file in ``paths``; unknown paths raise.
    Links inside a folder that lead out of it are skipped unless ``follow_symlinks``."""
    loader = _Loader(follow_symlinks)
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            loader.load_folder(path.resolve())
        elif path.is_file() and path.suffix.lower() == ".jsonl":
            loader.load_jsonl(path)
        elif path.is_file() and path.suffix.lower() in READERS:
            loader.load_file(path.resolve(), path.resolve().parent)
        elif path.exists():
            raise CorpusError(f"not a corpus folder or .jsonl file: {path}")
        else:
            raise CorpusError(f"corpus folder not found: {path}")
    return loader.report
