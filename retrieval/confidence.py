"""Should the bot trust its top passage? A calibrated probability, not a single rule.

A few features of each question, all read off what answering computes anyway
(word coverage of the top passage, the dense and BM25 candidate lists), go into a
small logistic regression whose coefficients ship in ``retrieval/data/confidence.json``
with a note of what they were fitted on. The fit itself happens offline
(``benchmarks/calibrate.py``, scikit-learn); here it is applied with plain Python.
See docs/quality.md for the data and the figures.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import qabot_settings
from retrieval.errors import RetrievalError
from retrieval.keywords import jieba_words
from retrieval.marking import Idf
from retrieval.search import Passage, SearchSignals

QUESTION_WORDS = frozenset(
    "什么 多少 哪些 哪个 哪位 哪里 哪 是 的 了 吗 呢 在 和 与 有 为 要 对 中 上 下 是否 怎样 怎么 "
    "如何 几 谁 一 个 们 那 这 其 及 还 从 到 由 被 把 将 等 会 能 可 就 也 都 而 并 或 时候 "
    "哪天 哪一年 哪年 几项 几点 多长时间 哪份 哪些地方 两家 那次 那片 打算 提到 多大 什么样 是从 "
    "一共 分别 具体 包括 主要 情况 方面 哪种 哪家 哪支 请问 关于 "
    "计划 准备 需要 应该 能够 可以".split()
)
_CONTENT = re.compile(r"[\u3400-\u9fff0-9a-z]")
_CJK = re.compile(r"[\u3400-\u9fff]")
RARE = 0.5  # a word whose IDF is at least this share of the rarest possible counts as rare

FORMAT = "qabot-confidence/1"
FEATURES = (
    "coverage",  # IDF-weighted share of the question's content words in the top passage
    "missing_rare",  # relative IDF of the rarest content word the top passage lacks (0: none)
    "rare_found",  # rare content words found in the top passage (capped at 3, divided by 3)
    "chinese",  # share of the content words that are Chinese (0 for an English question)
    "dense_top",  # best dense similarity among the candidates
    "dense_margin",  # best dense similarity minus the candidates' median
    "keyword_strength",  # best BM25 score / summed IDF of the question's distinct tokens
    "keyword_margin",  # (best - second BM25 score) / best
    "agree",  # 1 if the best dense and the best BM25 chunk lie in the top passage's document
    "unseen",  # IDF share of the content words the index uses at most once (深圳 in 京津冀 texts)
)
SHIPPED = Path(__file__).parent / "data" / "confidence.json"
ENV_MODEL = "QABOT_CONFIDENCE_MODEL"


def content_words(key: str) -> list[str]:
    """Words of a normalised question that carry its meaning."""
    return [w for w in jieba_words(key) if _CONTENT.search(w) and w not in QUESTION_WORDS]


def word_coverage(question_key: str, passage_key: str, idf: Idf) -> float:
    """IDF-weighted share of the question's content words found in the passage."""
    words = content_words(question_key)
    total = sum(idf(w) for w in words)
    found = sum(idf(w) for w in words if w in passage_key)
    return found / total if total else 0.0


def question_features(
    question_key: str,
    tokens: Sequence[str],
    top: Passage,
    top_key: str,
    signals: SearchSignals,
    idf: Idf,
    rarest: float,
) -> dict[str, float]:
    """The :data:`FEATURES` of one question whose best passage is ``top`` (text ``top_key``).

    ``rarest`` is the IDF of a token the index never uses (the largest there is).
    """
    words = list(dict.fromkeys(content_words(question_key)))
    weights = {w: idf(w) for w in words}
    total = sum(weights.values())
    found = [w for w in words if w in top_key]
    missing = [weights[w] for w in words if w not in top_key]
    rare = [w for w in found if weights[w] >= RARE * rarest]
    token_mass = sum(idf(t) for t in set(tokens))
    kw_top, kw_second = signals.keyword_top, signals.keyword_second
    return {
        "coverage": sum(weights[w] for w in found) / total if total else 0.0,
        "missing_rare": max(missing) / rarest if missing and rarest else 0.0,
        "rare_found": min(len(rare), 3) / 3,
        "chinese": sum(1 for w in words if _CJK.search(w)) / len(words) if words else 0.0,
        "dense_top": signals.dense_top,
        "dense_margin": signals.dense_top - signals.dense_median,
        "keyword_strength": kw_top / token_mass if token_mass else 0.0,
        "keyword_margin": (kw_top - kw_second) / kw_top if kw_top > 0 else 0.0,
        "agree": float(signals.dense_top_doc == signals.keyword_top_doc == top.doc_id),
        "unseen": sum(v for v in weights.values() if v >= rarest - 1e-9) / total if total else 0.0,
    }


class ConfidenceModelError(RetrievalError):
    """The confidence model file is missing or malformed."""


@dataclass(frozen=True)
class ConfidenceModel:
    """A logistic regression over standardised features: P(the top passage answers)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    notes: Mapping[str, object] = field(default_factory=dict)

    def probability(self, values: Mapping[str, float]) -> float:
        rows = zip(self.features, self.mean, self.scale, self.weights, strict=True)
        z = self.bias + sum(w * (values[name] - m) / s for name, m, s, w in rows)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
            **dict(self.notes),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "confidence model") -> ConfidenceModel:
        """Check and build; anything wrong is one :class:`ConfidenceModelError` line."""

        def bad(why: str) -> ConfidenceModelError:
            return ConfidenceModelError(f"{where}: {why}")

        if not isinstance(data, dict):
            raise bad("not a JSON object")
        if data.get("format") != FORMAT:
            raise bad(f"format is {data.get('format')!r}, expected {FORMAT!r}")
        names = data.get("features")
        if not isinstance(names, list) or not names or not all(n in FEATURES for n in names):
            raise bad(f"'features' must be a non-empty list drawn from {', '.join(FEATURES)}")
        vectors = {}
        for key in ("mean", "scale", "weights"):
            values = data.get(key)
            if not isinstance(values, list) or len(values) != len(names):
                raise bad(f"'{key}' must be a list of {len(names)} numbers")
            vectors[key] = tuple(_number(v, key, bad) for v in values)
        if any(s <= 0 for s in vectors["scale"]):
            raise bad("'scale' values must be positive")
        bias = _number(data.get("bias"), "bias", bad)
        threshold = _number(data.get("threshold"), "threshold", bad)
        if not 0 < threshold < 1:
            raise bad(f"'threshold' must lie between 0 and 1, not {threshold}")
        known = {"format", "features", "mean", "scale", "weights", "bias", "threshold"}
        notes = {k: v for k, v in data.items() if k not in known}
        return cls(tuple(names), **vectors, bias=bias, threshold=threshold, notes=notes)


def _number(value: object, key: str, bad) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(f"'{key}' holds {value!r}, not a finite number")
    return float(value)


def load_model(path: Path | str | None = None) -> ConfidenceModel:
    """The model in ``path``, else in ``$QABOT_CONFIDENCE_MODEL``, else the shipped one."""
    path = Path(path or qabot_settings.raw(ENV_MODEL) or SHIPPED)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfidenceModelError(f"cannot read confidence model {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfidenceModelError(f"confidence model {path}: not JSON ({exc})") from None
    return ConfidenceModel.from_json(data, f"confidence model {path}")


@lru_cache(maxsize=4)
def _cached_model(path: str | None) -> ConfidenceModel:
    return load_model(path)


@dataclass(frozen=True)
class AbstentionPolicy:
    """Confident when the model's probability reaches its fitted threshold."""

    model: ConfidenceModel = field(
        default_factory=lambda: _cached_model(qabot_settings.raw(ENV_MODEL) or None)
    )

    def probability(self, values: Mapping[str, float]) -> float:
        return self.model.probability(values)

    def confident(self, probability: float) -> bool:
        return probability >= self.model.threshold
