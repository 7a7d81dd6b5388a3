"""The chunks collection: one row per chunk, everything serving needs.

Fields: the chunk id (primary key), ``born`` (the version number that wrote the row),
``doc_key`` (one per document content, as the local store's), doc_id, the chunk's place
(``idx``, ``start``, ``stop``) and clean text, the text around it needed to rebuild the
document byte for byte (``head``: before the first chunk; ``tail``: between this chunk's
end and the next one's start), the document's length, the citation fields, the dense
vector and the keyword field.

Citation fields are plain VARCHARs listed in :data:`CITATION_FIELDS`: a new one (say
``section``, ``article``, ``doc_number``) is one more entry there and one more key in
:func:`citation_values`; collections built before it need ``ingest --rebuild``.
"""

from __future__ import annotations

from corpus.document import Document
from qabot_settings import MILVUS_KEYWORDS

# name -> max_length (bytes, UTF-8); longer values are cut at a character boundary
CITATION_FIELDS = {"title": 2_048, "date": 64, "source": 2_048, "url": 4_096}
# Where in the document (per chunk, from the chunker) and what the document states of itself
# (per document, corpus.structure.document_info); "" stands for none.
STRUCTURE_FIELDS = {"section": 4_096, "article": 256, "doc_number": 512, "issuer": 1_024}
TEXT_MAX = 65_535
HNSW = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 200}}
HNSW_SEARCH = {"metric_type": "IP", "params": {"ef": 256}}
KEYWORD_MODES = MILVUS_KEYWORDS  # QABOT_MILVUS_KEYWORDS: sparse or bm25
IVF_FROM = 2_000_000  # chunks at build time from which the dense field gets IVF_FLAT, not HNSW
DENSE_TYPES = ("HNSW", "IVF_FLAT")  # what dense_index() chooses from


def dense_index(chunks: int) -> dict:
    """HNSW below :data:`IVF_FROM` chunks (fast, memory-hungry graph); IVF_FLAT above, with
    nlist ≈ 4·√n (the FAISS guideline) — both exist in Milvus Lite and on a server."""
    if chunks < IVF_FROM:
        return HNSW
    nlist = min(65_536, int(4 * chunks**0.5))
    return {"index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": nlist}}


def dense_search(index: dict) -> dict:
    """Search parameters for a dense index made by :func:`dense_index`."""
    if index.get("index_type") == "IVF_FLAT":
        return {"metric_type": "IP", "params": {"nprobe": max(1, index["params"]["nlist"] // 8)}}
    return HNSW_SEARCH


ROW_FIELDS = ["id", "doc_key", "doc_id", "idx", "start", "stop", *STRUCTURE_FIELDS]
DOC_FIELDS = ["idx", "start", "stop", "text", "head", "tail", "doc_chars", *CITATION_FIELDS]


def clip(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = value.encode("utf-8")
    return value if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def citation_values(doc: Document) -> dict[str, str]:
    """The document's citation and self-stated fields (number, issuer), clipped to fit."""
    from corpus.structure import info_of

    info = info_of(doc)
    values = {name: getattr(doc, name) or "" for name in CITATION_FIELDS}
    values |= {"doc_number": info.doc_number or "", "issuer": info.issuer or ""}
    return {
        name: clip(value, (CITATION_FIELDS | STRUCTURE_FIELDS)[name])
        for name, value in values.items()
    }


def structure_values(section: str | None, article: str | None) -> dict[str, str]:
    """A chunk's heading path and article, clipped to fit ("" for none)."""
    return {
        "section": clip(section or "", STRUCTURE_FIELDS["section"]),
        "article": clip(article or "", STRUCTURE_FIELDS["article"]),
    }


def chunks_schema(client, dimension: int, keywords: str, dense: dict = HNSW):
    """The chunks collection's schema and index parameters."""
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("born", DataType.INT64)
    schema.add_field("doc_key", DataType.INT64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1_024)
    schema.add_field("idx", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("stop", DataType.INT64)
    schema.add_field("doc_chars", DataType.INT64)
    schema.add_field("text_hash", DataType.VARCHAR, max_length=64)
    if keywords == "bm25":
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=TEXT_MAX,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "jieba"},
        )
    else:
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("head", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("tail", DataType.VARCHAR, max_length=TEXT_MAX)
    for name, limit in (CITATION_FIELDS | STRUCTURE_FIELDS).items():
        schema.add_field(name, DataType.VARCHAR, max_length=limit)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("keywords", DataType.SPARSE_FLOAT_VECTOR)
    index = client.prepare_index_params()
    index.add_index("dense", **dense)
    if keywords == "bm25":
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["keywords"],
            )
        )
        index.add_index("keywords", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    else:
        index.add_index("keywords", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    for name in ("doc_key", "born"):
        index.add_index(name, index_type="INVERTED")
    return schema, index
