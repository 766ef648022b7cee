"""The public surface of texin_async.testing: complete, sorted and presented as public."""

from __future__ import annotations

import types

import texin_async.testing as testing

PUBLIC = {
    "DEFAULT_API_KEY",
    "Account",
    "Fault",
    "FaultEvent",
    "FaultPlan",
    "MessageRecord",
    "TexinEmulator",
    "serve",
    "serve_in_thread",
}


def test_all_lists_exactly_the_public_names() -> None:
    """__all__ is the public API, constants then classes then functions, each sorted."""
    assert set(testing.__all__) == PUBLIC
    ranked = sorted(testing.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n))
    assert testing.__all__ == ranked


def test_public_objects_claim_the_public_module() -> None:
    """Classes and functions show texin_async.testing, not a private module, in reprs."""
    for name in testing.__all__:
        obj = getattr(testing, name)
        if isinstance(obj, type | types.FunctionType):
            assert obj.__module__ == "texin_async.testing", name


def test_the_default_api_key_is_documented_for_users() -> None:
    """DEFAULT_API_KEY is the key the default account and the pytest fixture use."""
    assert testing.DEFAULT_API_KEY == "texin-test-key"
    assert testing.TexinEmulator().account("texin-test-key").balance == 10_000
