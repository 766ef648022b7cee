"""Where hooks are registered (per client, or for the whole process) and how they are told.

A hook never breaks a call: what it raises is logged, at most once a minute per hook, and
the call goes on. With no hook registered anywhere, a call costs one check
(:func:`hooks_for` returns an empty tuple) and builds no event.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidRequestError
from .._logs import fields, logger
from .._retry import RetryDetails
from ._events import Event, Hook

if TYPE_CHECKING:
    from .._config import RetryPolicy

__all__ = [
    "OnRetry",
    "Scopes",
    "add_hook",
    "as_hooks",
    "client_hooks",
    "enter",
    "get_hooks",
    "hooks_for",
    "leave",
    "set_hooks",
    "tell",
]

#: Seconds between two log records about the same failing hook.
_COMPLAIN_EVERY = 60.0

_process: tuple[Hook, ...] = ()
_lock = threading.Lock()
_complained: dict[int, float] = {}  # id(hook) -> when it was last logged

#: The context managers that ``*Started`` events' hooks returned, entered, with their hook.
Scopes = list[tuple[Hook, AbstractContextManager[object]]]


def set_hooks(hooks: Hook | Iterable[Hook] | None) -> None:
    """Replace the process-wide hooks: told of every call of every client, before each
    client's own ``hooks=``. ``None`` or ``[]`` removes them all.

    Raises:
        InvalidRequestError: A hook is not callable.
    """
    global _process
    checked = as_hooks(hooks)
    with _lock:
        _process = checked


def add_hook(hook: Hook) -> None:
    """Add one process-wide hook after those registered already.

    Raises:
        InvalidRequestError: ``hook`` is not callable.
    """
    global _process
    (checked,) = as_hooks([hook])
    with _lock:
        _process = (*_process, checked)


def get_hooks() -> tuple[Hook, ...]:
    """The process-wide hooks, in the order they are told."""
    return _process


def as_hooks(hooks: Hook | Iterable[Hook] | None) -> tuple[Hook, ...]:
    """``hooks=`` normalised: one hook or several (or None), as a tuple of callables."""
    if hooks is None:
        return ()
    found = (hooks,) if callable(hooks) or not isinstance(hooks, Iterable) else tuple(hooks)
    for hook in found:
        if not callable(hook):
            raise InvalidRequestError(
                f"a hook must be a callable taking one event, got {type(hook).__name__}; "
                "pass hooks=my_hook or hooks=[hook, ...]"
            )
    return found


def client_hooks(hooks: Hook | Iterable[Hook] | None, retry: RetryPolicy) -> tuple[Hook, ...]:
    """A client's own hooks: ``hooks=``, then ``RetryPolicy(on_retry=...)`` as a hook."""
    own = as_hooks(hooks)
    return own if retry.on_retry is None else (*own, OnRetry(retry.on_retry))


def hooks_for(own: tuple[Hook, ...]) -> tuple[Hook, ...]:
    """The hooks told of a client's call: the process-wide ones, then the client's."""
    process = _process
    if not process:
        return own
    return (*process, *own) if own else process


@dataclass(frozen=True, slots=True)
class OnRetry:
    """``RetryPolicy(on_retry=f)`` as a hook: ``f`` is told of each :class:`RetryDetails`
    and of nothing else. A thin alias, kept so that existing code keeps working; like any
    hook, what ``f`` raises is logged rather than breaking the call."""

    callback: Callable[[RetryDetails], object]

    def __call__(self, event: Event, /) -> None:
        if isinstance(event, RetryDetails):
            self.callback(event)


def tell(hooks: tuple[Hook, ...], event: Event) -> None:
    """Tell every hook of ``event``; what they return is ignored, what they raise logged."""
    for hook in hooks:
        try:
            returned: object = hook(event)
        except Exception as exc:
            _complain(hook, exc)
            continue
        if returned is not None and inspect.iscoroutine(returned):
            _refuse_coroutine(hook, returned)


def enter(hooks: tuple[Hook, ...], event: Event) -> Scopes:
    """Tell every hook of a ``*Started`` event and enter the context managers they return."""
    scopes: Scopes = []
    for hook in hooks:
        try:
            returned: object = hook(event)
            if returned is None:
                continue
            if inspect.iscoroutine(returned):
                _refuse_coroutine(hook, returned)
                continue
            if not isinstance(returned, AbstractContextManager):
                raise TypeError(f"a hook returned {returned!r}: only None or a context manager")
            returned.__enter__()
        except Exception as exc:
            _complain(hook, exc)
            continue
        scopes.append((hook, returned))
    return scopes


def leave(scopes: Scopes, error: BaseException | None) -> None:
    """Exit what :func:`enter` entered, innermost first, with the error that ended the work."""
    kind = None if error is None else type(error)
    traceback = None if error is None else error.__traceback__
    while scopes:
        hook, scope = scopes.pop()
        try:
            scope.__exit__(kind, error, traceback)
        except Exception as exc:
            _complain(hook, exc)


def _refuse_coroutine(hook: Hook, returned: Coroutine[Any, Any, Any]) -> None:
    """An ``async def`` hook: close its coroutine unawaited (no warning), and say why."""
    returned.close()
    _complain(hook, TypeError("hooks are called synchronously: use a plain def, not async def"))


def _complain(hook: Hook, exc: Exception) -> None:
    """Log a hook's failure with its traceback, at most once a minute per hook."""
    now = time.monotonic()
    key = id(hook)
    if now - _complained.get(key, -_COMPLAIN_EVERY) < _COMPLAIN_EVERY:
        return
    _complained[key] = now
    name = _name_of(hook)
    logger.warning(
        "texin hook %s raised %s; ignored, the call goes on (logged at most once a minute)",
        name,
        type(exc).__name__,
        exc_info=exc,
        extra=fields(hook=name, error_type=type(exc).__name__),
    )


def _name_of(hook: Hook) -> str:
    """The hook's repr, or its class's name when its repr fails too."""
    try:
        return repr(hook)
    except Exception:  # a hook broken twice over must still not break the send
        return f"<{type(hook).__qualname__} object>"
