"""The opt-in semantic tie-break of marking (QABOT_SEMANTIC_MARKS=1) with the real model."""

from __future__ import annotations

import numpy as np
import pytest

import qabot_settings
from retrieval.evaluation import marked_text


@pytest.fixture
def model_calls(seed_engine, monkeypatch) -> list:
    """The batches of sentences the engine's model is asked to encode, recorded."""
    calls: list = []
    encode = seed_engine.embedder.encode_sentences
    monkeypatch.setattr(
        seed_engine.embedder, "encode_sentences", lambda texts: calls.append(texts) or encode(texts)
    )
    return calls


def test_sentence_vectors_equal_the_document_path(embedder):
    texts = ["北京市通州区、天津市武清区、河北省廊坊市共同签署协议。", "天气很好。"]
    expected = embedder.model.encode(
        texts, prompt_name=embedder.document_prompt, normalize_embeddings=True
    )
    assert np.allclose(embedder.encode_sentences(texts), expected, atol=1e-5)


def test_the_tie_break_marks_the_sentence_that_answers(seed_engine, monkeypatch, model_calls):
    question = "2019年工作要点里疏解非首都功能的任务有几项?"
    monkeypatch.setattr(seed_engine, "semantic_marks", True)
    top = seed_engine.ask(question).results[0]
    # one batched call, few candidates
    assert len(model_calls) == 1 and 2 <= len(model_calls[0]) <= 3
    assert "疏解非首都功能14项" in marked_text(top)


def test_an_english_question_is_marked_by_meaning(seed_engine, monkeypatch, model_calls):
    """Its words occur in no Chinese sentence: without the model nothing would be marked."""
    monkeypatch.setattr(seed_engine, "semantic_marks", False)
    top = seed_engine.ask(
        "How many general manufacturing companies was Beijing to close or relocate in 2019?"
    ).results[0]
    assert len(model_calls) == 1  # one batched call, for the top result only
    assert "调整退出一般制造业企业309家" in marked_text(top)


def test_off_unless_asked_for(monkeypatch):
    monkeypatch.delenv("QABOT_SEMANTIC_MARKS", raising=False)
    assert not qabot_settings.semantic_marks()
    monkeypatch.setenv("QABOT_SEMANTIC_MARKS", "1")
    assert qabot_settings.semantic_marks()
