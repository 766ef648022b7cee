"""High-volume batches: one request path for many messages, one Outcome per item.

Modules, each one concern, importing downward only::

    _input     Message, and reading a sync or async input lazily
    _plan      coalescing items into the fewest requests (Item, Chunk, Planner)
    _outcome   Outcome, OutcomeStatus and the rules that decide them
    _journal   the SQLite journal that makes a batch resumable
    _progress  BatchProgress (live counts) and BatchReport
    _options   BatchOptions: the one definition of send_batch/iter_batch's options
    _engine    the pipeline: triage, planner, workers
    _run       send_batch and iter_batch around the engine
"""

from ._input import BatchItems, Message
from ._options import BatchOptions
from ._outcome import Outcome, OutcomeStatus
from ._progress import BatchProgress, BatchReport
from ._run import iter_batch, send_batch

__all__ = [
    "BatchItems",
    "BatchOptions",
    "BatchProgress",
    "BatchReport",
    "Message",
    "Outcome",
    "OutcomeStatus",
    "iter_batch",
    "send_batch",
]
