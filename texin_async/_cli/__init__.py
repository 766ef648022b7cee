"""The ``texin`` command line (the ``cli`` extra), as a private subpackage.

Modules, each one layer, importing downward only (a test checks it)::

    _errors    exit codes, one-line errors and hints; no typer or rich
    _common    settings, the client, output, the run loop
    _csv       the CSV: its bytes and header, its rows as Messages, the report file
    _preflight every row checked before the first send: the plan a run would follow
    _progress  the live progress display
    _summary   what a batch tells at its end: the report, a dry run's findings, hints
    _batch     ``texin batch``
    _demo      ``texin demo``
    _app       the Typer app: global options, the one-request commands, ``run(argv)``

typer and rich are imported only when the command runs, from ``_app``, so
``import texin_async`` never needs them and a missing extra is one line, not a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._errors import EXIT_ERROR

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``texin`` with ``argv`` (default: the process's arguments) and exit."""
    try:
        from ._app import run
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in ("typer", "rich", "click"):
            raise
        print(
            "texin: the command line needs its extra: pip install 'texin-async[cli]'",
            file=sys.stderr,
        )
        sys.exit(EXIT_ERROR)
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))
