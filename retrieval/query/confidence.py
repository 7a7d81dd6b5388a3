"""Should the bot trust its top passage? A calibrated probability, not a single rule.

A few features of each question, all read off what answering computes anyway
(word coverage of the top passage, the dense and BM25 candidate lists), go into a
small logistic regression whose coefficients ship in ``retrieval/query/data/confidence.json``
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
from retrieval.query.marking import Idf
from retrieval.query.question_types import ASKS_DATE, ASKS_PLACE
from retrieval.query.search import Passage, SearchSignals
from retrieval.tokens import english_function_words, jieba_words

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
    "type_missing",  # 1 if the question asks for a number, date or place the best sentences lack
    "numbers_missing",  # share of the question's numbers (2019, 130, 第一次) the top passage lacks
    "latin_agree",  # 1 for a Latin-script question whose dense and BM25 best chunks agree
    # what a library adds (issue 26; see library_features)
    "named",  # 1 if the question names the top document by title (《X条例》, X法规定…)
    "place_match",  # 1 if the question names a place and the top document is its rule
    "article_named",  # 1 if the top result is the article the question names, whole
    "named_missing",  # 1 if named or place_match, and type_missing: the right rule lacks it
    "named_uncovered",  # named or place_match: IDF share of the words beyond the title missing
)
SHIPPED = Path(__file__).parent / "data" / "confidence.json"


_NUM = "0-9零〇一二两三四五六七八九十百千万亿"
_NUMBER = re.compile(rf"[0-9]+(?:\.[0-9]+)?|第[{_NUM}]+")
# The asked-for type, in a folded question (search_key: simplified, lower case).
_ASKS_AMOUNT = re.compile(
    r"多少|(?<!哪)几|多大|多长|多高|多远|多重|多久"  # 哪几种 asks which ones, not how many
    r"|how many|how much|how large|how long|what percentage"
)
_ASKS_PERSON = re.compile(r"([\u4e00-\u9fff]{2})(?:是|为)谁[?？]?$")  # …的组长是谁
_UNITS = frozenset(
    "平方公里 平方米 公里 千米 米 亿元 万元 元 万人 人次 人 吨 万吨 公顷 亩 张 个 项 家 次 座 "
    "所 名 位 条 种 批 届 年 天 岁 倍 辆 台 户 % 百分点 日 小时 分钟 周 学时 周岁 公斤 千克 克 "
    "立方米 层 间".split()
)
# How a text may write the unit a question asks in (几天 → 七日, 多少岁 → 18周岁, 多少名 → 25人).
_UNIT_FORMS = {
    "天": "(?:天|日|个?工作日)",
    "日": "(?:日|天|个?工作日)",
    "岁": "周?岁",
    "年": "周?年",
    "名": "[名人]",
    "人": "[人名]",
}
_AREA = "平方公里|平方米|公顷|亩|km2|m2"
_ASKS_SHARE = re.compile(r"比例|百分之几|百分比|费率|比率|税率|利率|占比|几成|percentage|rate")
_MONEY = "亿元|万元|元"
_DATE = re.compile(
    rf"[0-9]{{1,4}}年|[0-9{_NUM}]{{1,3}}月|[0-9{_NUM}]{{1,3}}日|[0-9]{{4}}[.\-/][0-9]{{1,2}}"
    r"|[元初末]年|世纪|年代|之日|[当次]日|[当次]年"  # 自…之日起: how a rule states a time
)
_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|"
    "广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门|雄安"
)
_PLACE = re.compile(rf"[\u4e00-\u9fff]{{1,6}}?(?:省|市|县|区|镇|村|乡|岛|州|湾|港)|{_PROVINCES}")
# A rule's last article dates it (本条例自2022年1月1日起施行; 2001年…通过的《…》同时废止): no
# answer to 哪一天是志愿者日.
_IN_FORCE = re.compile(r"自[^。；;\n]{1,24}?起(?:施行|实施|生效|执行)|[^。；;\n]*同时废止")
_ASKS_IN_FORCE = re.compile(r"施行|生效|起实施|开始实施|何时实施|什么时候实施|effect|force")
# A rule's penalties (处一万元以上十万元以下罚款) state amounts that answer only a question
# about a penalty, not one about a price, a fee or a subsidy.
_FINE = re.compile(r"[^，,；;。\n]*(?:罚款|罚金)[^，,；;。\n]*")
_ASKS_FINE = re.compile(r"罚|fine|penalt")
_SENTENCE_END = re.compile(r"[。！？；!?;\n]+")
_AMOUNT = rf"(?:[0-9]+(?:\.[0-9]+)?|[{_NUM}]+)[{_NUM}]*"
_SHARE = re.compile(  # 30%, 百分之三十, 三分之一, 七成, 1:1
    rf"[0-9]+(?:\.[0-9]+)?\s*%|百分之[{_NUM}点]+|[{_NUM}]+分之[{_NUM}]+|[{_NUM}]成|[0-9]+\s*[:：]\s*[0-9]+"
)


def asked_types(question_key: str) -> list[re.Pattern[str]]:
    """Patterns for what the question asks for: a date, a place, an amount (with its unit
    where the question names one), the holder of a role (…的组长是谁); empty if none."""
    wanted = []
    if ASKS_DATE.search(question_key):
        wanted.append(_DATE)
    if ASKS_PLACE.search(question_key):
        wanted.append(_PLACE)
    person = _ASKS_PERSON.search(question_key)
    if person and person.group(1)[-1] in "长任席编记监":  # 会长, 主任, 主席, 主编, 书记
        role = re.escape(person.group(1))  # with a name beside it that the question lacks
        wanted.append(re.compile(f"{role}[\u4e00-\u9fff]{{2}}|[\u4e00-\u9fff]{{2}}{role}"))
    amount = _ASKS_AMOUNT.search(question_key)
    if amount and not ASKS_DATE.match(question_key, amount.start()):
        after = question_key[amount.end() :].lstrip("万亿千百")
        first = next(iter(jieba_words(after)), "") if after else ""
        if first == "年":  # 几年: a span of years, not a year such as 2019年
            unit = "(?<![0-9])[0-9]{1,2}年|[一二三四五六七八九十两]+年"
            wanted.append(re.compile(unit))
            return wanted
        if _ASKS_SHARE.search(question_key):  # 配建比例是多少, 费率是百分之几: a share
            wanted.append(_SHARE)
            return wanted
        unit = _UNIT_FORMS.get(first, re.escape(first)) if first in _UNITS else ""
        if not unit and "面积" in question_key:
            unit = f"(?:{_AREA})"
        elif not unit and re.search("金额|投资|资金|总额|多少钱", question_key):
            unit = f"(?:{_MONEY})"
        wanted.append(re.compile(f"{_AMOUNT}[多余]?{unit}"))
    return wanted


def best_sentences(question_words: Mapping[str, float], passage_key: str, keep: int = 3) -> str:
    """The ``keep`` sentences of the passage that hold the most IDF of the question's words."""
    sentences = [s for s in _SENTENCE_END.split(passage_key) if s.strip()]
    scored = sorted(sentences, key=lambda s: -sum(v for w, v in question_words.items() if w in s))
    return "\n".join(scored[:keep])


def answer_features(
    question_key: str, passage_key: str, weights: Mapping[str, float]
) -> dict[str, float]:
    """``type_missing`` and ``numbers_missing``: does the passage hold what is asked?

    Cheap string checks on the best sentences: a question asking 多少张床位 needs a number
    followed by 张 there (one the question does not itself contain); a question naming
    2021 or 第一次 needs those in the passage."""
    wanted = asked_types(question_key)
    missing_type = 0.0
    if wanted:
        # a Latin-script question's words match no sentence: read the whole passage
        where = best_sentences(weights, passage_key) if _CJK.search(question_key) else passage_key
        if not _ASKS_IN_FORCE.search(question_key):  # 本条例自2022年1月1日起施行 answers that only
            where = _IN_FORCE.sub("", where)
        if not _ASKS_FINE.search(question_key):  # 处两百元以上一千元以下罚款 is no price
            where = _FINE.sub("", where)
        found = [m for w in wanted for m in w.findall(where) if m not in question_key]
        missing_type = 0.0 if found else 1.0
    numbers = set(_NUMBER.findall(question_key))
    absent = [n for n in numbers if n not in passage_key]
    return {
        "type_missing": missing_type,
        "numbers_missing": len(absent) / len(numbers) if numbers else 0.0,
    }


def content_words(key: str) -> list[str]:
    """Words of a normalised question that carry its meaning."""
    return [w for w in jieba_words(key) if _CONTENT.search(w) and w not in QUESTION_WORDS]


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
    chinese = sum(1 for w in words if _CJK.search(w)) / len(words) if words else 0.0
    agree = float(signals.dense_top_doc == signals.keyword_top_doc == top.doc_id)
    return {
        "coverage": sum(weights[w] for w in found) / total if total else 0.0,
        "missing_rare": max(missing) / rarest if missing and rarest else 0.0,
        "rare_found": min(len(rare), 3) / 3,
        "chinese": chinese,
        "dense_top": signals.dense_top,
        "dense_margin": signals.dense_top - signals.dense_median,
        "keyword_strength": kw_top / token_mass if token_mass else 0.0,
        "keyword_margin": (kw_top - kw_second) / kw_top if kw_top > 0 else 0.0,
        "agree": agree,
        "unseen": sum(v for v in weights.values() if v >= rarest - 1e-9) / total if total else 0.0,
        **answer_features(question_key, top_key, weights),
        "latin_agree": latin_agree(words, top_key, agree, chinese),
    }


def latin_agree(words: Sequence[str], top_key: str, agree: float, chinese: float) -> float:
    """``agree`` for a Latin-script question whose top passage holds one of its words that
    carries meaning, else 0: "What is the capital of France?" agreed through "the" and "of"
    in the one English phrase of a Chinese document, and was answered with confidence."""
    stop = english_function_words()
    backed = any(w in top_key for w in words if not _CJK.search(w) and w not in stop)
    return agree if chinese < 0.5 and backed else 0.0


def topic_uncovered(question_key: str, title_key: str, found_key: str, idf: Idf) -> float:
    """The IDF share of the question's content words beyond the top document's title that
    ``found_key`` (the passages search found of that document) lacks, 0 when the question has
    none: ``山东省物业管理条例对无人机飞行有什么规定`` names the rule, and 无人机 and 飞行 are in
    none of its passages search found. Only Chinese words count: an English question's words
    are in no Chinese text (``In Henan, what is the fine…`` would be all uncovered)."""
    words = [
        w
        for w in dict.fromkeys(content_words(question_key))
        if _CJK.search(w) and w not in title_key
    ]
    total = sum(idf(w) for w in words)
    return sum(idf(w) for w in words if w not in found_key) / total if total else 0.0


def library_features(
    named: bool, place_match: bool, article: bool, type_missing: float, uncovered: float
) -> dict[str, float]:
    """The features a policy library adds: what the question names (a regulation's title,
    a place, an article) and whether the top result is it. A corpus of news pages or
    encyclopedia articles has them 0 nearly always.

    ``named_missing`` joins them with ``type_missing``: once the question's own rule is
    found, whether the asked-for figure stands in it is what decides (浙江省志愿服务条例
    asked for 多少小时, a figure it never gives). Added on their own, ``named`` and
    ``place_match`` outweighed the missing figure. ``named_uncovered`` joins them with
    :func:`topic_uncovered` (``uncovered``): the rule found, what the question asks about
    beyond its name is not in the passage."""
    found = named or place_match
    return {
        "named": float(named),
        "place_match": float(place_match),
        "article_named": float(article),
        "named_missing": float(found and type_missing > 0),
        "named_uncovered": uncovered if found else 0.0,
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
    path = Path(path or qabot_settings.confidence_model() or SHIPPED)
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
        default_factory=lambda: _cached_model(qabot_settings.confidence_model())
    )

    @classmethod
    def from_file(cls, path: str | None) -> AbstentionPolicy:
        """The policy of the model in ``path`` (None: the shipped model)."""
        return cls(_cached_model(path))

    def probability(self, values: Mapping[str, float]) -> float:
        return self.model.probability(values)

    def confident(self, probability: float) -> bool:
        return probability >= self.model.threshold
