"""Hypothesis strategies shared by the property tests (corpus reading, cleaning, chunking
and rendering): arbitrary text, and whole answers built from it."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from retrieval.answer import Answer, Result

# Chinese text, ASCII, punctuation, controls, escapes, surrogate-pair emoji, HTML specials.
ALPHABET = st.sampled_from(
    list("京津冀协同发展雄安新区通武廊。，！？；：、“”（）《》\n \t")
    + list("abcXYZ019<>&\"'/=;.")
    + ["\x00", "\x1b", "\x07", "\u202e", "\u200b", "\ufeff", "\x85", "😀", "𠀀", "\r", "\f"]
)


TEXT = st.text(ALPHABET, max_size=1500)


SHORT = st.text(ALPHABET, max_size=400)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def answers(draw) -> Answer:
    question = draw(SHORT)
    results = []
    for rank in range(1, draw(st.integers(0, 4)) + 1):
        text = draw(TEXT) or "。"
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        excerpt = text[start:end]
        a = draw(st.integers(0, len(excerpt)))
        b = draw(st.integers(a, len(excerpt)))
        meta = st.one_of(st.none(), SHORT)
        results.append(
            Result(
                rank,
                draw(SHORT) or "d",
                draw(SHORT),
                draw(meta),
                draw(meta),
                1.0,
                excerpt,
                start,
                end,
                ((a, b),) if b > a else (),
                section=draw(meta),
                article=draw(meta),
                doc_number=draw(meta),
                issuer=draw(meta),
            )
        )
    return Answer(question, draw(st.booleans()), results, off_topic=draw(st.booleans()))
