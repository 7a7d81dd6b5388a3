"""Which sentence(s) of an excerpt answer the question (lexical, IDF-weighted).

The marked sentence is what a reader sees first, so it is chosen with care:

* the question's words (jieba) count by IDF, damped (``idf ** 0.5``) so that a rare
  name does not outweigh two ordinary words that pin the answer down;
* a word found in many sentences of the excerpt counts less there (the topic of a
  passage appears everywhere; what the question asks about appears once);
* a word found only in part (some of its characters) counts half as much;
* a 什么时候/哪一年 question prefers a sentence with a date, a 多少/几个 question one
  with a number;
* a line with no sentence end (a title, a heading) counts half;
* a sentence ending in a colon introduces what follows, so the next one is marked too;
  so is a runner-up scoring at least 3/4 of the best (the answer often spans two).

``idf`` is any callable ``token -> weight``; nothing here reads the whole corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from corpus.chunking import split_sentences
from corpus.normalize import search_key
from retrieval.keywords import jieba_words

Span = tuple[int, int]
IdfFn = Callable[[str], float]

IDF_POWER = 0.5
PARTIAL = 0.5  # weight of a word only some of whose characters occur
TYPE_BONUS = 0.1  # relative bonus for a sentence of the asked-for type
OFF_TOPIC_REACH = 0.3  # below this share of its content words found, a question is off-topic

_CONTENT = re.compile(r"[\u3400-\u9fff0-9a-z]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_ASKS_DATE = re.compile(
    r"什么时候|何时|哪一?年|哪一?天|几月|几号|哪个月|什么时间|几时|日期|\bwhen\b"
)
_ASKS_NUMBER = re.compile(
    r"多少|几[个项次位家条年天人名种届座所岁倍]|多大|多长|多高|多远|多久|多重|\bhow (many|much)\b"
)
_DATE = re.compile(
    r"\d{1,4}\s*[年月日]|[〇零一二三四五六七八九十]{2,4}年|[一二三四五六七八九十]{1,3}月|世纪|年代"
)
_NUMBER = re.compile(
    r"(?<![a-z0-9])\d|[一二三四五六七八九十百千万亿两]+[个项次位家条年天人名种届座所岁倍万亿%米]"
)
_INTRODUCES = re.compile(r"[：:]\s*$")
_ENDED = re.compile(r"[。！？；…!?;：:][”’」』）)】》\"']*\s*$")
RUNNER_UP = 0.75  # a second sentence scoring this close to the best is marked too
HEADING = 0.5  # a line with no sentence end (a title, a heading) rarely holds the answer


Idf = IdfFn  # a token's IDF over one index version (see retrieval.index.LoadedIndex.idf)


def question_words(question_key: str) -> list[str]:
    """The distinct words of a normalised question that can match text."""
    return list(dict.fromkeys(w for w in jieba_words(question_key) if _CONTENT.search(w)))


def _found(word: str, sentence_key: str) -> float:
    """1 if ``word`` occurs in the sentence, the share of its characters otherwise (halved)."""
    if word in sentence_key:
        return 1.0
    if len(word) < 2:
        return 0.0
    share = sum(ch in sentence_key for ch in word) / len(word)
    return PARTIAL * share


def sentence_scores(text: str, question_key: str, idf: IdfFn) -> list[tuple[Span, float]]:
    """Each sentence span of ``text`` with how well it matches the question."""
    spans = split_sentences(text)
    words = question_words(question_key)
    keys = [search_key(text[a:b]) for a, b in spans]
    found = [{w: f for w in words if (f := _found(w, k))} for k in keys]
    spread: Counter[str] = Counter()
    for match in found:
        spread.update(match)
    n = len(spans)

    def weight(word: str) -> float:  # damped IDF, less for words all over the excerpt
        return idf(word) ** IDF_POWER * math.log(1 + n / spread[word])

    asks_date = bool(_ASKS_DATE.search(question_key))
    asks_number = not asks_date and bool(_ASKS_NUMBER.search(question_key))
    scored = []
    for span, key, match in zip(spans, keys, found, strict=True):
        score = sum(weight(w) * f for w, f in match.items())
        if (asks_date and _DATE.search(key)) or (asks_number and _NUMBER.search(key)):
            score *= 1 + TYPE_BONUS
        if not _ENDED.search(key):
            score *= HEADING
        scored.append((span, score))
    return scored


def mark_sentences(text: str, question_key: str, idf: IdfFn) -> tuple[Span, ...]:
    """The best-matching sentence, plus the next one when it ends in a colon or a close
    runner-up; ``()`` when no word of the question occurs."""
    scored = sentence_scores(text, question_key, idf)
    if not scored:
        return ()
    best = max(range(len(scored)), key=lambda i: scored[i][1])
    span, score = scored[best]
    if score <= 0:
        return ()
    if _INTRODUCES.search(text[span[0] : span[1]]) and best + 1 < len(scored):
        return (span, scored[best + 1][0])
    runner_up = max(
        (i for i in range(len(scored)) if i != best), key=lambda i: scored[i][1], default=None
    )
    if runner_up is not None and scored[runner_up][1] >= RUNNER_UP * score:
        return tuple(sorted((span, scored[runner_up][0])))
    return (span,)


def off_topic(words: Sequence[str], passage_keys: Iterable[str], idf: IdfFn) -> bool:
    """Whether a question's content ``words`` are (nearly) absent from the passages search
    found for it: less than :data:`OFF_TOPIC_REACH` of their IDF mass occurs in any of them.

    Only judged for questions with Chinese words: an English question matches the Chinese
    corpus through the dense model alone, and still deserves its candidates.
    """
    words = [w for w in words if _CJK.search(w)]
    total = sum(idf(w) for w in words)
    if not total:
        return False
    keys = list(passage_keys)
    reached = sum(idf(w) for w in words if any(w in k for k in keys))
    return reached / total < OFF_TOPIC_REACH
