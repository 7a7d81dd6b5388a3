"""Which sentence(s) of an excerpt answer the question (lexical, IDF-weighted).

The marked sentence is what a reader sees first, so it is chosen with care:

* the question's words (jieba) count by IDF, damped (``idf ** 0.5``) so that a rare
  name does not outweigh two ordinary words that pin the answer down;
* a word found in many sentences of the excerpt counts less there (the topic of a
  passage appears everywhere; what the question asks about appears once);
* a word found only in part (some of its characters) counts half as much;
* words of the document's title count less, the more so the more of the title they make
  up (down to :data:`TITLE_WEIGHT`): the subject is named all over a document, the
  asked-for detail once (蓝线裸顶鲷的体长 → 本鱼体长可达…);
* question words themselves (什么, 多少, 哪里) are not matched;
* a sentence of the asked-for type is preferred: a date for 什么时候/哪一年, a number for
  多少/几个, a place for 哪里/在哪 (doubly a sentence that says where: 位于, 坐落); a
  什么是X / X是什么 question prefers the sentence that opens with X (a definition);
* a line with no sentence end (a title, a heading) counts half;
* a sentence ending in a colon introduces what follows, so the next one is marked too;
  so is a runner-up scoring at least 3/4 of the best, or a neighbour at least half of it
  (an answer often runs on into the next sentence); but for a why question the sentence
  before a best one that follows on from it as a result (因此…, 此时…, 该…) comes first;
* otherwise an answer that runs over a sentence boundary brings one neighbour: the cause
  before a sentence that follows on from it (因此…, 后来…) for a why/how question, a
  neighbour holding the asked-for type the best lacks, a next sentence that goes on (以及…);
* a marked sentence longer than :data:`LONG_SENTENCE` is cut to its best-matching run of
  clauses (at most :data:`CLAUSE_WINDOW` chars), so the answer line stays short;
* opt-in (``similarity``, the engine's ``QABOT_SEMANTIC_MARKS=1``): sentences scoring close
  to the best are compared with the question by the embedding model, in one batched call;
* a question without Chinese characters (English) shares no words with Chinese text, so
  given ``similarity`` (the engine always passes it for such a question) the sentence
  closest in meaning is marked instead.

The constants were tuned on half of the CMRC 2018 trial questions (split by passage) and
checked on the other half; see docs/answers.md.

``idf`` is any callable ``token -> weight``; nothing here reads the whole corpus.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from corpus.chunking import split_sentences
from corpus.normalize import search_key
from retrieval.query.question_types import ASKS_ANY_PLACE, ASKS_DATE
from retrieval.tokens import has_chinese, jieba_words

Span = tuple[int, int]
IdfFn = Callable[[str], float]
Similarity = Callable[[Sequence[str]], Sequence[float]]  # sentences -> cosine to the question

IDF_POWER = 0.5
PARTIAL = 0.5  # weight of a word only some of whose characters occur
TYPE_BONUS = 0.3  # relative bonus for a sentence of the asked-for type
OFF_TOPIC_REACH = 0.3  # below this share of its content words found, a question is off-topic

_CONTENT = re.compile(r"[\u3400-\u9fff0-9a-z]")
_ASKING = frozenset(
    "什么 什么样 多少 哪 哪些 哪里 哪儿 哪个 哪位 哪一 谁 几 几个 何 何时 何地 如何 怎么 "
    "怎样 怎么样 为什么 为何 是否 吗 呢 多 多大 多高 多长 多久 哪年 哪一年".split()
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
_PLACE = re.compile(r"[省市县区州镇村乡岛]|位于|坐落|地处|地区|一带|境内")
# A sentence that says where something is (位于…) answers a where question more surely
# than one that merely names a 市 or 区: it gets the type bonus twice.
_LOCATES = re.compile(r"位于|坐落|座落|地处")
_TYPES = ((ASKS_DATE, _DATE), (_ASKS_NUMBER, _NUMBER), (ASKS_ANY_PLACE, _PLACE))
_ASKS_DEFINITION = re.compile(
    r"^(?:什么(?:是|叫做?))(?P<a>.+?)[?？]?$"
    r"|^(?P<b>.+?)(?:是什么|指什么|是指什么|的定义是什么|的含义是什么)[?？]?$"
)
# An answer that runs over a sentence boundary: the cause of a 为什么 sits before the
# sentence that repeats the question (因此…, 此战奠定了…), a list goes on after it.
_WHY = r"为什么|为何|何故|原因|什么目的|为了什么"
_ASKS_REASON = re.compile(rf"{_WHY}|如何|怎样|怎么")  # why, or how
_YEAR_LEAD = r"^(?:[\d一二三四五六七八九十]+年[^，,。]{0,6}[，,])?"  # 1362年，…
_RESULT = r"因此|所以|于是|由此|从而|因而|故|此后|后来|然后|随后|最后|最终|赛后|之后|这些|这|此|该"
_FOLLOWS_ON = re.compile(_YEAR_LEAD + rf"(?:{_RESULT}|但|然而|不过)")
# A why question's cause comes before a sentence that follows on from it as a result
# (not as a contrast: 但… often holds the answer itself), whatever else scores close.
_ASKS_WHY = re.compile(_WHY)
_RESULTS = re.compile(_YEAR_LEAD + rf"(?:{_RESULT})")
_GOES_ON = re.compile(
    r"^(?:以及|及|并且|其中|主要|包括|例如|比如|即|指|另|此外|同时|不久|接着|其后)"
)
_CLAUSE_END = re.compile(r"[，,：:]")
_INTRODUCES = re.compile(r"[：:]\s*$")
_ENDED = re.compile(r"[。！？；…!?;：:][”’」』）)】》\"']*\s*$")
RUNNER_UP = 0.75  # a second sentence scoring this close to the best is marked too
NEIGHBOUR = 0.5  # ... or an adjacent one scoring this close
TITLE_WEIGHT = 0.3  # weight of question words that make up the whole title
DEFINITION_BONUS = 1.0  # relative bonus for the sentence that opens with the defined term
LONG_SENTENCE = 150  # a marked sentence longer than this is cut to its best clauses ...
CLAUSE_WINDOW = 120  # ... at most this long
PAIR_CHARS = 200  # two marks longer than this together: only the best (the line stays short)
HEADING = 0.5  # a line with no sentence end (a title, a heading) rarely holds the answer
# Semantic tie-break (opt-in): sentences scoring within SEMANTIC_NEAR of the best are
# re-ranked by lexical share + SEMANTIC_WEIGHT * cosine to the question.
SEMANTIC_NEAR = 0.5
SEMANTIC_CANDIDATES = 3
SEMANTIC_WEIGHT = 20.0
SEMANTIC_CHARS = 160  # a candidate is embedded by its first this many characters
MEANING_SENTENCES = 12  # an English question compares at most this many sentences


Idf = IdfFn  # a token's IDF over one index version (see retrieval.backends.base.Version.idf)


def question_words(question_key: str) -> list[str]:
    """The distinct words of a normalised question that can match text (question words
    such as 什么 or 多少, and date questions' phrases such as 什么时候 or 哪一年, left out:
    they say what is asked, not where it is)."""
    question_key = ASKS_DATE.sub(" ", question_key)  # 什么时候 would leave 时候 to match
    words = (w for w in jieba_words(question_key) if _CONTENT.search(w) and w not in _ASKING)
    return list(dict.fromkeys(words))


def _found(word: str, sentence_key: str) -> float:
    """1 if ``word`` occurs in the sentence, the share of its characters otherwise (halved)."""
    if word in sentence_key:
        return 1.0
    if len(word) < 2:
        return 0.0
    share = sum(ch in sentence_key for ch in word) / len(word)
    return PARTIAL * share


def asked_type(question_key: str) -> re.Pattern[str] | None:
    """What the answer looks like, from the question word: a date, a number, a place."""
    for asks, looks in _TYPES:
        if asks.search(question_key):
            return looks
    return None


def _defined(question_key: str) -> str:
    """What a 什么是X / X是什么 question asks to define ('' for other questions)."""
    match = _ASKS_DEFINITION.search(question_key.strip())
    if not match:
        return ""
    subject = (match["a"] or match["b"]).strip(" \"'“”「」《》")
    return subject if 2 <= len(subject) <= 20 else ""


def _defines(sentence_key: str, subject: str) -> bool:
    """Whether a sentence opens with ``subject`` (as a definition does: X是…, X（…），指…)."""
    return sentence_key.lstrip(" \"'“”「」《》").startswith(subject)


def _subject_weight(words: Sequence[str], title_key: str) -> dict[str, float]:
    """The weight of the question words found in the title: the more of the title they
    cover, the more the title names the question's subject (a short name such as
    蓝线裸顶鲷 is all subject; a long headline only in part)."""
    inside = [w for w in words if w in title_key]
    if not inside:
        return {}
    covered = set()
    for w in inside:
        start = title_key.find(w)
        covered.update(range(start, start + len(w)))
    share = len(covered) / len(title_key.replace(" ", ""))
    weight = 1 - (1 - TITLE_WEIGHT) * min(1.0, share)
    return dict.fromkeys(inside, weight)


class _Scorer:
    """Scores pieces of one excerpt against one question (see the module docstring)."""

    def __init__(self, keys: list[str], question_key: str, idf: IdfFn, title: str) -> None:
        self.words = question_words(question_key)
        found = [{w: f for w in self.words if (f := _found(w, k))} for k in keys]
        spread: Counter[str] = Counter()
        for match in found:
            spread.update(match)
        subject = _subject_weight(self.words, search_key(title))
        n = len(keys)
        self.weights = {  # damped IDF, less for words all over the excerpt or in the title
            w: subject.get(w, 1.0) * idf(w) ** IDF_POWER * math.log(1 + n / spread[w])
            for w in spread
        }
        self.looks = asked_type(question_key)
        self.defined = _defined(question_key)

    def score(self, key: str) -> float:
        """How well a sentence (or a run of clauses), as a search key, answers."""
        score = sum(weight * _found(w, key) for w, weight in self.weights.items())
        if self.looks is not None and self.looks.search(key):
            score *= 1 + TYPE_BONUS
            if self.looks is _PLACE and _LOCATES.search(key):
                score *= 1 + TYPE_BONUS
        if self.defined and _defines(key, self.defined):
            score *= 1 + DEFINITION_BONUS
        return score


def sentence_scores(
    text: str, question_key: str, idf: IdfFn, title: str = ""
) -> list[tuple[Span, float]]:
    """Each sentence span of ``text`` with how well it matches the question."""
    return _scored(text, question_key, idf, title)[0]


def _scored(
    text: str, question_key: str, idf: IdfFn, title: str
) -> tuple[list[tuple[Span, float]], _Scorer]:
    spans = split_sentences(text)
    keys = [search_key(text[a:b]) for a, b in spans]
    scorer = _Scorer(keys, question_key, idf, title)
    scored = []
    for span, key in zip(spans, keys, strict=True):
        score = scorer.score(key)
        if not _ENDED.search(key):
            score *= HEADING
        scored.append((span, score))
    return scored, scorer


def _clauses(text: str, span: Span) -> list[Span]:
    """The clauses of a sentence: cut after each comma or colon."""
    start, end = span
    cuts = [m.end() for m in _CLAUSE_END.finditer(text, start, end)]
    bounds = [start, *(c for c in cuts if start < c < end), end]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()]


def _narrowed(text: str, span: Span, scorer: _Scorer) -> Span:
    """A very long sentence cut to the run of clauses that matches best (at most
    :data:`CLAUSE_WINDOW` chars, so the answer line reads first); others as they are."""
    if span[1] - span[0] <= LONG_SENTENCE:
        return span
    clauses = _clauses(text, span)
    best, best_score = span, -1.0
    for i in range(len(clauses)):
        for j in range(i, len(clauses)):
            a, b = clauses[i][0], clauses[j][1]
            if b - a > CLAUSE_WINDOW and j > i:
                break
            # ties go to the longer run: the answer often follows the words it shares
            score = scorer.score(search_key(text[a:b])) + 1e-6 * (b - a)
            if score > best_score:
                best, best_score = (a, b), score
    a, b = best
    while b > a and text[b - 1] in "，,、：: ":  # no dangling comma
        b -= 1
    return (a, b)


def _cause(text: str, spans: Sequence[Span], best: int, question_key: str) -> int | None:
    """For a why question, the sentence before a best one that follows on from it as a
    result (因此…, 此时…, 该战略…): that one holds the cause, whatever else scores close."""
    if best == 0 or not _ASKS_WHY.search(question_key):
        return None
    key = search_key(text[spans[best][0] : spans[best][1]])
    return best - 1 if _RESULTS.search(key) else None


def _continued(
    text: str, spans: Sequence[Span], best: int, question_key: str, looks: re.Pattern[str] | None
) -> int | None:
    """The neighbour an answer runs on into, if any: the sentence before one that follows
    on from it (因此…, 后来…) when the question asks why or how; a neighbour holding the
    asked-for type (a date, a number, a place) the best lacks; the sentence after when it
    goes on (以及…, 其中…)."""
    key = search_key(text[spans[best][0] : spans[best][1]])
    prev = best - 1 if best > 0 else None
    nxt = best + 1 if best + 1 < len(spans) else None
    if prev is not None and _ASKS_REASON.search(question_key) and _FOLLOWS_ON.search(key):
        return prev
    if looks is not None and not looks.search(key):
        for i in (prev, nxt):
            if i is not None and looks.search(search_key(text[spans[i][0] : spans[i][1]])):
                return i
    if nxt is not None and _GOES_ON.search(search_key(text[spans[nxt][0] : spans[nxt][1]])):
        return nxt
    return None


def _tie_break(
    text: str, scored: list[tuple[Span, float]], best: int, similarity: Similarity
) -> int:
    """The best sentence once the few that score close to it lexically are also compared
    by meaning (one batched call of ``similarity``); ``best`` when none is close."""
    top = scored[best][1]
    close = sorted(
        (i for i, (_, s) in enumerate(scored) if s >= SEMANTIC_NEAR * top),
        key=lambda i: -scored[i][1],
    )[:SEMANTIC_CANDIDATES]
    if len(close) < 2:
        return best
    sims = similarity([text[a:b][:SEMANTIC_CHARS] for (a, b), _ in (scored[i] for i in close)])
    return max(
        zip(close, sims, strict=True),
        key=lambda c: scored[c[0]][1] / top + SEMANTIC_WEIGHT * float(c[1]),
    )[0]


def _introduces_next(text: str, sentences: Sequence[Span], best: int) -> bool:
    """Whether the best sentence ends in a colon and a sentence follows it."""
    a, b = sentences[best]
    return best + 1 < len(sentences) and bool(_INTRODUCES.search(text[a:b]))


def _by_meaning(text: str, sentences: Sequence[Span], similarity: Similarity) -> tuple[Span, ...]:
    """The sentence closest in meaning (one batched call), and the next one when it ends in a
    colon; headings (no sentence end) are left out while a sentence is there."""
    ended = [i for i, (a, b) in enumerate(sentences) if _ENDED.search(text[a:b])]
    pool = (ended or list(range(len(sentences))))[:MEANING_SENTENCES]
    sims = similarity([text[a:b][:SEMANTIC_CHARS] for a, b in (sentences[i] for i in pool)])
    best = max(zip(pool, sims, strict=True), key=lambda c: float(c[1]))[0]
    if _introduces_next(text, sentences, best):
        return (sentences[best], sentences[best + 1])
    return (sentences[best],)


def mark_sentences(
    text: str,
    question_key: str,
    idf: IdfFn,
    title: str = "",
    similarity: Similarity | None = None,
) -> tuple[Span, ...]:
    """The best-matching sentence, plus the next one when it ends in a colon or a runner-up
    scores close to it (a neighbour need not be as close); a very long sentence is cut to
    its best clauses. ``()`` when no word of the question occurs. With ``similarity``,
    sentences scoring close to the best are also compared by meaning (see _tie_break), and
    for an English question the sentence closest in meaning is marked (see _by_meaning)."""
    if similarity is not None and not has_chinese([question_key]):
        sentences = split_sentences(text)  # words cannot match: no lexical scores needed
        return _by_meaning(text, sentences, similarity) if sentences else ()
    scored, scorer = _scored(text, question_key, idf, title)
    if not scored:
        return ()
    sentences = [sp for sp, _ in scored]
    best = max(range(len(scored)), key=lambda i: scored[i][1])
    if scored[best][1] <= 0:
        return ()
    if similarity is not None:
        best = _tie_break(text, scored, best, similarity)
    span, score = scored[best]
    if _introduces_next(text, sentences, best):
        return (span, sentences[best + 1])

    def bar(i: int) -> float:  # a neighbour continues the answer more often than a far one
        return (NEIGHBOUR if abs(i - best) == 1 else RUNNER_UP) * score

    others = [i for i in range(len(scored)) if i != best and scored[i][1] >= bar(i)]
    spans = [_narrowed(text, span, scorer)]
    cause = _cause(text, sentences, best, question_key)
    if cause is not None:
        others = [cause]
    elif not others:
        run_on = _continued(text, sentences, best, question_key, scorer.looks)
        others = [run_on] if run_on is not None else []
    if others:
        second = _narrowed(text, scored[max(others, key=lambda i: scored[i][1])][0], scorer)
        if (spans[0][1] - spans[0][0]) + (second[1] - second[0]) <= PAIR_CHARS:
            spans.append(second)
    return tuple(sorted(spans))


def answer_mark(
    text: str, marks: Sequence[Span], question_key: str, idf: IdfFn, title: str = ""
) -> int:
    """Which of ``marks`` (``mark_sentences``' result for ``text``) is the answer sentence:
    the one holding most of the question's matched words, as ``mark_sentences`` scores
    them (the first on a tie; 0 for fewer than two marks). A citation names where that
    one stands when two marks fall in different articles."""
    if len(marks) < 2:
        return 0
    keys = [search_key(text[a:b]) for a, b in split_sentences(text)]
    scorer = _Scorer(keys, question_key, idf, title)
    scores = [scorer.score(search_key(text[a:b])) for a, b in marks]
    return max(range(len(marks)), key=lambda i: (scores[i], -i))


def off_topic(words: Sequence[str], passage_keys: Iterable[str], idf: IdfFn) -> bool:
    """Whether a question's content ``words`` are (nearly) absent from the passages search
    found for it: less than :data:`OFF_TOPIC_REACH` of their IDF mass occurs in any of them.

    Only judged for questions with Chinese words: an English question matches the Chinese
    corpus through the dense model alone, and still deserves its candidates. In a Chinese
    question, Latin words and numbers count too (64DD有哪些优点: 64DD is what is asked about);
    one-character words only when the question has no longer one.
    """
    if not has_chinese(words):
        return False
    # One-character words (做, 才, 吃) say how, not what: 红烧肉怎么做 and 红烧肉怎么做才好吃
    # are one question, judged by 红烧肉 (and 好吃) alone.
    words = [w for w in words if len(w) > 1] or list(words)
    total = sum(idf(w) for w in words)
    if not total:
        return False
    keys = list(passage_keys)
    reached = sum(idf(w) for w in words if any(w in k for k in keys))
    return reached / total < OFF_TOPIC_REACH
