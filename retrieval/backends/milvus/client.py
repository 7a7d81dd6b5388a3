"""Connecting to Milvus and the small key-value ``meta`` collection that holds manifests.

One client per (URI, token) and process: a Milvus Lite file (``*.db``) is served by an
in-process server that only one process may open (file lock), so every part of a process
must share it. The client is a :class:`Client`: every Milvus failure comes out as one line
naming where Milvus is (and, for Milvus Lite, what to do), never a traceback; Milvus Lite's
own error log (a traceback on stderr per failure) is captured to say what broke.

The ``<prefix>_meta`` collection maps a key to a text value. Values longer than one
VARCHAR are compressed and split into numbered pieces. The key ``current`` names the live
version; replacing that one row is how a version is published (see docs/scale-out.md).
"""

from __future__ import annotations

import base64
import binascii
import collections
import errno
import functools
import json
import logging
import threading
import zlib
from pathlib import Path
from typing import Any

from retrieval.errors import ManifestError, RetrievalError

log = logging.getLogger(__name__)

PIECE = 60_000  # characters of base64 per meta row (VARCHAR max_length is 65,535)
CURRENT = "current"
REBUILD = "python -m bot ingest --rebuild"
_clients: dict[tuple[str, str], Client] = {}
_loaded: set[tuple[int, str]] = set()  # (client id, collection) loaded by this process
_lock = threading.Lock()


class MilvusUnavailableError(RetrievalError):
    """Milvus cannot be reached or refused a request."""


class MilvusDamagedError(RetrievalError):
    """A Milvus Lite data folder cannot be read; ``ingest --rebuild`` moves it aside."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def one_line(exc: BaseException) -> str:
    """A Milvus exception's message without its wrapping, on one line."""
    text = getattr(exc, "message", "") or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]


def lite_path(uri: str) -> Path | None:
    """The data folder of a Milvus Lite URI (a path ending in ``.db``); None for a server."""
    if uri.startswith(("http://", "https://", "tcp://", "unix:")) or not uri.endswith(".db"):
        return None
    return Path(uri).expanduser().resolve()


def check_uri(uri: str) -> str:
    """``uri`` if it names a Milvus Lite file or a server; else a one-line error.

    Creates nothing: a Milvus Lite file's folder must exist (see :func:`missing_folder`).
    """
    if uri.startswith(("http://", "https://", "tcp://", "unix:")):
        return uri
    if not uri.endswith(".db"):
        raise RetrievalError(
            f"QABOT_MILVUS_URI {uri!r}: give http://host:19530 (a server or cluster) "
            "or a file path ending in .db (embedded Milvus Lite)"
        )
    return str(lite_path(uri))


def missing_folder(path: Path) -> RetrievalError:
    """The error for a Milvus Lite file whose folder does not exist (nothing creates it)."""
    return RetrievalError(
        f"QABOT_MILVUS_URI {path}: the folder {path.parent} does not exist; "
        "create it, or give a .db path in an existing folder"
    )


def damaged(path: Path, reason: str) -> MilvusDamagedError:
    return MilvusDamagedError(
        f"the Milvus Lite data {path} cannot be read ({reason}); rebuild it: {REBUILD} "
        "(it moves the damaged data aside)",
        reason,
    )


class _LiteLog(logging.Handler):
    """Milvus Lite's own error records: kept (to name a failure's cause), not printed.

    Milvus Lite logs every failed request with a traceback; the user gets one line instead.
    With ``-v`` (the root logger at INFO or below) the records go on to the usual output too.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.causes: collections.deque[tuple[str, BaseException]] = collections.deque(maxlen=32)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.causes.append((record.getMessage(), record.exc_info[1]))

    def take(self, reason: str, path: Path) -> BaseException | None:
        """The latest logged exception behind ``reason`` (or naming ``path``), if any; the
        records so far are dropped (a later failure must not find an earlier cause)."""
        found = None
        for message, exc in reversed(self.causes):
            if (str(exc) and str(exc) in reason) or str(path) in message:
                found = exc
                break
        self.causes.clear()
        return found


_lite_log = _LiteLog()


def _quiet_milvus() -> None:
    lite = logging.getLogger("milvus_lite")
    if _lite_log not in lite.handlers:
        lite.addHandler(_lite_log)
    lite.propagate = logging.getLogger().isEnabledFor(logging.INFO)  # -v: shown as well
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # we raise one-line errors
    # Milvus Lite's in-process server logs pymilvus's AllocTimestamp call after
    # create_index (not implemented there, harmless) as an error with a traceback.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)


def failure(uri: str, exc: Exception, doing: str) -> RetrievalError:
    """One line for a Milvus failure: for Milvus Lite, what broke and what to do."""
    reason = one_line(exc)
    path = lite_path(uri)
    if path is None:
        return MilvusUnavailableError(
            f"Milvus at {uri} failed ({doing}: {reason}); this is the server's side: see its "
            "logs (ingest --rebuild writes a new collection but cannot repair a server)"
        )
    cause = _lite_log.take(reason, path)
    if cause is not None and type(cause).__name__ == "DataDirLockedError":
        return MilvusUnavailableError(
            f"the Milvus Lite file {path} is open in another process (one process at a time "
            "may open it); stop that process, or serve the file with milvus-lite server "
            "(docs/scale-out.md)"
        )
    if isinstance(cause, PermissionError):
        return MilvusUnavailableError(
            f"permission denied: {cause.filename or path}; check the owner and permissions"
        )
    if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
        return MilvusUnavailableError(
            f"no space left on the device {cause.filename or path}; free some space and "
            "run it again"
        )
    if cause is not None or getattr(exc, "code", None) == 1:  # the engine itself broke
        return damaged(path, one_line(cause) if cause is not None else reason)
    return MilvusUnavailableError(f"Milvus Lite ({path}) failed to {doing}: {reason}")


class Client:
    """A ``MilvusClient`` whose every failure is a one-line error (see :func:`failure`)."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client = client
        self.uri = uri

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            from pymilvus.exceptions import MilvusException

            try:
                return attr(*args, **kwargs)
            except MilvusException as exc:
                raise failure(self.uri, exc, name) from exc

        return call


def connect(uri: str, token: str = "") -> Client:
    """The process's client for ``uri`` (connected and checked), or a one-line error.

    A Milvus Lite file is created when it does not exist yet, never its folder.
    """
    uri = check_uri(uri)
    path = lite_path(uri)
    with _lock:
        client = _clients.get((uri, token))
        if client is not None:
            return client
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        _quiet_milvus()
        if path is not None:
            if not path.parent.is_dir():
                raise missing_folder(path)
            if path.exists() and not path.is_dir():
                raise damaged(path, "a file is there, not a Milvus Lite data folder")
        client = None
        try:
            client = MilvusClient(uri=uri, token=token, timeout=10)
            client.list_collections(timeout=10)
        except MilvusException as exc:
            _close(client, path)
            if path is None:
                raise MilvusUnavailableError(
                    f"cannot reach Milvus at {uri}: {one_line(exc)}"
                ) from None
            raise failure(uri, exc, "open") from None
        _clients[(uri, token)] = Client(client, uri)
        return _clients[(uri, token)]


def _close(client: Any, path: Path | None) -> None:
    """Close a pymilvus client, and stop Milvus Lite's in-process server of ``path`` (it
    holds the data folder's lock)."""
    try:
        if client is not None:
            client.close()
    except Exception:  # noqa: BLE001 - closing what failed: nothing more to say
        pass
    if path is not None:
        try:
            from milvus_lite.server_manager import server_manager_instance
        except ImportError:  # no Milvus Lite: no server of ours either
            return
        server_manager_instance.release_server(str(path))


def disconnect(uri: str, token: str = "") -> None:
    """Close this process's client for ``uri`` (a Milvus Lite file: also its server, so
    another process, or a rename, may have the folder)."""
    uri = check_uri(uri)
    with _lock:
        client = _clients.pop((uri, token), None)
        if client is not None:
            _loaded.difference_update({k for k in _loaded if k[0] == id(client)})
        _close(client._client if client is not None else None, lite_path(uri))


def ensure_loaded(client, name: str, index_params=None) -> None:
    """Load ``name`` for search and query once per process (Milvus keeps it released).

    ``index_params`` (a callable giving the collection's index parameters) allows one
    repair when the load fails: Milvus Lite writes its per-segment index files in place,
    not through a temporary file and a rename, so a ``kill -9`` while it builds them
    leaves a truncated file that every later load trips over. Indexes are derived from
    the rows, which are intact, so they are dropped and built again.
    """
    key = (id(client), name)
    if key in _loaded:
        return
    try:
        client.load_collection(name)
    except Exception as exc:  # noqa: BLE001 - any engine error: try the one known repair
        if index_params is None:
            raise
        log.warning("loading %s failed (%s); rebuilding its indexes", name, str(exc)[:200])
        client.release_collection(name)
        for index_name in client.list_indexes(name):  # Milvus Lite drops all at the first
            if index_name in client.list_indexes(name):
                client.drop_index(name, index_name)
        client.create_index(name, index_params())
        client.load_collection(name)
    _loaded.add(key)


def forget_loaded(client, name: str) -> None:
    _loaded.discard((id(client), name))


def meta_name(prefix: str) -> str:
    return f"{prefix}_meta"


def ensure_meta(client, prefix: str) -> str:
    """Create the meta collection if it is missing; its name."""
    from pymilvus import DataType

    name = meta_name(prefix)
    if client.has_collection(name):
        ensure_loaded(client, name, lambda: _meta_index(client))
        return name
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("value", DataType.VARCHAR, max_length=65_535)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector field
    client.create_collection(name, schema=schema, index_params=_meta_index(client))
    ensure_loaded(client, name, lambda: _meta_index(client))
    return name


def _meta_index(client):
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    return index


def read_value(client, prefix: str, key: str) -> str | None:
    """The text stored under ``key``, or None."""
    name = meta_name(prefix)
    if not client.has_collection(name):
        return None
    ensure_loaded(client, name, lambda: _meta_index(client))
    rows = client.query(name, filter=f'key == "{key}"', output_fields=["value"])
    return rows[0]["value"] if rows else None


def write_value(client, prefix: str, key: str, value: str) -> None:
    """Replace the one row ``key`` (atomic for readers: they see the old or the new row)."""
    name = ensure_meta(client, prefix)
    client.upsert(name, [{"key": key, "value": value, "vec": [0.0, 0.0]}])


def write_blob(client, prefix: str, key: str, data: object) -> int:
    """Store ``data`` as compressed JSON in pieces ``key:0``, ``key:1``…; the piece count."""
    name = ensure_meta(client, prefix)
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    pieces = [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]
    for start in range(0, len(pieces), 16):
        rows = [
            {"key": f"{key}:{i}", "value": pieces[i], "vec": [0.0, 0.0]}
            for i in range(start, min(start + 16, len(pieces)))
        ]
        client.upsert(name, rows)
    return len(pieces)


def read_blob(client, prefix: str, key: str, pieces: int) -> object:
    """What :func:`write_blob` stored under ``key``; ManifestError if a piece is missing or
    the pieces do not decode (a damaged meta row)."""
    name = meta_name(prefix)
    ensure_loaded(client, name, lambda: _meta_index(client))
    keys = [f"{key}:{i}" for i in range(pieces)]
    found: dict[str, str] = {}
    for start in range(0, len(keys), 64):
        part = json.dumps(keys[start : start + 64])
        for row in client.query(name, filter=f"key in {part}", output_fields=["key", "value"]):
            found[row["key"]] = row["value"]
    if len(found) != pieces:
        raise ManifestError(f"{key} in {name} is incomplete ({len(found)}/{pieces} pieces)")
    text = "".join(found[k] for k in keys)
    try:
        return json.loads(zlib.decompress(base64.b64decode(text, validate=True)).decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{key} in {name} does not decode ({one_line(exc)})") from None


def delete_keys(client, prefix: str, keys: list[str]) -> None:
    name = meta_name(prefix)
    for start in range(0, len(keys), 256):
        client.delete(name, filter=f"key in {json.dumps(keys[start : start + 256])}")


def list_keys(client, prefix: str, starting: str) -> list[str]:
    """Meta keys that start with ``starting``."""
    name = meta_name(prefix)
    if not client.has_collection(name):
        return []
    ensure_loaded(client, name, lambda: _meta_index(client))
    rows = client.query(name, filter=f'key like "{starting}%"', output_fields=["key"], limit=16_384)
    return [r["key"] for r in rows]
