"""Should the bot trust its top passage? Abstain rather than show junk.

e5 similarities sit in a narrow band (0.8–0.95) for relevant and irrelevant
passages alike, so the decision rests on words instead: the IDF-weighted share
of the question's content words (jieba words, question words removed) that
occur in the top passage. A word the corpus never uses weighs most, so a
question about 深圳 or 成渝 fails even when its other words match.
Calibrated on tests/data/seed_questions.jsonl (see docs/quality.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.keywords import jieba_words
from retrieval.marking import Idf

QUESTION_WORDS = frozenset(
    "什么 多少 哪些 哪个 哪位 哪里 哪 是 的 了 吗 呢 在 和 与 有 为 要 对 中 上 下 是否 怎样 怎么 "
    "如何 几 谁 一 个 们 那 这 其 及 还 从 到 由 被 把 将 等 会 能 可 就 也 都 而 并 或 时候 "
    "哪天 哪一年 哪年 几项 几点 多长时间 哪份 哪些地方 两家 那次 那片 打算 提到 多大 什么样 是从 "
    "一共 分别 具体 包括 主要 情况 方面 哪种 哪家 哪支 请问 关于 "
    "计划 准备 需要 应该 能够 可以".split()
)
_CONTENT = re.compile(r"[\u3400-\u9fff0-9a-z]")


def content_words(key: str) -> list[str]:
    """Words of a normalised question that carry its meaning."""
    return [w for w in jieba_words(key) if _CONTENT.search(w) and w not in QUESTION_WORDS]


def word_coverage(question_key: str, passage_key: str, idf: Idf) -> float:
    """IDF-weighted share of the question's content words found in the passage."""
    words = content_words(question_key)
    total = sum(idf(w) for w in words)
    found = sum(idf(w) for w in words if w in passage_key)
    return found / total if total else 0.0


@dataclass(frozen=True)
class AbstentionPolicy:
    """Confident when the top passage covers at least ``min_coverage`` of the question."""

    min_coverage: float = 0.75

    def confident(self, coverage: float) -> bool:
        return coverage >= self.min_coverage
