"""The faults real networks produce, and the plan that decides which request gets one.

A plan holds scheduled faults (deterministic: "the next 2 sends get DROP_AFTER"), which
tests mostly use, and per-request probabilities drawn from a seeded ``random.Random``, which
soak tests and benchmarks use; the same seed and request order give the same faults.
"""

from __future__ import annotations

import enum
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ._routes import POST_ENDPOINTS

__all__ = ["Fault", "FaultPlan", "parse_fault_rates"]


class Fault(enum.Enum):
    """A failure to inject; the value is its name in ``--faults`` specs.

    "Before" faults answer instead of the API, which never sees the request; "after" faults
    let the API process the request (charge, send, record) and then spoil the answer.
    """

    #: 500 with a JSON error body; not processed.
    SERVER_ERROR = "server_error"
    #: The connection is closed with no response; not processed.
    DROP_BEFORE = "drop_before"
    #: Processed, then the connection is closed with no response.
    DROP_AFTER = "drop_after"
    #: Processed, then the answer comes ``slow_seconds`` late.
    SLOW_AFTER = "slow_after"
    #: nginx's HTML "502 Bad Gateway" page; not processed.
    HTML_502 = "html_502"
    #: Processed, then 200 with the JSON body cut in half.
    TRUNCATED_JSON = "truncated_json"
    #: A forced 429 with ``Retry-After``; not processed.
    RATE_LIMIT = "rate_limit"
    #: Processed, then 500 with a JSON error body: a gateway failure after the SMS went out.
    SERVER_ERROR_AFTER = "server_error_after"
    #: The API gets to it ``slow_seconds`` late (a busy server's queue), then processes and
    #: counts it in the rate window, even if the client has given up by then.
    SLOW_BEFORE = "slow_before"

    @property
    def processes_first(self) -> bool:
        """Whether the API processes the request before this fault spoils the answer."""
        return self in _AFTER


_AFTER = frozenset(
    {
        Fault.DROP_AFTER,
        Fault.SLOW_AFTER,
        Fault.TRUNCATED_JSON,
        Fault.SERVER_ERROR_AFTER,
        Fault.SLOW_BEFORE,
    }
)


@dataclass(slots=True)
class _Scheduled:
    fault: Fault
    remaining: int
    endpoint: str | None


class FaultPlan:
    """Which request gets which fault: scheduled faults first, then seeded random draws.

    Safe to change from another thread while the emulator serves.
    """

    def __init__(self, rates: Mapping[Fault, float] | None = None, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rates: dict[Fault, float] = {}
        self._random = random.Random(seed)
        self._scheduled: list[_Scheduled] = []
        self.set_rates(rates or {})

    def __repr__(self) -> str:
        rates = {fault.value: rate for fault, rate in self._rates.items()}
        return f"FaultPlan(rates={rates!r}, scheduled={len(self._scheduled)})"

    @property
    def rates(self) -> dict[Fault, float]:
        """The probability per POST request of each fault (a copy)."""
        return dict(self._rates)

    def set_rates(self, rates: Mapping[Fault, float], *, seed: int | None = None) -> None:
        """Replace the per-request probabilities; a ``seed`` restarts the random sequence.

        Raises:
            ValueError: a probability outside [0, 1], or probabilities summing above 1.
        """
        checked = {Fault(fault): float(rate) for fault, rate in rates.items()}
        for fault, rate in checked.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"rate of {fault.value} must be in [0, 1], got {rate}")
        if sum(checked.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must sum to at most 1, got {sum(checked.values())}")
        with self._lock:
            self._rates = {fault: rate for fault, rate in checked.items() if rate > 0}
            if seed is not None:
                self._random.seed(seed)

    def schedule(self, fault: Fault, times: int = 1, endpoint: str | None = None) -> None:
        """Give ``fault`` to the next ``times`` requests to ``endpoint`` (None: any POST one).

        Raises:
            ValueError: ``times`` below 1, or an endpoint that is not a POST endpoint.
        """
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        if endpoint is not None and endpoint not in POST_ENDPOINTS:
            raise ValueError(f"endpoint must be None or one of {POST_ENDPOINTS}, got {endpoint!r}")
        with self._lock:
            self._scheduled.append(_Scheduled(Fault(fault), times, endpoint))

    def clear(self) -> None:
        """Drop every scheduled fault and rate."""
        with self._lock:
            self._scheduled.clear()
            self._rates = {}

    def draw(self, endpoint: str) -> Fault | None:
        """The fault for one request to ``endpoint``, or None; consumes a scheduled fault."""
        with self._lock:
            for entry in self._scheduled:
                if entry.endpoint in (None, endpoint):
                    entry.remaining -= 1
                    if not entry.remaining:
                        self._scheduled.remove(entry)
                    return entry.fault
            return self._draw_random()

    def _draw_random(self) -> Fault | None:
        if not self._rates:
            return None
        # One draw per request, whatever the outcome, so a seed replays the same sequence.
        point = self._random.random()
        for fault in Fault:  # Enum order, not dict order: the same seed, the same faults.
            point -= self._rates.get(fault, 0.0)
            if point < 0:
                return fault
        return None


def parse_fault_rates(spec: str) -> dict[Fault, float]:
    """Read ``"drop_after=0.05,html_502=0.02"`` into rates, as ``--faults`` takes them.

    Raises:
        ValueError: an unknown fault name or a rate that is not a number.
    """
    rates: dict[Fault, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, rate = item.partition("=")
        try:
            rates[Fault(name.strip().lower())] = float(rate)
        except ValueError:
            names = ", ".join(fault.value for fault in Fault)
            raise ValueError(
                f"fault spec items must look like 'drop_after=0.05' with a fault among "
                f"{names}; got {item!r}"
            ) from None
    return rates
