"""What every in-process AWS call costs besides its own work, cut without changing what any call does.

Each emulated call goes through botocore (request, user agent, parsing) and moto (routing, serialising). Two of
those steps recompute, on every call, a result that depends only on their arguments:

- moto's ``call_action`` lists the response class's method names (``inspect.getmembers``) to find the action's
  method; the list is kept per class and per set of attributes, so a method an emulation patch adds or removes
  is seen at once;
- botocore's user agent header sanitises the same few strings (SDK, Python, OS versions) twice per request with
  a generator per character; ``sanitize_user_agent_string_component`` is a pure function of its two arguments.

Measured with ``python -m batch_lustre.emulation.call_overhead``: runs of the default scenario with and without.
"""

from __future__ import annotations

import functools
import time
from contextlib import ExitStack

import botocore.useragent

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.moto_seam import moto_responses_module

_FOUND: dict[tuple[object, tuple[tuple[str, ...], ...]], list[str]] = {}  # kept across emulations
_METHOD_NAMES = moto_responses_module.method_names_from_class  # moto's own, captured before any patch


def _method_names_from_class(clazz: object) -> list[str]:
    mro: tuple[type, ...] = getattr(clazz, "__mro__", ())
    key = (clazz, tuple(tuple(vars(k)) for k in mro))
    names = _FOUND.get(key)
    if names is None:
        names = _FOUND[key] = _METHOD_NAMES(clazz)
    return list(names)


_SANITIZE = functools.lru_cache(maxsize=1024)(botocore.useragent.sanitize_user_agent_string_component)


def install(stack: ExitStack) -> None:
    """Both caches, for ``stack``'s duration."""
    moto_seam.patch(stack, moto_responses_module, "method_names_from_class", _method_names_from_class)
    moto_seam.patch(stack, botocore.useragent, "sanitize_user_agent_string_component", _SANITIZE)


def _measure(runs: int = 6) -> None:  # pragma: no cover - a measurement, printed
    from unittest import mock

    from batch_lustre.emulation.catalogue_run import run_scenario

    for mode in ("taskexport", "autoexport"):
        run_scenario("success", mode)  # deployed once: the rest replays
    for label, patched in (("with the caches", True), ("without", False)):
        with mock.patch("batch_lustre.emulation.call_overhead.install", install if patched else lambda stack: None):
            started = time.process_time()
            for _ in range(runs):
                for mode in ("taskexport", "autoexport"):
                    run_scenario("success", mode)
            print(f"{label}: {(time.process_time() - started) / (2 * runs):.3f} s of CPU per run")


if __name__ == "__main__":  # pragma: no cover
    _measure()
