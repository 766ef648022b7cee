"""The one route table: every documented endpoint, its path, method and who answers it.

Routing, the 405s, ``GET /api/``'s list of endpoints, the endpoint names that
``requests()`` counts and that faults may be scheduled for: all derive from :data:`ROUTES`,
so adding an endpoint is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._endpoints import Answer, Handler, check_status, get_balance, send_bulk_sms, send_sms
from ._rules import format_time

__all__ = ["POST_ENDPOINTS", "ROUTES", "Route", "answer_get", "route_for"]


@dataclass(frozen=True, slots=True)
class Route:
    """One documented endpoint: where it lives, its name, method and description."""

    path: str
    endpoint: str
    method: str
    description: str
    #: None for the GET endpoints, which need no key and are answered by :func:`answer_get`.
    handler: Handler | None = None


#: In the documentation's order.
ROUTES = (
    Route("/api/", "info", "GET", "Get API information and available endpoints"),
    Route("/api/send_sms", "send_sms", "POST", "Send a single SMS message", send_sms),
    Route(
        "/api/send_bulk_sms",
        "send_bulk_sms",
        "POST",
        "Send SMS messages to multiple recipients",
        send_bulk_sms,
    ),
    Route(
        "/api/check_status",
        "check_status",
        "POST",
        "Check the status of a sent message",
        check_status,
    ),
    Route(
        "/api/get_balance",
        "get_balance",
        "POST",
        "Get your account balance and information",
        get_balance,
    ),
    Route("/api/test_connection", "test_connection", "GET", "Test API connectivity"),
)

#: Endpoint names of the POST endpoints, the only ones faults apply to.
POST_ENDPOINTS = tuple(route.endpoint for route in ROUTES if route.method == "POST")

_BY_PATH = {route.path: route for route in ROUTES}
# GET /api/ lists every endpoint but itself, as "METHOD /path" by name.
_LISTED = {r.endpoint: f"{r.method} {r.path}" for r in ROUTES if r.endpoint != "info"}


def route_for(path: str) -> Route | None:
    """The route at ``path``, or None for a path the API does not have."""
    return _BY_PATH.get(path)


def answer_get(route: Route) -> Answer:
    """``GET /api/`` (``"info"``) or ``GET /api/test_connection``: no key needed."""
    now = format_time(datetime.now())
    if route.endpoint == "test_connection":
        body = {"success": True, "message": "API connection successful", "timestamp": now}
        return Answer(200, body)
    info = {"name": "RAYPROTECH System SMS API", "version": "2.0.1", "endpoints": _LISTED}
    return Answer(200, {"success": True, **info, "timestamp": now})
