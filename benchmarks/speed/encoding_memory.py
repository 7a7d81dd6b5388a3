"""Peak memory and time of legacy-encoding detection on a 3.7 MB GB18030 file.

    python -m benchmarks.speed.encoding_memory      # this checkout
    cd OTHER_DIR && PYTHONPATH=/path/to/this/checkout python -m benchmarks.speed.encoding_memory
                                                    # another checkout, for a before/after

(``-m`` puts the current folder first on the path, so the second line imports
``corpus.encoding`` from the other checkout and only the ``benchmarks`` package from this one.)

Runs under tracemalloc (which slows Python down several times): compare within one run.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from corpus.encoding import decode_bytes


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
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


if __name__ == "__main__":
    main()
