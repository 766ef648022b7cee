"""The route table: routing, 405s, GET /api/'s list and endpoint names all come from it."""

from __future__ import annotations

import httpx
import pytest

from texin_async.testing import Fault, FaultPlan, TexinEmulator
from texin_async.testing._routes import POST_ENDPOINTS, ROUTES, Route

GET_ROUTES = [route for route in ROUTES if route.method == "GET"]
POST_ROUTES = [route for route in ROUTES if route.method == "POST"]


def relative(route: Route) -> str:
    """The route's path relative to the base URL ``.../api/``, as the clients here take it."""
    return route.path.removeprefix("/api/")


def test_the_table_holds_the_documented_endpoints_in_order() -> None:
    """Six endpoints, as the documentation lists them, each with a path under /api/."""
    assert [(r.method, r.path) for r in ROUTES] == [
        ("GET", "/api/"),
        ("POST", "/api/send_sms"),
        ("POST", "/api/send_bulk_sms"),
        ("POST", "/api/check_status"),
        ("POST", "/api/get_balance"),
        ("GET", "/api/test_connection"),
    ]


def test_exactly_the_post_routes_have_handlers() -> None:
    """A POST route names the function that answers it; a GET route has none."""
    assert all(route.handler is not None for route in POST_ROUTES)
    assert all(route.handler is None for route in GET_ROUTES)


def test_a_route_is_a_frozen_value() -> None:
    """Routes cannot be changed in place."""
    with pytest.raises(AttributeError):
        ROUTES[0].path = "/elsewhere"  # type: ignore[misc]


@pytest.mark.parametrize("route", GET_ROUTES, ids=lambda r: r.endpoint)
def test_every_get_route_answers_at_its_path(
    client: httpx.Client, texin_emulator: TexinEmulator, route: Route
) -> None:
    """Each GET route answers 200 and is counted under its endpoint name."""
    assert client.get(relative(route)).status_code == 200
    assert texin_emulator.requests() == {(route.endpoint, 200): 1}


@pytest.mark.parametrize("route", POST_ROUTES, ids=lambda r: r.endpoint)
def test_every_post_route_answers_at_its_path(
    client: httpx.Client, texin_emulator: TexinEmulator, route: Route
) -> None:
    """Each POST route reaches its handler (401 without a key) under its endpoint name."""
    assert client.post(relative(route), json={}).status_code == 401
    assert texin_emulator.requests() == {(route.endpoint, 401): 1}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.endpoint)
def test_the_wrong_method_gets_405_naming_the_routes_method(
    client: httpx.Client, route: Route
) -> None:
    """Every route refuses the other method with 405 and an Allow header from the table."""
    other = "POST" if route.method == "GET" else "GET"
    response = client.request(other, relative(route))
    assert response.status_code == 405
    assert response.headers["allow"] == route.method


def test_info_lists_every_route_but_itself(client: httpx.Client) -> None:
    """GET /api/'s endpoints map names every other route as "METHOD /path", in order."""
    listed = client.get("").json()["endpoints"]
    assert listed == {r.endpoint: f"{r.method} {r.path}" for r in ROUTES if r.path != "/api/"}


def test_post_endpoints_are_the_post_routes() -> None:
    """The endpoint names faults may be scheduled for are the four POST routes'."""
    assert POST_ENDPOINTS == ("send_sms", "send_bulk_sms", "check_status", "get_balance")


@pytest.mark.parametrize("route", POST_ROUTES, ids=lambda r: r.endpoint)
def test_a_fault_can_be_scheduled_for_every_post_route(route: Route) -> None:
    """FaultPlan.schedule accepts each POST route's endpoint name."""
    plan = FaultPlan()
    plan.schedule(Fault.SERVER_ERROR, endpoint=route.endpoint)
    assert plan.draw(route.endpoint) is Fault.SERVER_ERROR


@pytest.mark.parametrize("route", GET_ROUTES, ids=lambda r: r.endpoint)
def test_a_fault_cannot_be_scheduled_for_a_get_route(route: Route) -> None:
    """FaultPlan.schedule refuses a GET route's endpoint name: faults spare GETs."""
    with pytest.raises(ValueError, match="endpoint"):
        FaultPlan().schedule(Fault.SERVER_ERROR, endpoint=route.endpoint)
