"""Exit codes and one-line error reports: no typer or rich here, so that a missing ``cli``
extra is still reported as one clear line with the documented exit code."""

from __future__ import annotations

from .._exceptions import (
    APIConnectionError,
    APIError,
    InvalidRequestError,
    OutcomeUnknownError,
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
    "exit_code_for",
    "one_line",
]

#: Success.
EXIT_OK = 0
#: The API refused the request (:class:`APIError`: bad key, low balance, 4xx/5xx).
EXIT_API_ERROR = 1
#: Bad usage or input, nothing sent: options, a bad number, an unreadable CSV.
EXIT_USAGE = 2
#: The API could not be reached; nothing was sent, so retrying is safe.
EXIT_CONNECTION = 3
#: Sent, but no usable answer came back: the SMS may have gone out.
EXIT_OUTCOME_UNKNOWN = 4
#: Any other error (another :class:`TexinError`, or the ``cli`` extra missing).
EXIT_ERROR = 5
#: ``texin batch`` finished, but not every row was sent (some INVALID, FAILED or UNKNOWN).
EXIT_BATCH_INCOMPLETE = 6
#: Interrupted by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = f"""Exit codes:
  {EXIT_OK}    ok (batch: every row sent)
  {EXIT_API_ERROR}    the API refused (bad key, low balance, gateway error)
  {EXIT_USAGE}    bad usage or input, nothing sent (bad number, unreadable CSV)
  {EXIT_CONNECTION}    could not reach the API, nothing sent: safe to retry
  {EXIT_OUTCOME_UNKNOWN}    sent but no usable answer: the SMS may have gone out
  {EXIT_ERROR}    any other error
  {EXIT_BATCH_INCOMPLETE}    batch finished, but some rows were invalid, failed or unknown
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); a batch with --journal resumes when re-run
"""


class BadInput(InvalidRequestError):
    """The command's input (a CSV, a template, an option) is unusable; nothing was sent."""


# Most specific first: OutcomeUnknownError before TexinError, InvalidRequestError before both.
_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidRequestError, EXIT_USAGE),
    (APIConnectionError, EXIT_CONNECTION),
    (OutcomeUnknownError, EXIT_OUTCOME_UNKNOWN),
    (APIError, EXIT_API_ERROR),
    (TexinError, EXIT_ERROR),
)

_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (
        OutcomeUnknownError,
        "the SMS may have been sent: check `texin status MESSAGE_ID` or your dashboard "
        "before sending it again",
    ),
    (APIConnectionError, "nothing was sent; check --base-url and your network, then retry"),
)


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an error that ended a command."""
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_ERROR


def one_line(error: BaseException) -> str:
    """The error as one line for stderr: what happened and, when useful, what to do next.

    SDK messages never contain the API key, so they are safe to show as they are.
    """
    text = " ".join(str(error).split()) or type(error).__name__
    hint = next((hint for kind, hint in _HINTS if isinstance(error, kind)), None)
    return f"texin: error: {text}" + (f" ({hint})" if hint else "")
