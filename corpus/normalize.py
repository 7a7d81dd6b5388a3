"""Search keys: one comparable form for traditional/simplified, full/half-width text."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def search_key(text: str) -> str:
    """Fold ``text`` for matching only (never shown): NFKC, traditional→simplified, lowercase."""
    folded = unicodedata.normalize("NFKC", text)
    return _t2s().convert(folded).lower()
