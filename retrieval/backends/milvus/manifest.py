"""A Milvus version's manifest, kept in the meta collection, and the filter of its rows.

What a reader of version N sees (see docs/scale-out.md for why):

* the manifest of N (meta ``manifest:<name>``) and its vocabulary (token -> id, df);
* in the chunks collection it names, the rows with ``born <= N`` whose ``doc_key`` is not
  in the manifest's ``dead`` list — rows of an ingest still under way (or killed) have
  ``born > N``; rows of changed or removed documents are listed as dead until the next
  ingest deletes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from retrieval.backends.base import Manifest
from retrieval.backends.milvus import client as meta
from retrieval.backends.milvus.schema import DENSE_TYPES, HNSW, KEYWORD_MODES, chunks_schema
from retrieval.errors import ManifestError


@dataclass(frozen=True)
class MilvusManifest(Manifest):
    """The shared manifest plus where the version's rows live and how to filter them."""

    number: int = 0  # rows with born <= number belong to it
    collection: str = ""
    dead: list[int] = field(default_factory=list)  # doc_keys whose rows still exist
    keywords: str = "sparse"
    avgdl: float = 0.0  # average tokens per chunk when the collection was built
    next_doc_key: int = 0
    next_chunk_id: int = 0
    vocab_pieces: int = 0
    dense_index: dict = field(default_factory=lambda: dict(HNSW))  # see schema.dense_index


def manifest_key(version: str) -> str:
    return f"manifest:{version}"


def vocab_key(version: str) -> str:
    return f"vocab:{version}"


def read_current(client, prefix: str) -> dict | None:
    """The ``current`` pointer: {"version", "pieces", "number"}, or None; ManifestError if
    the row is damaged."""
    value = meta.read_value(client, prefix, meta.CURRENT)
    if not value:
        return None
    try:
        pointer = json.loads(value)
    except ValueError:
        pointer = None
    if (
        not isinstance(pointer, dict)
        or not isinstance(pointer.get("version"), str)
        or not _count(pointer.get("pieces"), 1)
    ):
        raise ManifestError(
            f"the current row of {meta.meta_name(prefix)} is damaged: {value[:80]!r}"
        )
    return pointer


def read_manifest(client, prefix: str, pointer: dict) -> MilvusManifest:
    """The manifest ``pointer`` names; ManifestError if it is damaged (does not decode, or
    holds values no ingest writes)."""
    data = meta.read_blob(client, prefix, manifest_key(pointer["version"]), pointer["pieces"])
    where = f"manifest {pointer['version']} in {meta.meta_name(prefix)}"
    try:
        manifest = MilvusManifest.from_json(data) if isinstance(data, dict) else None
    except TypeError:  # a field is missing
        manifest = None
    problem = "is not a manifest" if manifest is None else _problem(manifest, prefix, pointer)
    if problem:
        raise ManifestError(f"{where} {problem}")
    return manifest


def _count(value: object, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _problem(m: MilvusManifest, prefix: str, pointer: dict) -> str | None:
    """What in ``m`` no ingest writes, or None."""
    if m.version != pointer["version"]:
        return f"names another version ({m.version!r})"
    if not (_count(m.number, 1) and m.number == pointer.get("number", m.number)):
        return f"has a bad version number ({m.number!r})"
    if not isinstance(m.collection, str) or not m.collection.startswith(f"{prefix}_chunks_"):
        return f"names no chunks collection of {prefix} ({m.collection!r})"
    if m.keywords not in KEYWORD_MODES:
        return f"has an unknown keyword mode ({m.keywords!r})"
    counts = (m.chunks, m.next_doc_key, m.next_chunk_id)
    if not (all(_count(n) for n in counts) and _count(m.vocab_pieces, 1)):
        return "has a bad count (chunks, next keys or vocabulary pieces)"
    if not isinstance(m.dense_index, dict) or m.dense_index.get("index_type") not in DENSE_TYPES:
        return f"has an unknown dense index ({m.dense_index!r})"
    if not isinstance(m.model, dict) or not _count(m.model.get("dimension"), 1):
        return "has no model dimension"
    entries = m.documents.values() if isinstance(m.documents, dict) else [None]
    if not all(
        isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and _count(e[1], 1)
        for e in entries
    ):
        return "has a bad document entry"
    if not isinstance(m.dead, list) or not all(_count(k, 1) for k in m.dead):
        return "has a bad list of dead documents"
    if set(m.dead) & m.doc_keys():
        return "lists a live document as dead"
    return None


def check_rows(client, manifest: MilvusManifest) -> None:
    """ManifestError unless the version's filter admits exactly the chunks its manifest
    counts: a damaged manifest (another number, dead list or count) would otherwise answer
    from too few rows, or none, without a word."""
    name = manifest.collection
    if not client.has_collection(name):
        raise ManifestError(f"manifest {manifest.version} names {name}, which does not exist")
    meta.ensure_loaded(client, name, lambda: index_params(client, manifest))
    rows = client.query(
        name,
        filter=live_filter(manifest),
        output_fields=["count(*)"],
        consistency_level="Strong",  # a server: see every row the publish flushed
    )
    found = int(rows[0]["count(*)"]) if rows else 0
    if found != manifest.chunks:
        raise ManifestError(
            f"manifest {manifest.version} counts {manifest.chunks} chunks, "
            f"{name} holds {found} of that version"
        )


def index_params(client, manifest: MilvusManifest):
    """The chunks collection's index parameters, as ingest created them."""
    dimension = int(manifest.model["dimension"])
    return chunks_schema(client, dimension, manifest.keywords, manifest.dense_index)[1]


def live_filter(manifest: MilvusManifest) -> str:
    """The filter that shows exactly the version's rows."""
    expr = f"born <= {manifest.number}"
    if manifest.dead:
        expr += f" and doc_key not in {json.dumps(sorted(manifest.dead))}"
    return expr
