"""Peak memory and time of legacy-encoding detection on a 3.7 MB GB18030 file.

    python benchmarks/encoding_memory.py            # this checkout
    python benchmarks/encoding_memory.py OTHER_DIR  # another checkout, for a before/after

Runs under tracemalloc (which slows Python down several times): compare within one run.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1]))

from corpus.encoding import decode_bytes  # noqa: E402

text = "京津冀协同发展的核心是有序疏解北京非首都功能，推动雄安新区建设。\n" * 60000
data = text.encode("gb18030")
tracemalloc.start()
started = time.perf_counter()
out = decode_bytes(data)
peak = tracemalloc.get_traced_memory()[1]
print(
    f"{len(data) / 2**20:.1f} MB gb18030, {len(out):,} chars: peak {peak / 2**20:.1f} MB, "
    f"{time.perf_counter() - started:.2f} s, decoded correctly: {out == text}"
)
