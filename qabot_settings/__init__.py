"""Every environment setting in one place, and the one ``.env`` reader.

Below every other package (bot → retrieval → embeddings / corpus → here): no other module
reads the environment. ``python -m bot`` calls :func:`load_dotenv` once, then builds one
frozen :class:`Settings` (index folder, :class:`BackendSettings`, :class:`AnswerSettings`)
with ``--index`` and ``--backend`` applied, and passes it down. The per-process knobs below
(model, threads, batch sizes) are read where the process needs them, through the functions
of this module, so a library caller gets the same values as the command line.

The only writes to the environment are ``OMP_WAIT_POLICY``, ``TOKENIZERS_PARALLELISM``,
``TRANSFORMERS_VERBOSITY`` and ``HF_HUB_DISABLE_PROGRESS_BARS`` defaults, for libraries that
read nothing else (retrieval/threads.py, bot/cli.py).

=========================  ======================================================
``QABOT_INDEX``            index folder (default: the user data dir)
``QABOT_MODEL``            sentence-transformers hub name or local model folder
``QABOT_CACHE_DIR``        where the converted default model (and jieba's split dictionary) is kept
``QABOT_BF16``             ``auto`` / ``1`` / ``0``: bf16 autocast for documents
``QABOT_DEVICE``           ``cpu`` / ``cuda`` / ``auto``
``QABOT_WORKERS``          processes that chunk and tokenise a large ingest
``QABOT_EMBED_BATCH``      chunks embedded and committed at a time
``QABOT_QUERY_THREADS``    threads that encode one question (ONNX Runtime or torch)
``QABOT_QUERY_RUNTIME``    ``auto`` / ``onnx`` / ``torch``: what encodes questions
``QABOT_INGEST_THREADS``   torch/FAISS threads while ingesting
``QABOT_MAX_FILE_MB``      files larger than this are skipped at ingest (default 50)
``QABOT_CONFIDENCE_MODEL`` another confidence model file (AnswerSettings)
``QABOT_SEMANTIC_MARKS``   ``1``: close marking ties broken by the model (AnswerSettings)
``QABOT_BACKEND``          ``local`` / ``milvus``, and ``QABOT_MILVUS_URI``,
                           ``_TOKEN``, ``_COLLECTION``, ``_KEYWORDS`` (BackendSettings below)
``TELEGRAM_*``             the Telegram bot (:func:`telegram`; parsed in bot/telegram/config.py)
``QABOT_API_KEYS`` …       the HTTP server (:class:`HttpSettings` below)
=========================  ======================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "qabot"
DEFAULT_HUB_MODEL = "intfloat/multilingual-e5-small"
DEVICES = ("cpu", "cuda", "auto")
DEFAULT_MAX_FILE_MB = 50.0


def raw(name: str, default: str = "") -> str:
    """The variable's value, stripped (``default`` when unset or blank)."""
    return os.environ.get(name, "").strip() or default


def positive_int(name: str, default: int) -> int:
    """A positive integer setting; anything else means ``default``."""
    value = raw(name)
    return max(1, int(value)) if value.isdigit() else default


def index_dir() -> Path:
    """``QABOT_INDEX`` if set, else the platform's user data dir (e.g. ~/.local/share/qabot)."""
    value = raw("QABOT_INDEX")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / "index"


def model() -> str | None:
    return raw("QABOT_MODEL") or None


def cache_dir() -> Path:
    value = raw("QABOT_CACHE_DIR")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def bf16() -> str:
    value = raw("QABOT_BF16", "auto").lower()
    return value if value in {"auto", "0", "1"} else "auto"


def device() -> str:
    value = raw("QABOT_DEVICE", "cpu").lower()
    return value if value in DEVICES else "invalid:" + value


QUERY_RUNTIMES = ("auto", "onnx", "torch")


def query_runtime() -> str:
    """``QABOT_QUERY_RUNTIME``: what encodes questions on CPU (auto: ONNX Runtime when it can)."""
    value = raw("QABOT_QUERY_RUNTIME", "auto").lower()
    return value if value in QUERY_RUNTIMES else "invalid:" + value


def workers() -> int:
    return positive_int("QABOT_WORKERS", max(1, os.cpu_count() or 1))


def embed_batch() -> int:
    return positive_int("QABOT_EMBED_BATCH", 256)


def query_threads() -> int:
    return positive_int("QABOT_QUERY_THREADS", 1)


def semantic_marks() -> bool:
    """``QABOT_SEMANTIC_MARKS=1``: the top result's close marking candidates are compared
    with the question by the embedding model too (more query time; docs/answers.md)."""
    return raw("QABOT_SEMANTIC_MARKS") == "1"


def confidence_model() -> str | None:
    """``QABOT_CONFIDENCE_MODEL``: another confidence model file (None: the shipped one)."""
    return raw("QABOT_CONFIDENCE_MODEL") or None


def ingest_threads() -> int:
    return positive_int("QABOT_INGEST_THREADS", os.cpu_count() or 1)


def max_file_bytes() -> int:
    """``QABOT_MAX_FILE_MB`` (default 50) in bytes; a corpus file above it is skipped."""
    try:
        megabytes = float(raw("QABOT_MAX_FILE_MB", str(DEFAULT_MAX_FILE_MB)))
    except ValueError:
        megabytes = DEFAULT_MAX_FILE_MB
    if megabytes <= 0:
        megabytes = DEFAULT_MAX_FILE_MB
    return int(megabytes * 1024 * 1024)


def load_dotenv(path: Path = Path(".env"), environ: MutableMapping[str, str] | None = None) -> None:
    """Tiny ``.env`` reader: ``KEY=value`` lines, ``#`` comments, optional quotes.

    Variables already set in the environment win; an unreadable file is ignored.
    """
    environ = os.environ if environ is None else environ
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        environ.setdefault(key, value)


BACKENDS = ("local", "milvus")
MILVUS_FILE = "milvus.db"  # the default embedded Milvus Lite file inside the index folder
MILVUS_KEYWORDS = ("sparse", "bm25")  # QABOT_MILVUS_KEYWORDS


class SettingsError(ValueError):
    """A variable holds a value it cannot take (one line: the variable and its choices)."""


def one_of(name: str, choices: tuple[str, ...], default: str) -> str:
    """The variable's value (lower case) if it is one of ``choices``; SettingsError if not."""
    value = raw(name, default).lower()
    if value not in choices:
        raise SettingsError(
            f"{name}={raw(name)!r} is not allowed; choose one of: {', '.join(choices)}"
        )
    return value


@dataclass(frozen=True)
class BackendSettings:
    """Which backend serves the chunks, and how to reach Milvus."""

    backend: str = "local"  # QABOT_BACKEND, or --backend
    milvus_uri: str = ""  # QABOT_MILVUS_URI; empty: a Milvus Lite file in the index folder
    milvus_token: str = ""  # QABOT_MILVUS_TOKEN
    collection: str = "qabot"  # QABOT_MILVUS_COLLECTION: collection name prefix
    # QABOT_MILVUS_KEYWORDS: "sparse" (BM25 weights from our own tokens) or "bm25" (Milvus's)
    keywords: str = "sparse"

    @classmethod
    def from_env(cls, backend: str | None = None) -> BackendSettings:
        """From the environment; ``backend`` (the ``--backend`` option) wins over it."""
        return cls(
            backend=(backend or raw("QABOT_BACKEND", "local")).lower(),
            milvus_uri=raw("QABOT_MILVUS_URI"),
            milvus_token=raw("QABOT_MILVUS_TOKEN"),
            collection=raw("QABOT_MILVUS_COLLECTION", "qabot"),
            keywords=one_of("QABOT_MILVUS_KEYWORDS", MILVUS_KEYWORDS, "sparse"),
        )

    def uri_for(self, index_dir: Path) -> str:
        """The Milvus URI: ``QABOT_MILVUS_URI``, else a Milvus Lite file in the index folder."""
        return self.milvus_uri or str(Path(index_dir).expanduser().resolve() / MILVUS_FILE)


@dataclass(frozen=True)
class AnswerSettings:
    """How questions are answered (beyond the index itself)."""

    semantic_marks: bool = False  # QABOT_SEMANTIC_MARKS=1
    confidence_model: str | None = None  # QABOT_CONFIDENCE_MODEL; None: the shipped one

    @classmethod
    def from_env(cls) -> AnswerSettings:
        return cls(semantic_marks=semantic_marks(), confidence_model=confidence_model())


@dataclass(frozen=True)
class Settings:
    """What a command runs with, built once by ``python -m bot`` and passed down.

    ``index_named`` says whether ``--index`` named the folder: the default one is built
    from the shipped corpus on first use, a named one must exist.
    """

    index_dir: Path
    index_named: bool
    backend: BackendSettings
    answers: AnswerSettings

    @classmethod
    def from_env(cls, index: str | Path | None = None, backend: str | None = None) -> Settings:
        """From the environment; the command line's ``--index`` and ``--backend`` win."""
        return cls(
            index_dir=Path(index).expanduser() if index else index_dir(),
            index_named=bool(index),
            backend=BackendSettings.from_env(backend),
            answers=AnswerSettings.from_env(),
        )


# -- the HTTP server (python -m bot serve, bot/http/) ----------------------------------


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _positive_float(name: str, default: float) -> float:
    try:
        value = float(raw(name, str(default)))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class HttpSettings:
    """``python -m bot serve``: access, limits and the worker pool.

    ``QABOT_API_KEYS``      comma-separated keys; each /api, /retrieval and /v1 call needs
                            ``Authorization: Bearer <key>`` (none: loopback only)
    ``QABOT_RATE_LIMIT``    requests per minute per key (or per address without keys), 60
    ``QABOT_CORS_ORIGINS``  comma-separated origins allowed by CORS (none: CORS off)
    ``QABOT_HTTP_WORKERS``  threads answering questions at once (default: one per core)
    ``QABOT_REQUEST_TIMEOUT`` seconds a question may take before 504 (default 30)
    ``QABOT_MAX_BODY_KB``   largest request body (default 64)
    ``QABOT_KNOWLEDGE_ID``  the knowledge_id Dify's External Knowledge API sends (qabot)
    """

    api_keys: tuple[str, ...] = ()
    rate_per_minute: int = 60
    cors_origins: tuple[str, ...] = ()
    workers: int = 2
    request_timeout: float = 30.0
    max_body_bytes: int = 64 * 1024
    knowledge_id: str = "qabot"
    refresh_seconds: float = 5.0  # how often a newer index version is looked for

    @classmethod
    def from_env(cls) -> HttpSettings:
        return cls(
            api_keys=_split(raw("QABOT_API_KEYS")),
            rate_per_minute=positive_int("QABOT_RATE_LIMIT", 60),
            cors_origins=_split(raw("QABOT_CORS_ORIGINS")),
            workers=positive_int("QABOT_HTTP_WORKERS", max(1, os.cpu_count() or 1)),
            request_timeout=_positive_float("QABOT_REQUEST_TIMEOUT", 30.0),
            max_body_bytes=positive_int("QABOT_MAX_BODY_KB", 64) * 1024,
            knowledge_id=raw("QABOT_KNOWLEDGE_ID", "qabot"),
        )


TELEGRAM_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "TELEGRAM_API_BASE_FILE_URL",
    "TELEGRAM_ALLOWED_CHATS",
    "TELEGRAM_ADMINS",
    "TELEGRAM_WEBHOOK_SECRET",
)


def telegram(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``TELEGRAM_*`` variables, stripped ("" when unset); parsed by bot/telegram/config.py."""
    environ = os.environ if environ is None else environ
    return {name: environ.get(name, "").strip() for name in TELEGRAM_VARIABLES}
