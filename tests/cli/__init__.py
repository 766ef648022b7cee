"""Tests of the ``texin`` command line (``texin_async._cli``)."""
