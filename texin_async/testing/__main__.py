"""Serve a Texin emulator from the command line: ``python -m texin_async.testing --help``."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
