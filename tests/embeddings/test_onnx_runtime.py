"""Questions encoded by ONNX Runtime: same vectors as torch, no torch in a serving process,
and a model ONNX cannot serve (or a damaged export) falls back or recovers by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import onnx_runtime
from embeddings.model import ModelError, default_model_dir, load_embedder
from tests.support import ROOT
from tests.support.corpora import SENTENCES

MODEL_DIR = default_model_dir()  # in the session's cache folder (tests/conftest.py)


def _linked_copy(source: Path, target: Path) -> Path:
    """A model folder of symlinks to ``source``'s files (no 470 MB copy)."""
    for path in source.rglob("*"):
        if path.is_file():
            link = target / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return target


def test_default_embedder_encodes_questions_with_onnx(embedder):
    assert embedder.runtime == "onnx"
    export = onnx_runtime.export_dir(Path(os.environ["QABOT_CACHE_DIR"]), default_model_dir())
    sidecar = onnx_runtime.read_sidecar(export)
    assert sidecar is not None and sidecar.error is None
    assert sidecar.fingerprint == embedder.identity.fingerprint


def test_onnx_vectors_equal_torch_vectors_for_queries_and_documents(embedder):
    fresh = load_embedder()  # from the export: the torch model is not loaded yet
    assert fresh._model is None
    for prompt, ours in (
        ("query", fresh.encode_queries(SENTENCES)),
        ("document", fresh.encode_documents(SENTENCES)),
    ):
        reference = embedder._encode(SENTENCES, prompt, 32, False, bf16=False)
        np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert fresh._model is None  # a few documents did not load torch either
    many = fresh.encode_documents(SENTENCES * 3)  # an ingest-sized call loads the torch model
    assert fresh._model is not None and many.shape == (len(SENTENCES) * 3, 384)


def test_a_serving_process_never_imports_torch(embedder, seed_index):
    code = (
        "import sys; from retrieval.engine import AnswerEngine; "
        f"engine = AnswerEngine.open({str(seed_index)!r}); "
        "answer = engine.ask('京津冀协同发展的核心是什么'); "
        "print(len(answer.results), engine.embedder.runtime, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    shown, runtime, torch_loaded = out.stdout.split()
    assert int(shown) > 0 and (runtime, torch_loaded) == ("onnx", "False")


def test_a_small_update_in_a_fresh_process_does_not_import_torch(embedder, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("京津冀交通一体化\n京张高铁建成通车。", encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from corpus.loading import load_corpus; "
        "from embeddings.model import load_embedder; "
        "from retrieval.backends.local.ingest import ingest; "
        f"docs = load_corpus([Path({str(folder)!r})]).documents; "
        f"result = ingest(Path({str(tmp_path / 'index')!r}), docs, load_embedder(), "
        "progress=False, "
        "log=lambda m: None); "
        "print(result.embedded, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "False"]  # embedded by ONNX Runtime, threads set


@pytest.fixture
def own_cache(monkeypatch, tmp_path):
    """A cache folder of the test's own: its exports (~470 MB each) go when the test ends."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("QABOT_CACHE_DIR", str(cache))
    yield cache
    onnx_runtime.discard(cache)


def test_unsupported_model_is_served_by_torch_and_not_exported_again(embedder, tmp_path, own_cache):
    folder = _linked_copy(MODEL_DIR, tmp_path / "cls-model")
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.unlink()
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    said: list[str] = []
    first = load_embedder(str(folder), progress=said.append)
    assert first.runtime == "torch" and said == []  # refused before any export was tried
    sidecar = onnx_runtime.read_sidecar(onnx_runtime.export_dir(own_cache, folder))
    assert sidecar is not None and "unsupported pooling" in sidecar.error
    again = load_embedder(str(folder), progress=said.append)
    assert again.runtime == "torch" and said == []
    assert again.identity.fingerprint == embedder.identity.fingerprint  # same weights


def test_damaged_export_is_made_again(embedder, tmp_path, own_cache):
    folder = _linked_copy(MODEL_DIR, tmp_path / "model")
    said: list[str] = []
    first = load_embedder(str(folder), progress=said.append)
    assert first.runtime == "onnx" and len(said) == 1 and "Exporting" in said[0]
    export = onnx_runtime.export_dir(own_cache, folder)
    (export / onnx_runtime.MODEL_FILE).write_bytes(b"not a model")
    second = load_embedder(str(folder), progress=said.append)
    assert second.runtime == "onnx" and len(said) == 2
    np.testing.assert_allclose(
        second.encode_queries(SENTENCES[:3]), embedder.encode_queries(SENTENCES[:3]), atol=1e-5
    )


def test_query_runtime_setting(monkeypatch, embedder):
    monkeypatch.setenv("QABOT_QUERY_RUNTIME", "tensorrt")
    with pytest.raises(ModelError, match="QABOT_QUERY_RUNTIME='tensorrt' is not one of auto"):
        load_embedder()
    monkeypatch.setenv("QABOT_QUERY_RUNTIME", "torch")
    assert load_embedder().runtime == "torch"
    monkeypatch.setenv("QABOT_QUERY_RUNTIME", "onnx")
    assert load_embedder().runtime == "onnx"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="needs a local model folder"):
        load_embedder("nobody/no-such-model-anywhere")
