"""Connecting to Milvus and the small key-value ``meta`` collection that holds manifests.

One ``MilvusClient`` per (URI, token) and process: a Milvus Lite file (``*.db``) is served
by an in-process server that only one process may open (file lock), so every part of a
process must share it.

The ``<prefix>_meta`` collection maps a key to a text value. Values longer than one
VARCHAR are compressed and split into numbered pieces. The key ``current`` names the live
version; replacing that one row is how a version is published (see docs/scale-out.md).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import zlib
from pathlib import Path

from retrieval.errors import IndexNotFoundError, RetrievalError

log = logging.getLogger(__name__)

PIECE = 60_000  # characters of base64 per meta row (VARCHAR max_length is 65,535)
CURRENT = "current"
_clients: dict[tuple[str, str], object] = {}
_loaded: set[tuple[int, str]] = set()  # (client id, collection) loaded by this process
_lock = threading.Lock()


class MilvusUnavailableError(RetrievalError):
    """Milvus cannot be reached or refused a request."""


def one_line(exc: BaseException) -> str:
    """A Milvus exception's message without its wrapping, on one line."""
    text = getattr(exc, "message", "") or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]


def check_uri(uri: str) -> str:
    """``uri`` if it names a Milvus Lite file or a server; else a one-line error."""
    if uri.startswith(("http://", "https://", "tcp://", "unix:")):
        return uri
    if not uri.endswith(".db"):
        raise RetrievalError(
            f"QABOT_MILVUS_URI {uri!r}: give http://host:19530 (a server or cluster) "
            "or a file path ending in .db (embedded Milvus Lite)"
        )
    parent = Path(uri).expanduser().resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    return str(parent / Path(uri).name)


def connect(uri: str, token: str = ""):
    """The process's client for ``uri`` (connected and checked), or a one-line error."""
    uri = check_uri(uri)
    with _lock:
        client = _clients.get((uri, token))
        if client is not None:
            return client
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        logging.getLogger("milvus_lite").setLevel(logging.WARNING)
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # we raise one-line errors
        # Milvus Lite's in-process server logs pymilvus's AllocTimestamp call after
        # create_index (not implemented there, harmless) as an error with a traceback.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        try:
            client = MilvusClient(uri=uri, token=token, timeout=10)
            client.list_collections(timeout=10)
        except MilvusException as exc:
            where = "open the Milvus Lite file" if uri.endswith(".db") else "reach Milvus at"
            raise MilvusUnavailableError(f"cannot {where} {uri}: {one_line(exc)}") from None
        _clients[(uri, token)] = client
        return client


log = logging.getLogger(__name__)


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
    """What :func:`write_blob` stored under ``key``; IndexNotFoundError if a piece is missing."""
    name = meta_name(prefix)
    ensure_loaded(client, name, lambda: _meta_index(client))
    keys = [f"{key}:{i}" for i in range(pieces)]
    found: dict[str, str] = {}
    for start in range(0, len(keys), 64):
        part = json.dumps(keys[start : start + 64])
        for row in client.query(name, filter=f"key in {part}", output_fields=["key", "value"]):
            found[row["key"]] = row["value"]
    if len(found) != pieces:
        raise IndexNotFoundError(f"{key} in {name} is incomplete ({len(found)}/{pieces} pieces)")
    text = "".join(found[k] for k in keys)
    return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8"))


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
