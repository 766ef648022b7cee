"""The planner (texin_async._batch._plan) as pure logic: the fewest requests a look-ahead allows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from texin_async._batch._plan import Chunk, Item, Planner


class _Account:
    key_id = "k"


ACCOUNT: Any = _Account()


def plan(numbers_and_texts: list[tuple[str, str]], chunk_size: int, window: int) -> list[Chunk]:
    planner = Planner(chunk_size, window)
    chunks = []
    for index, (number, text) in enumerate(numbers_and_texts):
        planner.add(Item(index, index, number, number, text, None, b"", ACCOUNT))
        while planner.size >= planner.window:
            chunks.append(planner.pop())
    while planner.size:
        chunks.append(planner.pop())
    return chunks


def test_planner_beats_first_fit_with_repeats() -> None:
    """a, b, c, c in chunks of 2 needs two requests ([a, c], [b, c]), not three."""
    chunks = plan([("a", "t"), ("b", "t"), ("c", "t"), ("c", "t")], chunk_size=2, window=10)
    assert sorted(sorted(item.normalized for item in c.items) for c in chunks) == [
        ["a", "c"],
        ["b", "c"],
    ]


@given(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.sampled_from("xyz")), max_size=60),
    st.integers(min_value=1, max_value=7),
)
def test_planner_makes_the_fewest_requests_within_its_window(
    items: list[tuple[str, str]], chunk_size: int
) -> None:
    """With the whole input in the window: every item once, distinct numbers per request,
    and per text max(ceil(n / chunk_size), most repeats of one number) requests."""
    chunks = plan(items, chunk_size, window=max(len(items), chunk_size))
    assert sorted(item.index for c in chunks for item in c.items) == list(range(len(items)))
    for chunk in chunks:
        assert len(chunk.items) <= chunk_size
        assert len({item.normalized for item in chunk.items}) == len(chunk.items)
        assert {item.text for item in chunk.items} == {chunk.text}
    fewest = 0
    for text in {t for _, t in items}:
        counts = Counter(n for n, t in items if t == text)
        fewest += max(-(-sum(counts.values()) // chunk_size), max(counts.values()))
    assert len(chunks) == fewest
