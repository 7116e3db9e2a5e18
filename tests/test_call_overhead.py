"""The per-call caches of the emulation (batch_lustre/emulation/call_overhead.py) change no call's result."""

from __future__ import annotations

import inspect
from contextlib import ExitStack

import botocore.useragent
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre.emulation import call_overhead
from batch_lustre.emulation.moto_seam import moto_responses_module

ORIGINAL_SANITIZE = botocore.useragent.sanitize_user_agent_string_component


def _names_of(clazz: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(clazz, inspect.isfunction)]


def test_an_action_a_patch_adds_or_removes_is_seen_at_once():
    class Response:
        def describe_things(self) -> None: ...

    with ExitStack() as stack:
        call_overhead.install(stack)
        names = moto_responses_module.method_names_from_class
        assert names(Response) == _names_of(Response)
        Response.create_thing = lambda self: None  # an emulation patch adding an action moto lacks
        assert "create_thing" in names(Response)
        del Response.create_thing
        assert "create_thing" not in names(Response)
        names(Response).append("spoiled")  # a caller changing the list it got changes nothing kept
        assert names(Response) == _names_of(Response)
    assert moto_responses_module.method_names_from_class is not names  # removed with its emulation


@given(st.text(max_size=40), st.booleans())
def test_the_user_agent_sanitiser_gives_botocore_s_own_result(raw, allow_hash):
    with ExitStack() as stack:
        call_overhead.install(stack)
        cached = botocore.useragent.sanitize_user_agent_string_component
        assert cached is not ORIGINAL_SANITIZE
        assert cached(raw, allow_hash) == ORIGINAL_SANITIZE(raw, allow_hash)
