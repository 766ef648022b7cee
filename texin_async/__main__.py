"""``python -m texin_async``: the ``texin`` command line, where no script is on PATH."""

from ._cli import main

main()
