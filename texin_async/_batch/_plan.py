"""Coalescing: cut a stream of items into the fewest requests a bounded look-ahead allows.

Items with the same (text, sender id) can share one bulk request, but a request never names a
number twice (the API keys its answer by number), so a number's repeats need requests of
their own. A group of ``n`` items whose most repeated number occurs ``r`` times needs at
least ``max(ceil(n / chunk_size), r)`` requests; taking one item of each of the most repeated
numbers first reaches that bound. The planner holds at most ``window`` items: when it is full
it gives out a full chunk if any group has one, else the oldest group's items.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._units import count_units

if TYPE_CHECKING:
    from .._client import TexinClient
    from ._journal import JournalRow

__all__ = ["Chunk", "Item", "Planner"]


@dataclass(slots=True)
class Item:
    """An item on its way to a request: checked, normalised, its journal fingerprint taken."""

    index: int
    ref: Any
    recipient: Any
    normalized: str
    text: str
    sender_id: str | None
    fp: bytes
    #: The client (a key's view) it goes out with.
    client: TexinClient


@dataclass(slots=True)
class Chunk:
    """One request to make, plus journal rows of local outcomes to commit with it."""

    text: str
    sender_id: str | None
    items: list[Item]
    client: TexinClient
    records: list[JournalRow] = field(default_factory=list)


class _Group:
    """Buffered items sharing (key, text, sender id), by number: a number's repeats wait in
    line."""

    __slots__ = ("by_number", "client", "repeats", "sender_id", "text")

    def __init__(self, client: TexinClient, text: str, sender_id: str | None) -> None:
        self.client, self.text, self.sender_id = client, text, sender_id
        self.by_number: dict[str, list[Item]] = {}
        self.repeats = 0

    def add(self, item: Item) -> None:
        same = self.by_number.get(item.normalized)
        if same is None:
            self.by_number[item.normalized] = [item]
        else:
            same.append(item)
            self.repeats += 1

    def take(self, limit: int) -> list[Item]:
        """Up to ``limit`` items with distinct numbers, most repeated numbers first.

        Taking the most repeated first leaves the fewest requests for what remains: a group
        needs at least ``max(ceil(n / limit), most repeats of one number)`` of them.
        """
        by_number = self.by_number
        if self.repeats:
            numbers = heapq.nlargest(limit, by_number, key=lambda n: len(by_number[n]))
        else:
            numbers = list(itertools.islice(by_number, limit))
        taken = []
        for number in numbers:
            same = by_number[number]
            taken.append(same.pop(0))
            if same:
                self.repeats -= 1
            else:
                del by_number[number]
        return taken


class Planner:
    """Holds up to ``window`` items and cuts them into the fewest requests it can."""

    __slots__ = ("_chunk_size", "_groups", "_ready", "size", "window")

    def __init__(self, chunk_size: int, window: int) -> None:
        self._chunk_size, self.window = chunk_size, window
        self._groups: dict[tuple[str, str, str | None], _Group] = {}
        self._ready: dict[tuple[str, str, str | None], None] = {}  # groups that fill a chunk
        self.size = 0

    def add(self, item: Item) -> None:
        key = (item.client.key_id, item.text, item.sender_id)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(item.client, item.text, item.sender_id)
        group.add(item)
        self.size += 1
        if len(group.by_number) >= self._chunk_size:
            self._ready[key] = None

    def pop(self) -> Chunk:
        """The next request: a full chunk if any group fills one, else the oldest group."""
        key = next(iter(self._ready or self._groups))
        group = self._groups[key]
        items = group.take(self._chunk_size)
        self.size -= len(items)
        if len(group.by_number) < self._chunk_size:
            self._ready.pop(key, None)
        if not group.by_number:
            del self._groups[key]
        return Chunk(group.text, group.sender_id, items, group.client)

    def pending_units(self) -> Counter[TexinClient]:
        """SMS units of every buffered item, by the client (key) it goes out with."""
        units: Counter[TexinClient] = Counter()
        for group in self._groups.values():
            units[group.client] += count_units(group.text) * sum(map(len, group.by_number.values()))
        return units
