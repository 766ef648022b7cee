"""Exit codes, one-line errors and hints: what a failed command tells the shell and the user.

No typer or rich here, so that a missing ``cli`` extra is still one clear line with its exit
code. Every exit code is decided in :func:`exit_code_for`: from the error's ``maybe_sent``
verdict first (4 whenever the API may have processed the request), then its class.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRequestError,
    JournalError,
    TexinError,
)

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_BATCH_INCOMPLETE",
    "EXIT_CONNECTION",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTCOME_UNKNOWN",
    "EXIT_USAGE",
    "EXIT_CODES_HELP",
    "BadInput",
    "BatchStopped",
    "Interrupted",
    "error_document",
    "exit_code_for",
    "hint_for",
    "one_line",
]

#: Success.
EXIT_OK = 0
#: The API refused the request, nothing was sent (bad key, low balance, bad sender id).
EXIT_API_ERROR = 1
#: Bad usage or input, nothing sent: options, a bad number, an unreadable CSV.
EXIT_USAGE = 2
#: The API could not be reached; nothing was sent, so retrying is safe.
EXIT_CONNECTION = 3
#: The API may have processed it (``maybe_sent``): no answer, a 5xx, no verdict.
EXIT_OUTCOME_UNKNOWN = 4
#: Any other error (another :class:`TexinError`, or the ``cli`` extra missing).
EXIT_ERROR = 5
#: ``texin batch`` did not send every row: some INVALID, FAILED or UNKNOWN, or it stopped.
EXIT_BATCH_INCOMPLETE = 6
#: Interrupted by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = f"""Exit codes:
  {EXIT_OK}    ok (batch: every row sent; dry run: every row would be sent)
  {EXIT_API_ERROR}    the API refused, nothing sent (bad key, low balance, bad sender id)
  {EXIT_USAGE}    bad usage or input, nothing sent (bad number, unreadable CSV)
  {EXIT_CONNECTION}    could not reach the API, nothing sent: safe to retry
  {EXIT_OUTCOME_UNKNOWN}    maybe sent: no answer, a 5xx, no verdict; the SMS may have gone out
  {EXIT_ERROR}    any other error
  {EXIT_BATCH_INCOMPLETE}    batch: some rows invalid, failed or unknown, or it stopped part way
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); a batch with --journal resumes when re-run
"""


class BadInput(InvalidRequestError):
    """The command's input (a CSV, a template, an option) is unusable; nothing was sent."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        #: What to do about it, when the message alone does not say.
        self.hint = hint


class BatchStopped(TexinError):
    """``texin batch`` stopped on an error after sending began: some rows may have gone out."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Interrupted(TexinError):
    """The user pressed Ctrl-C; the message says what was done, the hint how to go on."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


# Errors decided before the verdict: what the command itself did.
_COMMAND_EXITS: tuple[tuple[type[BaseException], int], ...] = (
    (Interrupted, EXIT_INTERRUPTED),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (BatchStopped, EXIT_BATCH_INCOMPLETE),  # rows were sent before it stopped
)
# Errors that surely sent nothing (maybe_sent False), by class: subclasses first.
_NOT_SENT_EXITS: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidRequestError, EXIT_USAGE),  # BadInput too
    (JournalError, EXIT_USAGE),  # raised before sending; after, it is a BatchStopped
    (InsufficientBalanceError, EXIT_API_ERROR),
    (APIConnectionError, EXIT_CONNECTION),
    (APIError, EXIT_API_ERROR),
)
_SENDS = frozenset({"send_sms", "send_bulk_sms"})

# Only advice that can succeed: an unknown send has no message id to look up.
_MAYBE_SENT_HINT = (
    "the SMS may have been sent: check your provider's dashboard before sending it again"
)
_MAYBE_READ_HINT = "the API gave no usable answer; asking again is safe"
_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (APIConnectionError, "nothing was sent; check --base-url and your network, then retry"),
    (AuthenticationError, "check the key in TEXIN_API_KEY or --api-key"),
    (InsufficientBalanceError, "top up your balance, or send fewer rows"),
)


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an error that ended a command: 4 whenever it was
    maybe sent, else by what happened."""
    code = next((code for kind, code in _COMMAND_EXITS if isinstance(error, kind)), None)
    if code is not None:
        return code
    if not isinstance(error, TexinError):
        return EXIT_ERROR
    if error.maybe_sent:
        return EXIT_OUTCOME_UNKNOWN
    return next((code for kind, code in _NOT_SENT_EXITS if isinstance(error, kind)), EXIT_ERROR)


def hint_for(error: BaseException) -> str | None:
    """What to do next, when there is something useful to say."""
    own = getattr(error, "hint", None)
    if isinstance(own, str):
        return own
    if isinstance(error, TexinError) and error.maybe_sent:
        return _MAYBE_SENT_HINT if error.endpoint in _SENDS else _MAYBE_READ_HINT
    return next((hint for kind, hint in _HINTS if isinstance(error, kind)), None)


def _message(error: BaseException, secret: str | None) -> str:
    """The error's text on one line; ``secret`` (the API key) is never shown."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text.replace(secret, "***") if secret else text


def one_line(error: BaseException, *, secret: str | None = None) -> str:
    """The error as one line for stderr: what happened and, when useful, what to do next.

    SDK messages never contain the API key; ``secret`` is masked anyway, as a second lock.
    """
    hint = hint_for(error)
    label = "" if isinstance(error, Interrupted | KeyboardInterrupt) else "error: "
    return f"texin: {label}{_message(error, secret)}" + (f" ({hint})" if hint else "")


def error_document(error: BaseException, *, secret: str | None = None) -> dict[str, Any]:
    """The error as ``--json`` reports it on stderr: one object under ``"error"``."""
    return {
        "error": {
            "type": type(error).__name__,
            "message": _message(error, secret),
            "exit_code": exit_code_for(error),
            "hint": hint_for(error),
        }
    }
