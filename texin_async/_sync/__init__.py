"""The blocking client: TexinClient's methods run on one background event loop per process.

Modules, importing downward only::

    _caller    running a batch's input and callback in the caller's thread
    _loop      the shared loop: start on first use, blocking calls, Ctrl-C, fork, exit
    _outcomes  iter_batch as a plain iterator, outcomes handed over a few per trip
    _client    SyncTexinClient
"""

from ._client import SyncTexinClient

__all__ = ["SyncTexinClient"]
