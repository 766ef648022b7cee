"""One-time codes by SMS: ``POST /otp/`` texts a code, ``POST /otp/verify/`` checks it.

Plain Django views: ``SyncTexinClient`` blocks like any database call, with no event loop
in sight. SDK errors become HTTP answers in one table, and ``maybe_sent`` decides what the
user is told: a code that may have gone out is kept valid, and they are asked to wait for
it rather than request another.
"""

from __future__ import annotations

import secrets

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from texin_async import (
    APIConnectionError,
    InvalidRequestError,
    RateLimitError,
    TexinError,
    normalize_recipient,
)

from . import sms

CODE_TTL = 300  # seconds a code stays valid
CODE_TEXT = "Your code is {code}. It expires in 5 minutes."

# SDK error -> (HTTP status, what to tell the user); the first class that matches wins.
ERRORS: list[tuple[type[TexinError], int, str]] = [
    (InvalidRequestError, 400, "check the phone number"),
    (RateLimitError, 429, "too many codes right now: try again in a minute"),
    (APIConnectionError, 503, "the SMS provider is unreachable: nothing was sent, try again"),
]


def error_response(exc: TexinError) -> JsonResponse:
    """The HTTP answer for an SDK error; a maybe-sent code is never re-sent blindly."""
    if exc.maybe_sent:
        hint = "the code may have been sent: wait a minute for it before asking again"
        return JsonResponse({"error": str(exc), "hint": hint}, status=502)
    for cls, status, hint in ERRORS:
        if isinstance(exc, cls):
            return JsonResponse({"error": str(exc), "hint": hint}, status=status)
    return JsonResponse({"error": str(exc), "hint": "nothing was sent: try again"}, status=503)


@require_POST
def send_code(request: HttpRequest) -> JsonResponse:
    """Text a fresh six-digit code to ``phone``."""
    try:
        phone = normalize_recipient(request.POST.get("phone", ""))
        code = f"{secrets.randbelow(10**6):06d}"
        # Stored before sending: if the outcome is unknown, the SMS may still arrive.
        cache.set(f"otp:{phone}", code, CODE_TTL)
        result = sms.client().send_sms(phone, CODE_TEXT.format(code=code))
    except TexinError as exc:
        return error_response(exc)
    return JsonResponse({"sent": True, "message_id": result.message_id})


@require_POST
def verify_code(request: HttpRequest) -> JsonResponse:
    """Check ``code`` against the one sent to ``phone``; a code works once."""
    try:
        phone = normalize_recipient(request.POST.get("phone", ""))
    except InvalidRequestError as exc:
        return error_response(exc)
    expected = cache.get(f"otp:{phone}")
    given = request.POST.get("code", "")
    if expected is None or not secrets.compare_digest(str(expected), given):
        return JsonResponse({"verified": False}, status=400)
    cache.delete(f"otp:{phone}")
    return JsonResponse({"verified": True})
