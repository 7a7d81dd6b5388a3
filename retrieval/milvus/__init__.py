"""The Milvus backend (``QABOT_BACKEND=milvus``): see retrieval.milvus.backend and
docs/scale-out.md."""
