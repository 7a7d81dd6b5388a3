"""The answer core's data: a question in, cited verbatim excerpts out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Result:
    """One cited excerpt: ``excerpt == document.text[start:end]``.

    ``marks`` are (start, end) offsets *relative to the excerpt* of the
    sentence(s) that best answer the question; JSON gives them as ``[[start, end], …]``.
    ``section`` (heading path, ``二、重点任务 › （三）推动交通一体化``) and ``article``
    (``第十二条``) are where the answer sentence stands (the mark holding most of the
    question's matched words); for a question naming an article, the first result is that
    article, whole. ``doc_number`` (文号) and ``issuer`` are what the document states about
    itself; each None where absent.
    """

    rank: int
    doc_id: str
    title: str
    date: str | None
    source: str | None
    score: float
    excerpt: str
    start: int
    end: int
    marks: tuple[tuple[int, int], ...] = ()
    section: str | None = None
    article: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    # issue 26: the document's 施行日期 and jurisdiction (国家, 天津 …); for an older version
    # of a document, the doc_id of the newest version and the date it takes effect
    effective_date: str | None = None
    region: str | None = None
    superseded_by: str | None = None
    superseded_date: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["marks"] = [list(span) for span in self.marks]
        return data


@dataclass(frozen=True)
class Answer:
    """What the bot replies: ranked results, and whether it trusts them.

    ``off_topic``: the question's content words occur nowhere in the corpus, so the
    results (still listed, for scripts) are unrelated and a reply should not show them.
    ``version``: the index version that answered (not part of the JSON contract); buttons
    under an answer use it to notice that the index changed since.
    ``probability``: the confidence model's estimate that the top result answers;
    ``features``: what it was computed from (see retrieval/confidence.py).
    """

    question: str
    confident: bool
    results: list[Result] = field(default_factory=list)
    off_topic: bool = False
    version: str | None = field(default=None, compare=False)
    probability: float = 0.0
    features: dict[str, float] | None = field(default=None, compare=False)
    # issue 26: what the reader must know about the results (a place or time the question
    # names that no cited document matches); the filters the question was answered under
    note: str | None = None
    filters: dict | None = None

    def to_json(self) -> dict:
        """The stable JSON contract used by ``ask --json`` and scripts."""
        return {
            "question": self.question,
            "confident": self.confident,
            "results": [r.to_json() for r in self.results],
            "off_topic": self.off_topic,
            "note": self.note,
            **({"filters": self.filters} if self.filters else {}),
        }


@dataclass(frozen=True)
class Source:
    """A document in the index, as listed by /sources."""

    doc_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    chars: int
