"""The Milvus backend: versions in a Milvus Lite file or a Milvus server/cluster.

pymilvus is imported only when a client connects, so this package loads without the
``milvus`` extra.
"""

from retrieval.backends.milvus.backend import MilvusBackend

__all__ = ["MilvusBackend"]
