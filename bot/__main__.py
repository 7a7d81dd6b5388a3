"""Entry point: ``python -m bot``."""

import sys

from retrieval.threads import set_process_defaults

if __name__ == "__main__":  # guarded: ingest's worker processes (spawn) import this module
    set_process_defaults()  # before torch or FAISS is imported
    from bot.cli import main

    sys.exit(main(fast_exit=True))  # a one-shot ask skips the interpreter's teardown
