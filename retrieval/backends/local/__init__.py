"""The local backend: one index folder on this machine (see folder.py for its layout)."""

from retrieval.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
