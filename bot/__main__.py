"""Entry point: ``python -m bot``."""

import sys

from retrieval.threads import set_process_defaults

set_process_defaults()  # before torch or FAISS is imported

from bot.cli import main  # noqa: E402

sys.exit(main())
