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
from retrieval.backends.milvus.schema import HNSW


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
    """The ``current`` pointer: {"version", "pieces"}, or None."""
    value = meta.read_value(client, prefix, meta.CURRENT)
    return json.loads(value) if value else None


def read_manifest(client, prefix: str, pointer: dict) -> MilvusManifest:
    data = meta.read_blob(client, prefix, manifest_key(pointer["version"]), pointer["pieces"])
    return MilvusManifest.from_json(data)


def live_filter(manifest: MilvusManifest) -> str:
    """The filter that shows exactly the version's rows."""
    expr = f"born <= {manifest.number}"
    if manifest.dead:
        expr += f" and doc_key not in {json.dumps(sorted(manifest.dead))}"
    return expr
