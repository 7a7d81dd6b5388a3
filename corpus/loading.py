"""Loading corpora: folders of documents and JSONL files into Documents, with a report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import qabot_settings
from corpus.document import Document
from corpus.encoding import read_text
from corpus.readers import READERS, Extracted, ReadError
from corpus.sanitize import sanitize_document

SIDECAR = "sources.json"
_META_FIELDS = ("title", "source", "date", "url")
_TITLE_MAX = 100
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


class CorpusError(Exception):
    """A corpus path cannot be used at all; the message is one human-readable line."""


@dataclass
class LoadReport:
    """Documents loaded, and (path, reason) for every file or line that was skipped."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # (path, what was changed): metadata cut or dropped, control characters removed
    warnings: list[tuple[str, str]] = field(default_factory=list)


def shipped_corpus_dir() -> Path:
    """The seed corpus shipped with the package."""
    return Path(__file__).resolve().parent / "seed"


def normalize_date(value: object) -> str | None:
    """``YYYY-MM-DD`` from 2019-06-06, 2019/6/6, 2019.06.06 or 2019年6月6日; else None."""
    match = _DATE.match(value) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _optional_str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def default_title(text: str, stem: str) -> str:
    """The first meaningful line of ``text`` (letters, not just numbers), else ``stem``."""
    for line in text.split("\n")[:5]:
        line = line.strip()
        if sum(ch.isalpha() for ch in line) >= 2:
            return line if len(line) <= _TITLE_MAX else stem
    return stem


class _Loader:
    """Accumulates documents across corpus paths, enforcing unique doc_ids."""

    def __init__(self) -> None:
        self.report = LoadReport()
        self._origin: dict[str, str] = {}
        self._sidecars: dict[Path, dict[str, dict]] = {}

    def add(self, doc: Document, origin: str) -> None:
        doc, warnings = sanitize_document(doc)
        self.report.warnings.extend((origin, w) for w in warnings)
        if not doc.text.strip():
            self.report.skipped.append((origin, "empty document (no text left after cleaning)"))
        elif doc.doc_id in self._origin:
            reason = (
                f"duplicate doc_id {doc.doc_id!r} (already loaded from {self._origin[doc.doc_id]})"
            )
            self.report.skipped.append((origin, reason))
        else:
            self._origin[doc.doc_id] = origin
            self.report.documents.append(doc)

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
                    self.report.skipped.append((str(path), f"invalid {SIDECAR}: {exc}"))
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

    # --- sources ------------------------------------------------------------------
    def too_large(self, file: Path) -> bool:
        """Skip (with the reason) a file above the size cap, before reading any of it."""
        try:
            size = file.stat().st_size
        except OSError:
            return False  # the reader reports why it cannot be opened
        limit = qabot_settings.max_file_bytes()
        if size <= limit:
            return False
        self.report.skipped.append(
            (
                str(file),
                f"too large ({size / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB, "
                "set QABOT_MAX_FILE_MB to change it)",
            )
        )
        return True

    def load_file(self, file: Path, root: Path) -> None:
        reader = READERS.get(file.suffix.lower())
        if reader is None:
            self.report.skipped.append(
                (str(file), f"unsupported file type {file.suffix or '(none)'}")
            )
            return
        if self.too_large(file):
            return
        try:
            extracted = reader(file)
        except ReadError as exc:
            self.report.skipped.append((str(file), str(exc)))
            return
        except OSError as exc:
            self.report.skipped.append((str(file), f"cannot open file: {exc.strerror or exc}"))
            return
        except ImportError as exc:
            self.report.skipped.append((str(file), _missing_library(file, exc)))
            return
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the corpus
            reason = f"cannot read {file.suffix.lower()} file: {_one_line(exc)}"
            self.report.skipped.append((str(file), reason))
            return
        self.add(self._document(file, root, extracted), str(file))

    def _document(self, file: Path, root: Path, extracted: Extracted) -> Document:
        meta = self.metadata(file, root)
        title = _optional_str(meta.get("title")) or extracted.title
        return Document(
            doc_id=file.relative_to(root).as_posix(),
            title=title or default_title(extracted.text, file.stem),
            text=extracted.text,
            source=_optional_str(meta.get("source")) or extracted.source,
            date=normalize_date(meta.get("date")) or normalize_date(extracted.date),
            url=_optional_str(meta.get("url")) or extracted.url,
        )

    def load_folder(self, root: Path) -> None:
        for file in _walk(root):
            if file.suffix.lower() == ".jsonl":
                self.load_jsonl(file)
            else:
                self.load_file(file, root)

    def load_jsonl(self, path: Path) -> None:
        if self.too_large(path):
            return
        try:
            content = read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            self.report.skipped.append((str(path), f"cannot read JSONL: {exc}"))
            return
        for number, line in enumerate(content.split("\n"), 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                doc = _jsonl_document(line)
            except ValueError as exc:
                self.report.skipped.append((where, str(exc)))
                continue
            self.add(doc, where)


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


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order, without hidden paths or sidecars."""
    for file in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        parts = file.relative_to(root).parts
        if any(part.startswith(".") for part in parts) or file.name == SIDECAR:
            continue
        if file.is_file():
            yield file


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
    for name in ("source", "date", "url"):
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
    )


def load_corpus(paths: Sequence[Path]) -> LoadReport:
    """Load every folder (recursively) or .jsonl file in ``paths``; unknown paths raise."""
    loader = _Loader()
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
