"""BatchOptions (texin_async._batch._options): the one definition of a batch's options."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from texin_async import TexinClient
from texin_async._batch import BatchOptions


def keywords(method: Callable[..., Any]) -> list[tuple[str, object, object]]:
    """(name, default, annotation) of each keyword-only parameter, in order."""
    return [
        (p.name, p.default, p.annotation)
        for p in inspect.signature(method).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


@pytest.mark.parametrize("method", [TexinClient.send_batch, TexinClient.iter_batch])
def test_batch_methods_take_exactly_the_options(method: Callable[..., Any]) -> None:
    """send_batch and iter_batch spell out BatchOptions' fields: same names, order, defaults
    and types, so neither can drift from the one definition."""
    options = [(f.name, f.default, f.type) for f in dataclasses.fields(BatchOptions) if f.init]
    assert keywords(method) == options


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"max_in_flight": True}, "max_in_flight"),
        ({"chunk_size": 10, "lookahead": 5}, "lookahead"),
        ({"dry_run": True, "check_balance": True}, "dry_run"),
    ],
)
def test_options_that_cannot_work_are_refused_with_the_fix(
    options: dict[str, Any], match: str
) -> None:
    """A bad option fails at once, naming itself."""
    with pytest.raises(ValueError, match=match):
        BatchOptions(**options)
