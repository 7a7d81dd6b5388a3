"""jieba's dictionary, read a piece at a time (issue 29: a cold ``ask``).

Pure-Python jieba cuts a text in precise mode (``retrieval.tokens.jieba_words``) by looking
strings up in one dict, ``Tokenizer.FREQ``: every dictionary word and every prefix of one
(~580k keys) → its count. jieba builds that dict at start-up from its 9 MB marshal cache,
about 0.7 s of one core holding the GIL, for a question that looks up a few hundred keys.

Every key jieba looks up while cutting a text starts with a character of that text (a
character, a run of them, or a word it tries), so :class:`BucketedFreq` holds FREQ split
into buckets by first character, stored once in the user's cache folder
(``QABOT_CACHE_DIR``/jieba), and reads a bucket the first time a text needs it. Same keys,
same counts, same ``total``: jieba cuts every text into the same words.
:func:`attach` hands a ``jieba.Tokenizer`` such a dict; :func:`save` writes the file from a
tokenizer that loaded jieba's dictionary the usual way.

The file: ``MAGIC``, the header's length and the CRC-32 of all that follows (12 bytes,
little-endian), the header (marshal: fingerprint, ``total``, the buckets' length and
``{first character: (offset, length)}``), then each bucket (a marshal'd ``{key: count}``).
It is replaced atomically, and a file whose CRC, length or fingerprint (jieba's version, its
dictionary file's size and time) does not match is not used.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import mmap
import os
import struct
import tempfile
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"QAJIEBA1"
_PREFIX = struct.Struct("<QI")  # the header's length; CRC-32 of everything after the prefix
_START = len(MAGIC) + _PREFIX.size


def fingerprint() -> str:
    """What the main dictionary's FREQ depends on: jieba's version and its dict.txt."""
    import jieba

    source = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    stat = source.stat()
    return f"jieba {jieba.__version__} {source} {stat.st_size} {stat.st_mtime_ns}"


def store_path(folder: Path, print_: str) -> Path:
    return folder / f"freq-{hashlib.sha1(print_.encode()).hexdigest()[:16]}.bin"


class BucketedFreq:
    """A stand-in for ``Tokenizer.FREQ`` (jieba asks it ``in``, ``[]``, ``get`` and, in
    ``add_word``, sets keys): each reads or writes the bucket of the key's first character,
    read from the file the first time it is needed."""

    def __init__(self, data: mmap.mmap, index: dict[str, tuple[int, int]], start: int) -> None:
        self._data = data
        self._index = index
        self._start = start
        self._buckets: dict[str, dict[str, int]] = {}

    def _read(self, first: str) -> dict[str, int]:
        where = self._index.get(first)
        if where is None:
            bucket: dict[str, int] = {}
        else:
            offset, length = where
            at = self._start + offset
            bucket = marshal.loads(self._data[at : at + length])
        # two threads may read the same bucket at once: the first one stored is kept
        return self._buckets.setdefault(first, bucket)

    def _bucket(self, key: str) -> dict[str, int]:
        first = key[:1]
        bucket = self._buckets.get(first)
        return self._read(first) if bucket is None else bucket

    def __contains__(self, key: str) -> bool:
        return key in self._bucket(key)

    def __getitem__(self, key: str) -> int:
        return self._bucket(key)[key]

    def get(self, key: str, default=None):
        return self._bucket(key).get(key, default)

    def __setitem__(self, key: str, value: int) -> None:
        self._bucket(key)[key] = value

    def buckets_read(self) -> int:
        """How many first characters' buckets were read (for tests)."""
        return len(self._buckets)


def _open(path: Path, expected: str) -> tuple[BucketedFreq, int] | None:
    """The dict and ``total`` stored at ``path``, or None when it is missing or not sound."""
    try:
        with open(path, "rb") as file:
            data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # missing, unreadable, or empty (mmap of 0 bytes)
        return None
    try:
        if data[: len(MAGIC)] == MAGIC:
            size, crc = _PREFIX.unpack(data[len(MAGIC) : _START])
            with memoryview(data) as view:
                sound = zlib.crc32(view[_START:]) == crc  # the header and every bucket
            if sound and len(data) >= _START + size:
                header = marshal.loads(data[_START : _START + size])
                start = _START + size
                if header["fingerprint"] == expected and len(data) == start + header["length"]:
                    return BucketedFreq(data, header["index"], start), header["total"]
    except (ValueError, EOFError, TypeError, KeyError, struct.error):
        pass
    data.close()
    return None


def attach(tokenizer, folder: Path) -> bool:
    """Give ``tokenizer`` (a fresh ``jieba.Tokenizer`` of the default dictionary) the FREQ
    stored in ``folder``, as if it had loaded jieba's dictionary; False when none is there."""
    print_ = fingerprint()
    opened = _open(store_path(folder, print_), print_)
    if opened is None:
        return False
    tokenizer.FREQ, tokenizer.total = opened
    tokenizer.initialized = True
    return True


def save(tokenizer, folder: Path) -> Path | None:
    """Store an initialised tokenizer's FREQ (before any ``add_word``) in ``folder``;
    None, and a log line, when the folder cannot be written."""
    print_ = fingerprint()
    buckets: dict[str, dict[str, int]] = {}
    for key, count in tokenizer.FREQ.items():
        buckets.setdefault(key[:1], {})[key] = count
    index: dict[str, tuple[int, int]] = {}
    parts: list[bytes] = []
    offset = 0
    for first, bucket in buckets.items():
        blob = marshal.dumps(bucket)
        index[first] = (offset, len(blob))
        parts.append(blob)
        offset += len(blob)
    data = b"".join(parts)
    header = marshal.dumps(
        {"fingerprint": print_, "total": tokenizer.total, "length": len(data), "index": index}
    )
    crc = zlib.crc32(data, zlib.crc32(header))
    target = store_path(folder, print_)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".freq-")
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o644)  # readable as any cache file (mkstemp makes it 0600)
            with os.fdopen(fd, "wb") as file:
                file.write(MAGIC + _PREFIX.pack(len(header), crc) + header + data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        # jieba still works, loading its whole dictionary in each process (as it always did)
        log.info("jieba's dictionary could not be stored in %s: %s", folder, exc)
        return None
    return target
